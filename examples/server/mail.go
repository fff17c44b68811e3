package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/gousers/users"
)

// mailFrom is the sender of every mail.
var mailFrom = mail.Address{Name: "users", Address: "no-reply@localhost"}

// mailer is the program's users.Mailer, for development: it delivers nothing. It logs each
// mail; without a directory the log line carries the code, the only way to read it; with one
// the line leaves the code out, and the mail is written to the directory as an RFC 5322
// message in an .eml file of its own, which appears whole or not at all. File names sort in
// the order the mails were sent. A mail with a code also carries the link smtpmail would
// send, built from links. The name a mail shows is the one users.MailName gives: no line
// breaks, no links, at most 64 characters. A mailer is safe for concurrent use.
type mailer struct {
	dir   string // "" for none
	log   *slog.Logger
	now   func() time.Time
	links *url.URL // the base URL of the links; nil for none
}

var _ users.Mailer = (*mailer)(nil)

// newMailer returns a mailer logging to log and writing to dir, which it creates when
// missing, with mode 0700 whatever the umask (an existing directory keeps its mode); dir may
// be "" for none.
func newMailer(dir string, log *slog.Logger) (*mailer, error) {
	if dir != "" {
		if err := mkdirPrivate(dir); err != nil {
			return nil, fmt.Errorf("mail directory: %w", err)
		}
	}
	return &mailer{dir: dir, log: log, now: time.Now}, nil
}

// Send logs m and, given a directory, writes it there. It returns ctx's error when ctx is
// done, or the error of writing the file; neither carries the code.
func (ml *mailer) Send(ctx context.Context, m users.Mail) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The Service has done it already; done again, as smtpmail does, for any other Mail.
	m.Name = users.MailName(m.Name)
	attrs := []slog.Attr{
		slog.String("kind", string(m.Kind)),
		slog.String("to", m.To),
		slog.String("user", m.UserID),
	}
	if ml.dir == "" {
		// Development only: there is nowhere else to read the code from.
		attrs = append(attrs, slog.String("code", m.Code))
		ml.log.LogAttrs(ctx, slog.LevelInfo, "mail", attrs...)
		return nil
	}
	now := ml.now()
	id := randomHex(16)
	msg := message(m, now, "<"+id+"@localhost>", link(ml.links, m))
	// The time first, so that names sort by it; the random part keeps them apart.
	name := now.UTC().Format("20060102T150405.000000000Z") + "-" + id[:16] + ".eml"
	path := filepath.Join(ml.dir, name)
	if err := writeFileAtomic(path, msg); err != nil {
		return err
	}
	ml.log.LogAttrs(ctx, slog.LevelInfo, "mail", append(attrs, slog.String("file", path))...)
	return nil
}

// message returns m as an RFC 5322 message with a text/plain UTF-8 body, sent at now, with
// the link ("" for none).
func message(m users.Mail, now time.Time, messageID, link string) []byte {
	subject, body := content(m, now)
	if link != "" {
		body += "\nOr open this link:\n\n" + link + "\n"
	}
	var b bytes.Buffer
	header := func(name, value string) { b.WriteString(name + ": " + value + "\r\n") }
	header("From", mailFrom.String())
	header("To", (&mail.Address{Name: m.Name, Address: m.To}).String())
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": "utf-8"}))
	header("Content-Transfer-Encoding", "quoted-printable")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b) // writes CRLF line ends
	_, _ = qp.Write([]byte(body))       // a bytes.Buffer does not fail
	_ = qp.Close()
	return b.Bytes()
}

// content returns the subject and the plain-text body of m.
func content(m users.Mail, now time.Time) (subject, body string) {
	greeting := "Hello,"
	if m.Name != "" {
		greeting = "Hello " + m.Name + ","
	}
	switch m.Kind {
	case users.MailPasswordReset:
		return "Reset your password", greeting + "\n\n" +
			"Someone, hopefully you, asked to reset the password of your account\n" +
			m.To + ". Your reset code is:\n\n" +
			m.Code + "\n\n" +
			"It works once, until " + m.Expires.UTC().Format("2006-01-02 15:04 MST") +
			" (" + m.Expires.Sub(now).Round(time.Minute).String() + " from now).\n" +
			"If you did not ask for it, ignore this mail: your password stays\n" +
			"as it is.\n"
	case users.MailVerifyEmail:
		return "Confirm your e-mail address", greeting + "\n\n" +
			"Someone, hopefully you, signed up with the address " + m.To + ".\n" +
			"Your verification code is:\n\n" +
			m.Code + "\n\n" +
			"It works once, until " + m.Expires.UTC().Format("2006-01-02 15:04 MST") + ".\n" +
			"If you did not sign up, ignore this mail.\n"
	case users.MailPasswordChanged:
		return "Your password was changed", greeting + "\n\n" +
			"The password of your account " + m.To + " was just changed.\n" +
			"If you did not change it, reset it at once and tell us.\n"
	case users.MailEmailChanged:
		return "The e-mail address of your account was changed", greeting + "\n\n" +
			"The e-mail address of your account " + m.To + " was just changed to another one.\n" +
			"If you did not change it, someone else knows your password: tell an\n" +
			"administrator at once (a password reset would now go to the new address).\n"
	case users.MailUsernameChanged:
		return "Your username was changed", greeting + "\n\n" +
			"The username of your account " + m.To + " was just changed.\n" +
			"If you did not change it, reset your password at once and tell an administrator.\n"
	case users.MailAPIKeyCreated:
		return "An API key was created for your account", greeting + "\n\n" +
			"An administrator created an API key named " + strconv.Quote(m.KeyName) + " for your account\n" +
			m.To + ". Whoever holds it can act as you until it is revoked. If you did not\n" +
			"expect it, revoke it and tell an administrator.\n"
	case users.MailRegistrationAttempt:
		return "Someone tried to sign up with your address", greeting + "\n\n" +
			"Someone tried to sign up with " + m.To + ", which already has an account.\n" +
			"If it was you, sign in, or reset your password if you forgot it.\n" +
			"Otherwise, ignore this mail: nothing changed.\n"
	default:
		body = greeting + "\n\nThis is a message about your account " + m.To + " (" + string(m.Kind) + ").\n"
		if m.Code != "" {
			body += "Your code is:\n\n" + m.Code + "\n"
		}
		return "About your account", body
	}
}

// writeFileAtomic writes data to a new file at path through a temporary file in the same
// directory, renamed into place once written and synced: a reader sees the whole file or
// none. The file is readable by its owner only: it holds a secret.
func writeFileAtomic(path string, data []byte) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), ".mail-*.tmp")
	if err != nil {
		return fmt.Errorf("write mail: %w", err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("write mail: %w", err)
		}
	}()
	if err := f.Chmod(0o600); err != nil { // what CreateTemp asks for, whatever the umask
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// mkdirPrivate creates the directory dir, and each missing parent, with mode 0700 whatever
// the umask. A directory that exists keeps its mode.
func mkdirPrivate(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return fmt.Errorf("%s is not a directory", dir)
	case err == nil:
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	if parent := filepath.Dir(dir); parent != dir {
		if err := mkdirPrivate(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil // made meanwhile, by someone else: theirs to set
		}
		return err
	}
	return os.Chmod(dir, 0o700)
}

// randomHex returns n random bytes in hexadecimal.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: it crashes the program instead
	return hex.EncodeToString(b)
}
