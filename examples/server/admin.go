package main

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base64"
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

// ensureAdmin gives the database its first administrator through users.EnsureAdmin, when it
// has no active one: an active user with the roles user and admin, whose username and e-mail
// address are USERS_ADMIN_EMAIL (default defaultAdminEmail) and whose password is
// USERS_ADMIN_PASSWORD. Without one it makes up a random password and, when it creates the
// administrator, prints it to stderr, once, outside the log. When an active administrator
// exists it does nothing, and so it does when another process sharing the database creates
// the same administrator first.
//
// It returns the error of users.EnsureAdmin: an ErrInvalid for an address or password the
// Service refuses, an ErrConflict when the address belongs to a user who is not an
// administrator (no one is promoted), or the store's error. No error carries the password.
func ensureAdmin(ctx context.Context, svc users.Service, getenv func(string) string, stderr io.Writer, log *slog.Logger) error {
	email := cmp.Or(strings.TrimSpace(getenv(envAdminEmail)), defaultAdminEmail)
	password := getenv(envAdminPassword)
	generated := password == ""
	if generated {
		password = randomPassword()
	}
	u, created, err := users.EnsureAdmin(ctx, svc, email, password)
	if err != nil {
		return fmt.Errorf("first administrator from %s and %s: %w", envAdminEmail, envAdminPassword, err)
	}
	if !created {
		return nil
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
