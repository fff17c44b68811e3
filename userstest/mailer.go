package userstest

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gousers/users"
)

// Mailer is a users.Mailer that delivers nothing and keeps every mail, codes included, for the
// test to read. Addresses match case-insensitively (users.Fold). The zero Mailer is ready for
// use; it is safe for concurrent use, as users.Mailer requires.
//
// The Service sends mail from a goroutine of its own, after the call that caused it has
// returned: read a mail with WaitMail, which waits for it, rather than with Mails or LastCode
// right after the call.
type Mailer struct {
	mu       sync.Mutex
	mails    []users.Mail
	returned []bool        // returned[i]: mails[i] was returned by WaitMail
	arrived  chan struct{} // closed and replaced at each Send; nil until a waiter needs one
}

var _ users.Mailer = (*Mailer)(nil)

// Send keeps m. It never fails and never blocks for long.
func (ml *Mailer) Send(_ context.Context, m users.Mail) error {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	ml.mails = append(ml.mails, m)
	ml.returned = append(ml.returned, false)
	if ml.arrived != nil {
		close(ml.arrived)
		ml.arrived = nil
	}
	return nil
}

// Mails returns every mail sent so far, oldest first. The slice is the caller's own.
func (ml *Mailer) Mails() []users.Mail {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	return slices.Clone(ml.mails)
}

// LastCode returns the code of the newest mail sent so far to the address to that carries one
// (a password-reset or verification code), or "" when there is none yet.
func (ml *Mailer) LastCode(to string) string {
	ml.mu.Lock()
	defer ml.mu.Unlock()
	for i := len(ml.mails) - 1; i >= 0; i-- {
		if m := ml.mails[i]; m.Code != "" && users.Fold(m.To) == users.Fold(to) {
			return m.Code
		}
	}
	return ""
}

// WaitMail returns the oldest mail of the kind sent to the address to that no earlier WaitMail
// returned, waiting for one to be sent until ctx ends (or WaitTimeout passes, when ctx has no
// deadline). Each mail is returned once, so a test that asks for two codes reads two mails:
//
//	_ = svc.ForgotPassword(ctx, "ada@example.com")
//	m, err := mail.WaitMail(ctx, "ada@example.com", users.MailPasswordReset)
//	// m.Code is the reset code
//
// It returns an error wrapping ctx's when none comes in time; the error carries no code.
func (ml *Mailer) WaitMail(ctx context.Context, to string, kind users.MailKind) (users.Mail, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, WaitTimeout)
		defer cancel()
	}
	for {
		ml.mu.Lock()
		for i, m := range ml.mails {
			if !ml.returned[i] && m.Kind == kind && users.Fold(m.To) == users.Fold(to) {
				ml.returned[i] = true
				ml.mu.Unlock()
				return m, nil
			}
		}
		if ml.arrived == nil {
			ml.arrived = make(chan struct{})
		}
		arrived := ml.arrived
		ml.mu.Unlock()

		select {
		case <-arrived:
		case <-ctx.Done():
			return users.Mail{}, fmt.Errorf("userstest: no new %s mail to %s: %w", kind, to, ctx.Err())
		}
	}
}
