package main

import (
	"net/http"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/stretchr/testify/assert"
)

// TestSignUpModesEndToEnd runs the program with the default -signup verify, and with -signup
// open, and walks what each lets an anonymous caller do.
func TestSignUpModesEndToEnd(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("builds and runs the program as the other end-to-end tests do, which need SIGTERM")
	}
	dir := t.TempDir()
	bin := buildServer(t, dir)
	const (
		adaEmail = "ada@example.com"
		password = "correct horse battery staple"
		attacker = "analytical engine 1843"
		reset    = "chosen after recovery"
	)

	t.Run("verify, the default: no session until the address is verified", func(t *testing.T) {
		mailDir := filepath.Join(dir, "verify-mail")
		p := startProcess(t, bin, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "verify.db"), "-mail-dir", mailDir, "-rate-limit", "0"},
			map[string]string{envAdminPassword: "the administrator's pass phrase"})
		c := newClient(t, p.addr)
		resp := c.expect(http.StatusAccepted, "POST", "/user", "", map[string]string{"username": adaEmail, "password": password}, nil)
		assert.JSONEq(t, `{}`, string(resp.body), "no session")
		again := c.expect(http.StatusAccepted, "POST", "/user", "", map[string]string{"username": adaEmail, "password": attacker}, nil)
		assert.Equal(t, resp.body, again.body, "a taken address answers alike")
		c.expect(http.StatusForbidden, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password}, nil)

		code := waitMailCode(t, mailDir, adaEmail, "Confirm your e-mail address")
		c.expect(http.StatusOK, "POST", "/user/verify", "", map[string]string{"code": code}, nil)
		var s session
		c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": password}, &s)
		c.expect(http.StatusOK, "GET", "/user", s.Token, nil, nil)
		c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": attacker}, nil)
		p.terminate(t)
	})

	// Under open sign-up anyone may take an address first. Once its owner recovers the
	// account through the mailed reset, the taker keeps nothing: no session, no key.
	t.Run("open: a pre-registered address is lost to its owner's recovery", func(t *testing.T) {
		mailDir := filepath.Join(dir, "open-mail")
		p := startProcess(t, bin, []string{"-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "open.db"), "-mail-dir", mailDir, "-rate-limit", "0", "-signup", "open"},
			map[string]string{envAdminPassword: "the administrator's pass phrase"})
		c := newClient(t, p.addr)
		var taker session
		c.expect(http.StatusCreated, "POST", "/user", "", map[string]string{"username": adaEmail, "password": attacker}, &taker)
		var key struct{ Key string }
		c.expect(http.StatusCreated, "POST", "/user/keys", taker.Token, map[string]string{"name": "kept"}, &key)
		c.expect(http.StatusOK, "GET", "/user", key.Key, nil, nil)

		c.expect(http.StatusOK, "POST", "/user/forgot-password", "", map[string]string{"email": adaEmail}, nil)
		code := waitResetCode(t, mailDir, adaEmail)
		c.expect(http.StatusOK, "POST", "/user/forgot-password/reset", "", map[string]string{"code": code, "password": reset}, nil)

		c.expect(http.StatusUnauthorized, "GET", "/user", taker.Token, nil, nil)
		c.expect(http.StatusUnauthorized, "GET", "/user", key.Key, nil, nil)
		c.expect(http.StatusUnauthorized, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": attacker}, nil)
		var owner session
		c.expect(http.StatusOK, "POST", "/user/auth", "", map[string]string{"username": adaEmail, "password": reset}, &owner)
		var keys []any
		c.expect(http.StatusOK, "GET", "/user/keys", owner.Token, nil, &keys)
		assert.Empty(t, keys, "the taker's key is gone")
		p.terminate(t)
	})
}
