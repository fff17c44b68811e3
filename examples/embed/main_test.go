package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users"
)

// cheapHashing makes the program hash passwords with tiny argon2id parameters for the rest
// of the test: the defaults cost tens of milliseconds a hash, on purpose.
func cheapHashing(t *testing.T) {
	saved := argon2Params
	argon2Params = users.TestArgon2()
	t.Cleanup(func() { argon2Params = saved })
}

// TestRun runs the program and checks every line it prints.
func TestRun(t *testing.T) {
	cheapHashing(t)

	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	var out strings.Builder
	if err := run(ctx, &out); err != nil {
		t.Fatalf("run: %v\noutput so far:\n%s", err, out.String())
	}

	want := ` 1. created ada@example.com (active, roles: user)
 2. the app saved 2 notes for ada@example.com
 3. signed in on the laptop: token issued (43 characters), valid for 30 days
 4. signed in on the phone: token issued (43 characters)
 5. authenticated the laptop's token: it belongs to ada@example.com
 6. changed the password from the laptop, keeping its session
    the laptop's token: still valid
    the phone's token: revoked
    the old password: refused (wrong username or password)
 7. an administrator set a new password
    the laptop's token: revoked
 8. forgot password for nobody@example.com: the same answer as for a known address
 9. forgot password for ada@example.com
    mail sent to ada@example.com
10. reset the password with the mailed code
    the same code again: refused (code: is invalid or has expired)
    signed in with the new password: token issued (43 characters)
11. deletion started: ticket in-progress, 4 steps (revoke-credentials, remove-image, delete-notes, remove-user)
    the new session's token: revoked
    deletion completed: 4 of 4 steps done
    the user is gone, and the app holds 0 notes for them
`
	got := out.String()
	if got != want {
		gotLines, wantLines := strings.Split(got, "\n"), strings.Split(want, "\n")
		for i := range max(len(gotLines), len(wantLines)) {
			var g, w string
			if i < len(gotLines) {
				g = gotLines[i]
			}
			if i < len(wantLines) {
				w = wantLines[i]
			}
			if g != w {
				t.Errorf("line %d:\n got: %q\nwant: %q", i+1, g, w)
			}
		}
	}
}

// TestRunPrintsNoSecrets checks that no password, token or code reaches the output.
func TestRunPrintsNoSecrets(t *testing.T) {
	cheapHashing(t)

	var out strings.Builder
	if err := run(t.Context(), &out); err != nil {
		t.Fatalf("run: %v", err)
	}
	for _, secret := range []string{password1, password2, password3, password4} {
		if strings.Contains(out.String(), secret) {
			t.Errorf("the output contains the password %q", secret)
		}
	}
	// Tokens and codes are 43 characters of unpadded base64url.
	if secret := regexp.MustCompile(`[A-Za-z0-9_-]{43}`).FindString(out.String()); secret != "" {
		t.Errorf("the output contains what looks like a token or code: %q", secret)
	}
}
