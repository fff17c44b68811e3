package userstest_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/gousers/users/userstest"
)

// In a test, userstest.NewService(t, opts...) builds the Service and closes it at the end. An
// app whose own constructor calls users.New takes Config instead, as here: a forgotten password
// is reset with the code read from the Mailer, and the Clock makes the next code expire.
func ExampleConfig() {
	ctx := context.Background()
	clock := userstest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	mail := new(userstest.Mailer)
	svc, err := users.New(memory.New(), userstest.Config(userstest.WithClock(clock), userstest.WithMailer(mail)))
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()

	_, err = svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}

	// The mail is sent in the background: wait for it, with a deadline.
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	_ = svc.ForgotPassword(ctx, "ada@example.com")
	m, err := mail.WaitMail(wctx, "ada@example.com", users.MailPasswordReset)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Kind, "mail expires", m.Expires.Format(time.Kitchen))
	fmt.Println("reset:", svc.ResetPassword(ctx, m.Code, "another long pass phrase"))

	_ = svc.ForgotPassword(ctx, "ada@example.com")
	if _, err := mail.WaitMail(wctx, "ada@example.com", users.MailPasswordReset); err != nil {
		log.Fatal(err)
	}
	clock.Advance(users.DefaultResetCodeTTL)
	err = svc.ResetPassword(ctx, mail.LastCode("ada@example.com"), "a third long pass phrase")
	fmt.Println("an hour later:", errors.Is(err, users.ErrInvalid))
	// Output:
	// password-reset mail expires 10:00AM
	// reset: <nil>
	// an hour later: true
}

// A deletion runs in the background; WaitTicket waits for it to end.
func ExampleWaitTicket() {
	ctx := context.Background()
	svc, err := users.New(memory.New(), userstest.Config())
	if err != nil {
		log.Fatal(err)
	}
	defer svc.Close()
	u, err := svc.Create(ctx, users.NewUser{Username: "ada@example.com", Password: "correct horse battery staple"})
	if err != nil {
		log.Fatal(err)
	}

	t, err := svc.Delete(ctx, u.ID)
	if err != nil {
		log.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	t, err = userstest.WaitTicket(wctx, svc, t.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(t.Status, t.StepsDone, "of", t.StepsTotal())
	// Output:
	// completed 3 of 3
}

// The Clock stands still until the test moves it.
func ExampleClock() {
	c := userstest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	fmt.Println(c.Now().Format(time.DateTime))
	fmt.Println(c.Advance(90 * time.Minute).Format(time.DateTime))
	c.Set(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC))
	fmt.Println(c.Now().Format(time.DateTime))
	// Output:
	// 2026-03-01 09:00:00
	// 2026-03-01 10:30:00
	// 2027-01-01 00:00:00
}
