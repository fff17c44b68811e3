package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/gousers/users"
)

// The environment of the first start, and its default administrator. The users package wants
// a dot in an address's domain, so the default is not admin@localhost.
const (
	envAdminEmail     = "USERS_ADMIN_EMAIL"
	envAdminPassword  = "USERS_ADMIN_PASSWORD"
	defaultAdminEmail = "admin@localhost.localdomain"
)

// ensureAdmin creates the first administrator when svc has no user at all: an active user
// with the roles user and admin, whose username and e-mail address are USERS_ADMIN_EMAIL
// (default defaultAdminEmail) and whose password is USERS_ADMIN_PASSWORD. Without one it
// makes up a random password and prints it to stderr, once, outside the log. When svc has
// users it does nothing, and so it does when another process sharing the database creates the
// user first.
//
// It returns the error of counting the users or of creating the administrator (an
// ErrInvalid for an address or password the Service refuses); no error carries the password.
func ensureAdmin(ctx context.Context, svc users.Service, getenv func(string) string, stderr io.Writer, log *slog.Logger) error {
	n, err := svc.Count(ctx, users.Query{})
	if err != nil {
		return fmt.Errorf("count users: %w", err)
	}
	if n > 0 {
		return nil
	}
	email := cmp.Or(strings.TrimSpace(getenv(envAdminEmail)), defaultAdminEmail)
	password := getenv(envAdminPassword)
	generated := password == ""
	if generated {
		password = randomPassword()
	}
	u, err := svc.Create(ctx, users.NewUser{
		Username:      email,
		Email:         email,
		Password:      password,
		Name:          "Administrator",
		Scope:         []string{users.RoleUser, users.RoleAdmin},
		Status:        users.StatusActive,
		EmailVerified: true,
	})
	if errors.Is(err, users.ErrConflict) {
		log.Info("first administrator not created: another process created users first", "username", email)
		return nil
	}
	if err != nil {
		return fmt.Errorf("create the first administrator from %s and %s: %w", envAdminEmail, envAdminPassword, err)
	}
	if !generated {
		log.Info("first administrator created", "username", u.Username, "id", u.ID, "password", "from "+envAdminPassword)
		return nil
	}
	log.Info("first administrator created", "username", u.Username, "id", u.ID, "password", "generated, printed once")
	// Printed, not logged: a log may be shipped and kept elsewhere.
	fmt.Fprintf(stderr, "\n"+
		"The first administrator was created:\n"+
		"    username: %s\n"+
		"    password: %s\n"+
		"The password is shown this once and never again: save it now, and change it with\n"+
		"POST /user/change-password. To choose them instead, set %s and %s\n"+
		"before the first start.\n\n",
		u.Username, password, envAdminEmail, envAdminPassword)
	return nil
}

// randomPassword returns 24 characters of unpadded base64url: 144 random bits.
func randomPassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b) // never fails: it crashes the program instead
	return base64.RawURLEncoding.EncodeToString(b)
}
