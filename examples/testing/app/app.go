// Package app is a small application built on users, here to show how an app's own test suite
// runs against the in-memory store with package userstest (see app_test.go): no database, no
// mail server (a userstest.Mailer keeps the mails), a userstest.Clock the tests move, and
// cheap password hashing.
//
// The app keeps short notes for its users. Every call on Notes carries the caller's bearer
// token, which the app hands to users.Service.Authenticate; the notes are those of the user
// the token belongs to. When a user is deleted, the app's deletion step "delete-notes"
// removes their notes.
package app

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/gousers/users"
)

// DeletionStepName is the name under which the app registers its deletion step. It is
// recorded in deletion tickets, so it must not change.
const DeletionStepName = "delete-notes"

// ErrEmptyNote is returned by Notes.Add for a note with no text.
var ErrEmptyNote = errors.New("app: a note needs some text")

// App is the application: the user service and the notes kept for its users.
type App struct {
	Users users.Service
	Notes *Notes
}

// New builds the app on store: it registers the notes' deletion step after cfg's own steps
// and starts a users.Service with cfg. Call Close when done. It returns the error of
// users.New.
func New(store users.Store, cfg users.Config) (*App, error) {
	notes := &Notes{byUser: make(map[string][]string)}
	cfg.DeletionSteps = append(slices.Clip(cfg.DeletionSteps), users.DeletionStep{
		Name: DeletionStepName,
		Run:  notes.deleteAll,
	})
	svc, err := users.New(store, cfg)
	if err != nil {
		return nil, err
	}
	notes.users = svc
	return &App{Users: svc, Notes: notes}, nil
}

// Close stops the user service's deletion worker.
func (a *App) Close() error { return a.Users.Close() }

// Notes keeps the notes of each user. It is safe for concurrent use.
type Notes struct {
	users users.Service

	mu     sync.Mutex
	byUser map[string][]string // notes by user ID, oldest first
}

// Add saves a note for the user the token belongs to. It returns users.ErrUnauthorized when
// the token is not a live session or API key of an active user, and ErrEmptyNote for a note
// of blank text.
func (n *Notes) Add(ctx context.Context, token, text string) error {
	p, err := n.users.Authenticate(ctx, token)
	if err != nil {
		return err
	}
	text = strings.TrimSpace(text)
	if text == "" {
		return ErrEmptyNote
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.byUser[p.User.ID] = append(n.byUser[p.User.ID], text)
	return nil
}

// List returns the notes of the user the token belongs to, oldest first. It returns
// users.ErrUnauthorized as Add does.
func (n *Notes) List(ctx context.Context, token string) ([]string, error) {
	p, err := n.users.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.byUser[p.User.ID]), nil
}

// Count returns how many notes the user with this ID has, without asking who is calling: it
// is for operators and tests.
func (n *Notes) Count(userID string) int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.byUser[userID])
}

// deleteAll removes every note of the user. It is the app's deletion step, so it is
// idempotent: removing the notes of a user who has none does nothing.
func (n *Notes) deleteAll(ctx context.Context, userID string) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	delete(n.byUser, userID)
	return nil
}
