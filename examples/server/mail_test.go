package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A reset code as the Service makes them: 43 characters of unpadded base64url.
const testCode = "Zm9vYmFyLWJhei1xdXV4LWNvZGUtZm9yLXRlc3RzLTE"

func resetMail() users.Mail {
	return users.Mail{
		Kind:    users.MailPasswordReset,
		To:      "ada@example.com",
		UserID:  "0192f0e0-0000-7000-8000-000000000001",
		Name:    "Ada Lovelace",
		Code:    testCode,
		Expires: time.Date(2026, 3, 14, 10, 26, 0, 0, time.UTC),
	}
}

// fixedNow is the time the tests' mailers send at.
func fixedNow() time.Time { return time.Date(2026, 3, 14, 9, 26, 0, 0, time.UTC) }

// emlFiles returns the names of the .eml files in dir, sorted.
func emlFiles(t testing.TB, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "*.eml"))
	require.NoError(t, err)
	slices.Sort(names)
	return names
}

// parsedMail is a mail file read back.
type parsedMail struct {
	header mail.Header
	body   string // decoded
}

// readEML parses the mail file at path and decodes its body.
func readEML(t testing.TB, path string) parsedMail {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	msg, err := mail.ReadMessage(f)
	require.NoError(t, err)
	require.Equal(t, "quoted-printable", msg.Header.Get("Content-Transfer-Encoding"))
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	require.NoError(t, err)
	return parsedMail{header: msg.Header, body: string(body)}
}

func TestMailerWritesEML(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "mail") // created by newMailer
	var log testutil.SyncBuffer
	m, err := newMailer(dir, slog.New(slog.NewTextHandler(&log, nil)))
	require.NoError(t, err)
	m.now = fixedNow

	require.NoError(t, m.Send(t.Context(), resetMail()))

	files := emlFiles(t, dir)
	require.Len(t, files, 1)
	all, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, all, 1, "no temporary file is left behind")
	info, err := os.Stat(files[0])
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the mail holds a secret: owner only")
	raw, err := os.ReadFile(files[0])
	require.NoError(t, err)
	assert.Contains(t, string(raw), "\r\n\r\n", "RFC 5322 lines end in CRLF")

	got := readEML(t, files[0])
	from, err := got.header.AddressList("From")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "users", Address: "no-reply@localhost"}}, from)
	to, err := got.header.AddressList("To")
	require.NoError(t, err)
	assert.Equal(t, []*mail.Address{{Name: "Ada Lovelace", Address: "ada@example.com"}}, to)
	assert.Equal(t, "Reset your password", got.header.Get("Subject"))
	date, err := got.header.Date()
	require.NoError(t, err)
	assert.True(t, date.Equal(fixedNow()), "Date: %v", date)
	assert.Regexp(t, `^<[0-9a-f]{32}@localhost>$`, got.header.Get("Message-ID"))
	assert.Equal(t, "1.0", got.header.Get("MIME-Version"))
	mediaType, params, err := mime.ParseMediaType(got.header.Get("Content-Type"))
	require.NoError(t, err)
	assert.Equal(t, "text/plain", mediaType)
	assert.Equal(t, map[string]string{"charset": "utf-8"}, params)

	assert.Contains(t, got.body, "Hello Ada Lovelace,")
	assert.Contains(t, got.body, "\r\n"+testCode+"\r\n", "the code, on a line of its own")
	assert.Contains(t, got.body, "2026-03-14 10:26 UTC (1h0m0s from now)")

	assert.NotContains(t, log.String(), testCode, "with a mail directory the log leaves the code out")
	assert.Contains(t, log.String(), "msg=mail kind=password-reset to=ada@example.com")
	assert.Contains(t, log.String(), "file="+files[0])
}

func TestMailerLogsCodeWithoutDirectory(t *testing.T) {
	var log testutil.SyncBuffer
	m, err := newMailer("", slog.New(slog.NewTextHandler(&log, nil)))
	require.NoError(t, err)

	require.NoError(t, m.Send(t.Context(), resetMail()))

	assert.Contains(t, log.String(), "msg=mail kind=password-reset to=ada@example.com")
	assert.Contains(t, log.String(), "code="+testCode, "in development the log is the only way to read the code")
}

func TestMailerEncodesHeaders(t *testing.T) {
	tests := []struct {
		name, given, want string
	}{
		{"quotes and accents", `Zoë "Ada"`, `Zoë "Ada"`},
		{"header injection", "Zoë \"Ada\"\r\nBcc: eve@example.com", ""},
		{"line breaks", "Zoë\r\n\r\nClaim your prize", "Zoë Claim your prize"},
		{"a link", "Zoë, see https://evil.example/claim", ""},
		{"cut to 64 characters", strings.Repeat("Zoë Lovelace ", 10), strings.TrimSpace(string([]rune(strings.Repeat("Zoë Lovelace ", 10))[:64]))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			m, err := newMailer(dir, slog.New(slog.DiscardHandler))
			require.NoError(t, err)
			mm := resetMail()
			mm.Name = tt.given

			require.NoError(t, m.Send(t.Context(), mm))

			files := emlFiles(t, dir)
			require.Len(t, files, 1)
			got := readEML(t, files[0])
			assert.Empty(t, got.header.Get("Bcc"), "a name cannot add a header")
			to, err := got.header.AddressList("To")
			require.NoError(t, err)
			assert.Equal(t, []*mail.Address{{Name: tt.want, Address: "ada@example.com"}}, to)
			greeting, _, _ := strings.Cut(got.body, "\r\n")
			if tt.want == "" {
				assert.Equal(t, "Hello,", greeting)
			} else {
				assert.Equal(t, "Hello "+tt.want+",", greeting)
			}
			assert.NotContains(t, got.body, "evil")
			assert.NotContains(t, got.body, "Bcc")
		})
	}
}

func TestMailerWithoutName(t *testing.T) {
	dir := t.TempDir()
	m, err := newMailer(dir, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	mm := resetMail()
	mm.Name = ""

	require.NoError(t, m.Send(t.Context(), mm))

	got := readEML(t, emlFiles(t, dir)[0])
	assert.Equal(t, "<ada@example.com>", got.header.Get("To"))
	assert.True(t, strings.HasPrefix(got.body, "Hello,\r\n"), "body: %q", got.body)
}

func TestMailerFilesAreUniqueAndOrdered(t *testing.T) {
	dir := t.TempDir()
	m, err := newMailer(dir, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	m.now = fixedNow // every mail at the same instant: the names must still differ

	const n = 20
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			mm := resetMail()
			mm.Code = fmt.Sprintf("code-%02d", i)
			assert.NoError(t, m.Send(t.Context(), mm))
		})
	}
	wg.Wait()
	assert.Len(t, emlFiles(t, dir), n)

	// Later mails sort after earlier ones.
	dir2 := t.TempDir()
	m2, err := newMailer(dir2, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	now := fixedNow()
	m2.now = func() time.Time { return now }
	for i := range 3 {
		mm := resetMail()
		mm.Code = fmt.Sprintf("code-%d", i)
		require.NoError(t, m2.Send(t.Context(), mm))
		now = now.Add(time.Millisecond)
	}
	files := emlFiles(t, dir2)
	require.Len(t, files, 3)
	for i, f := range files {
		assert.Contains(t, readEML(t, f).body, fmt.Sprintf("code-%d", i))
	}
}

func TestMailerGivesUpWhenContextEnds(t *testing.T) {
	dir := t.TempDir()
	m, err := newMailer(dir, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()

	err = m.Send(ctx, resetMail())
	require.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, emlFiles(t, dir))
}

func TestMailerWriteErrorHasNoCode(t *testing.T) {
	dir := t.TempDir()
	m, err := newMailer(dir, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	require.NoError(t, os.Remove(dir)) // the directory disappears

	err = m.Send(t.Context(), resetMail())
	require.Error(t, err)
	assert.NotContains(t, err.Error(), testCode)
}
