// Command embed shows the users library embedded in a Go program, on the in-memory store.
//
// It walks one account through its whole life and prints each step: create the user, sign
// in, authenticate the bearer token, change the password (keeping the current session), have
// an administrator set a new one, forget it and reset it with the code mailed, then delete the
// user and poll the deletion ticket until it is completed. The app registers one deletion step
// of its own, "delete-notes", which removes the notes it keeps for the user.
//
// Run it with:
//
//	go run ./examples/embed
//
// The output is the same on every run: no IDs, tokens or codes are printed. The program exits
// with status 1 and a message on standard error if any step goes wrong.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
)

// argon2Params are the password-hashing parameters the program uses: the library's defaults.
// The test sets cheaper ones to run faster.
var argon2Params = users.DefaultArgon2()

// timeout bounds the whole run, including the wait for the mail and for the deletion.
const timeout = 30 * time.Second

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "embed:", err)
		os.Exit(1)
	}
}

// The account the program works on.
const (
	username    = "ada@example.com"
	password1   = "correct horse battery staple"
	password2   = "analytical engine 1843"
	password3   = "set by an administrator"
	password4   = "chosen after forgetting"
	unknownMail = "nobody@example.com"
)

// run walks an account through its life on a fresh in-memory store, printing each step to w.
func run(ctx context.Context, w io.Writer) error {
	notes := newNoteBook()
	mailer := &consoleMailer{w: w, codes: make(chan string, 1)}
	svc, err := users.New(memory.New(), users.Config{
		Argon2: argon2Params,
		Mailer: mailer,
		// The app's own step: users runs it after revoking the user's credentials and
		// before removing the user record.
		DeletionSteps: []users.DeletionStep{{Name: "delete-notes", Run: notes.deleteAll}},
	})
	if err != nil {
		return fmt.Errorf("new service: %w", err)
	}
	defer svc.Close() // stops the deletion worker and waits for mail being sent

	step := 0
	say := func(format string, args ...any) {
		step++
		fmt.Fprintf(w, "%2d. %s\n", step, fmt.Sprintf(format, args...))
	}
	detail := func(format string, args ...any) {
		fmt.Fprintf(w, "    %s\n", fmt.Sprintf(format, args...))
	}

	// Create the user, and give them some data in the app.
	u, err := svc.Create(ctx, users.NewUser{Username: username, Name: "Ada Lovelace", Password: password1})
	if err != nil {
		return fmt.Errorf("create: %w", err)
	}
	say("created %s (%s, roles: %s)", u.Username, u.Status, strings.Join(u.Scope, ", "))
	notes.add(u.ID, "notes on the analytical engine", "letter to Babbage")
	say("the app saved %d notes for %s", notes.count(u.ID), u.Username)

	// Sign in twice, as from two devices.
	laptop, err := svc.SignIn(ctx, username, password1)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	say("signed in on the laptop: token issued (%d characters), valid for %d days",
		len(laptop.Token), int(math.Round(time.Until(laptop.Expires).Hours()/24)))
	phone, err := svc.SignIn(ctx, username, password1)
	if err != nil {
		return fmt.Errorf("sign in: %w", err)
	}
	say("signed in on the phone: token issued (%d characters)", len(phone.Token))

	// Authenticate a request carrying the laptop's token.
	who, err := svc.Authenticate(ctx, laptop.Token)
	if err != nil {
		return fmt.Errorf("authenticate: %w", err)
	}
	say("authenticated the laptop's token: it belongs to %s", who.User.Username)

	// Change the password from the laptop: the laptop stays signed in, the phone does not.
	err = svc.ChangePassword(ctx, users.PasswordChange{
		UserID: u.ID, OldPassword: password1, NewPassword: password2, KeepToken: laptop.Token,
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	say("changed the password from the laptop, keeping its session")
	if err := expectSession(ctx, svc, detail, "the laptop's token", laptop.Token, true); err != nil {
		return err
	}
	if err := expectSession(ctx, svc, detail, "the phone's token", phone.Token, false); err != nil {
		return err
	}
	_, err = svc.SignIn(ctx, username, password1)
	if !errors.Is(err, users.ErrUnauthorized) {
		return fmt.Errorf("sign in with the old password: got %v, want ErrUnauthorized", err)
	}
	detail("the old password: refused (%v)", err)

	// An administrator sets a new password: every session is revoked.
	if err := svc.SetPassword(ctx, u.ID, password3); err != nil {
		return fmt.Errorf("set password: %w", err)
	}
	say("an administrator set a new password")
	if err := expectSession(ctx, svc, detail, "the laptop's token", laptop.Token, false); err != nil {
		return err
	}

	// Forgot password: the code goes by mail, and only there.
	if err := svc.ForgotPassword(ctx, unknownMail); err != nil {
		return fmt.Errorf("forgot password for an unknown address: %w", err)
	}
	say("forgot password for %s: the same answer as for a known address", unknownMail)
	say("forgot password for %s", username)
	if err := svc.ForgotPassword(ctx, username); err != nil {
		return fmt.Errorf("forgot password: %w", err)
	}
	var code string
	select {
	case code = <-mailer.codes: // the user follows the link in the mail
	case <-ctx.Done():
		return fmt.Errorf("waiting for the reset mail: %w", ctx.Err())
	}
	if err := svc.ResetPassword(ctx, code, password4); err != nil {
		return fmt.Errorf("reset password: %w", err)
	}
	say("reset the password with the mailed code")
	err = svc.ResetPassword(ctx, code, password4)
	if !errors.Is(err, users.ErrInvalid) {
		return fmt.Errorf("reset password with a used code: got %v, want ErrInvalid", err)
	}
	detail("the same code again: refused (%v)", err)
	again, err := svc.SignIn(ctx, username, password4)
	if err != nil {
		return fmt.Errorf("sign in with the new password: %w", err)
	}
	detail("signed in with the new password: token issued (%d characters)", len(again.Token))

	// Delete the user and wait for the deletion ticket to complete.
	t, err := svc.Delete(ctx, u.ID)
	if err != nil {
		return fmt.Errorf("delete: %w", err)
	}
	say("deletion started: ticket %s, %d steps (%s)", t.Status, t.StepsTotal(), strings.Join(t.Steps, ", "))
	// From here on the user can neither sign in nor authenticate, whichever step the worker
	// has reached.
	if err := expectSession(ctx, svc, detail, "the new session's token", again.Token, false); err != nil {
		return err
	}
	t, err = waitForTicket(ctx, svc, t.ID, 10*time.Second)
	if err != nil {
		return err
	}
	detail("deletion %s: %d of %d steps done", t.Status, t.StepsDone, t.StepsTotal())
	if _, err := svc.Get(ctx, u.ID); !errors.Is(err, users.ErrNotFound) {
		return fmt.Errorf("get the deleted user: got %v, want ErrNotFound", err)
	}
	detail("the user is gone, and the app holds %d notes for them", notes.count(u.ID))
	return nil
}

// expectSession checks that a token is, or is no longer, a live session, and says so.
func expectSession(ctx context.Context, svc users.Service, detail func(string, ...any), what, token string, live bool) error {
	_, err := svc.Authenticate(ctx, token)
	switch {
	case live && err == nil:
		detail("%s: still valid", what)
	case !live && errors.Is(err, users.ErrUnauthorized):
		detail("%s: revoked", what)
	case live:
		return fmt.Errorf("authenticate %s: %w", what, err)
	default:
		return fmt.Errorf("authenticate %s: got %v, want ErrUnauthorized", what, err)
	}
	return nil
}

// waitForTicket polls a deletion ticket until it is done or timeout passes. It returns the
// completed ticket, or an error when the deletion failed, was cancelled or took too long.
func waitForTicket(ctx context.Context, svc users.Service, id string, timeout time.Duration) (*users.Ticket, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		t, err := svc.Ticket(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("poll the deletion ticket: %w", err)
		}
		switch t.Status {
		case users.TicketCompleted:
			return t, nil
		case users.TicketFailed:
			return nil, fmt.Errorf("deletion failed at step %q: %s", t.FailedStep, t.Message)
		case users.TicketCancelled:
			return nil, errors.New("deletion was cancelled")
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil, fmt.Errorf("deletion still %s after %v (%d of %d steps done)", t.Status, timeout, t.StepsDone, t.StepsTotal())
		}
	}
}

// consoleMailer stands in for an e-mail service. It prints whom a mail went to, never the
// code, and hands the code over on codes, as the user would by following the link in the
// mail. The Service calls Send from its own goroutine; the program prints nothing while it
// waits on codes, so the lines come out in order.
type consoleMailer struct {
	w     io.Writer
	codes chan string
}

// Send prints the recipient of a reset mail and passes the code on. Notices, such as "your
// password was changed", are sent at moments of the Service's choosing: they are dropped, so
// that the lines come out in order.
func (m *consoleMailer) Send(ctx context.Context, mail users.Mail) error {
	if mail.Kind != users.MailPasswordReset {
		return nil
	}
	fmt.Fprintf(m.w, "    mail sent to %s\n", mail.To)
	select {
	case m.codes <- mail.Code:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// noteBook is the app's own data: notes kept per user ID. It is safe for concurrent use, as
// the deletion worker calls deleteAll from its own goroutine.
type noteBook struct {
	mu    sync.Mutex
	notes map[string][]string
}

func newNoteBook() *noteBook { return &noteBook{notes: make(map[string][]string)} }

func (b *noteBook) add(userID string, notes ...string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.notes[userID] = append(b.notes[userID], notes...)
}

func (b *noteBook) count(userID string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.notes[userID])
}

// deleteAll is the "delete-notes" deletion step. Like every step it is idempotent: deleting
// the notes of a user who has none does nothing.
func (b *noteBook) deleteAll(ctx context.Context, userID string) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.notes, userID)
	return nil
}
