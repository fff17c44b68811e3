package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/smtpmail"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	defaults := config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify"}
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config
	}{
		{name: "defaults", want: defaults},
		{
			name: "flags",
			args: []string{"-addr", "127.0.0.1:0", "-db", "/tmp/u.db", "-mail-dir", "mail", "-rate-limit", "0", "-log-format", "json"},
			want: config{addr: "127.0.0.1:0", db: "/tmp/u.db", mailDir: "mail", rateLimit: 0, logFormat: "json", signUp: "verify"},
		},
		{
			name: "environment over defaults",
			env: map[string]string{
				"USERS_ADDR": ":9090", "USERS_DB": "env.db", "USERS_MAIL_DIR": "envmail",
				"USERS_RATE_LIMIT": "60", "USERS_LOG_FORMAT": "json",
			},
			want: config{addr: ":9090", db: "env.db", mailDir: "envmail", rateLimit: 60, logFormat: "json", signUp: "verify"},
		},
		{
			name: "flags over environment",
			args: []string{"-addr=:7070", "-db=flag.db", "-rate-limit=0"},
			env:  map[string]string{"USERS_ADDR": ":9090", "USERS_DB": "env.db", "USERS_RATE_LIMIT": "60"},
			want: config{addr: ":7070", db: "flag.db", rateLimit: 0, logFormat: "text", signUp: "verify"},
		},
		{
			name: "a flag set to its default still wins",
			args: []string{"-addr", ":8080"},
			env:  map[string]string{"USERS_ADDR": ":9090"},
			want: defaults,
		},
		{
			name: "empty variables are unset",
			env:  map[string]string{"USERS_ADDR": "", "USERS_RATE_LIMIT": ""},
			want: defaults,
		},
		{
			name: "SMTP from flags",
			args: []string{"-addr", "127.0.0.1:9000", "-smtp", "smtp.example.com:587", "-smtp-from", "Example <no-reply@example.com>"},
			want: config{addr: "127.0.0.1:9000", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify",
				smtp: "smtp.example.com:587", smtpFrom: "Example <no-reply@example.com>", baseURL: "http://localhost:9000"},
		},
		{
			name: "SMTP from the environment, with credentials",
			env: map[string]string{
				"USERS_SMTP": "smtp.example.com:587", "USERS_SMTP_FROM": "no-reply@example.com",
				"USERS_SMTP_INSECURE": "true", "USERS_BASE_URL": "https://app.example.com/users",
				"USERS_SMTP_USERNAME": "mailer", "USERS_SMTP_PASSWORD": "smtp secret",
			},
			want: config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify",
				smtp: "smtp.example.com:587", smtpFrom: "no-reply@example.com", smtpInsecure: true,
				baseURL: "https://app.example.com/users", smtpUsername: "mailer", smtpPassword: "smtp secret"},
		},
		{
			name: "SMTP flags over environment",
			args: []string{"-smtp", "localhost:2525", "-smtp-insecure=false", "-base-url", "http://127.0.0.1:8080"},
			env: map[string]string{
				"USERS_SMTP": "smtp.example.com:587", "USERS_SMTP_FROM": "no-reply@example.com",
				"USERS_SMTP_INSECURE": "1", "USERS_BASE_URL": "https://app.example.com",
			},
			want: config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify",
				smtp: "localhost:2525", smtpFrom: "no-reply@example.com", baseURL: "http://127.0.0.1:8080"},
		},
		{
			name: "SMTP settings without -smtp are kept but unused",
			args: []string{"-smtp-from", "not checked"},
			env:  map[string]string{"USERS_SMTP_USERNAME": "mailer", "USERS_SMTP_PASSWORD": "smtp secret"},
			want: config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "verify", smtpFrom: "not checked"},
		},
		{
			name: "open sign-up",
			args: []string{"-signup", "open"},
			want: config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "open"},
		},
		{
			name: "sign-up by administrators, from the environment",
			env:  map[string]string{"USERS_SIGNUP": "admin"},
			want: config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text", signUp: "admin"},
		},
		{
			name: "largest rate limit",
			args: []string{"-rate-limit", "1000000"},
			want: config{addr: ":8080", db: "users.db", rateLimit: 1_000_000, logFormat: "text", signUp: "verify"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseConfig(tt.args, env(tt.env), new(strings.Builder))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseConfigRefuses(t *testing.T) {
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string // in the error
	}{
		{name: "negative rate limit", args: []string{"-rate-limit", "-1"}, want: "-rate-limit must be from 0"},
		{name: "huge rate limit", args: []string{"-rate-limit", "1000001"}, want: "-rate-limit must be from 0"},
		{name: "rate limit not a number", args: []string{"-rate-limit", "ten"}, want: "rate-limit"},
		{name: "rate limit variable not a number", env: map[string]string{"USERS_RATE_LIMIT": "ten"}, want: "USERS_RATE_LIMIT"},
		{name: "negative rate limit variable", env: map[string]string{"USERS_RATE_LIMIT": "-5"}, want: "-rate-limit must be from 0"},
		{name: "log format", args: []string{"-log-format", "xml"}, want: "-log-format must be text or json"},
		{name: "sign-up mode", args: []string{"-signup", "anyone"}, want: "-signup must be verify, open or admin"},
		{name: "log format variable", env: map[string]string{"USERS_LOG_FORMAT": "XML"}, want: "-log-format must be text or json"},
		{name: "unknown flag", args: []string{"-port", "80"}, want: "-port"},
		{name: "argument", args: []string{"serve"}, want: `unexpected argument "serve"`},
		{name: "empty address", args: []string{"-addr", ""}, want: "-addr must not be empty"},
		{name: "empty database", args: []string{"-db="}, want: "-db must not be empty"},
		{name: "SMTP without a port", args: []string{"-smtp", "smtp.example.com", "-smtp-from", "a@example.com"}, want: "-smtp must be host:port"},
		{name: "SMTP without a sender", args: []string{"-smtp", "smtp.example.com:587"}, want: "-smtp-from is required with -smtp"},
		{name: "SMTP sender not an address", args: []string{"-smtp", "smtp.example.com:587", "-smtp-from", "no-reply"}, want: "-smtp-from must be an e-mail address"},
		{name: "SMTP and a mail directory", args: []string{"-smtp", "smtp.example.com:587", "-smtp-from", "a@example.com", "-mail-dir", "mail"}, want: "exclude each other"},
		{name: "relative base URL", args: []string{"-smtp", "smtp.example.com:587", "-smtp-from", "a@example.com", "-base-url", "/app"}, want: "-base-url must be an absolute http or https URL"},
		{name: "base URL of another scheme", env: map[string]string{"USERS_SMTP": "smtp.example.com:587", "USERS_SMTP_FROM": "a@example.com", "USERS_BASE_URL": "ftp://example.com"}, want: "-base-url must be an absolute"},
		{name: "SMTP password without a username", args: []string{"-smtp", "smtp.example.com:587", "-smtp-from", "a@example.com"}, env: map[string]string{"USERS_SMTP_PASSWORD": "smtp secret"}, want: "go together"},
		{name: "SMTP insecure not a bool", env: map[string]string{"USERS_SMTP_INSECURE": "sure"}, want: "USERS_SMTP_INSECURE"},
		{name: "no password flag", args: []string{"-smtp-password", "smtp secret"}, want: "-smtp-password"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			_, err := parseConfig(tt.args, env(tt.env), &out)
			var usage *usageError
			require.ErrorAs(t, err, &usage)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "smtp secret")
			assert.Empty(t, out.String(), "the caller reports the error, once")
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, env(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"-addr", "-db", "-mail-dir", "-rate-limit", "-log-format", "USERS_ADDR", "USERS_DB", "USERS_ADMIN_PASSWORD",
		"-smtp", "-smtp-from", "-smtp-insecure", "-base-url", "USERS_SMTP", "USERS_SMTP_FROM", "USERS_SMTP_INSECURE",
		"USERS_BASE_URL", "USERS_SMTP_USERNAME", "USERS_SMTP_PASSWORD"} {
		assert.Contains(t, out.String(), want)
	}
}

func TestRateLimits(t *testing.T) {
	off := httpadapter.RateLimit{Burst: -1}
	tests := []struct {
		perMinute int
		want      httpadapter.RateLimit
	}{
		{0, off},
		{1, httpadapter.RateLimit{Burst: 1, Every: time.Minute}},
		{3, httpadapter.RateLimit{Burst: 3, Every: 20 * time.Second}},
		{10, httpadapter.RateLimit{Burst: 5, Every: 6 * time.Second}},
		{1_000_000, httpadapter.RateLimit{Burst: 5, Every: 60 * time.Microsecond}},
	}
	for _, tt := range tests {
		got := config{rateLimit: tt.perMinute}.rateLimits()
		want := httpadapter.RateLimits{SignIn: tt.want, Create: tt.want, ForgotPassword: tt.want}
		assert.Equal(t, want, got, "%d a minute", tt.perMinute)
	}
}

func TestSMTPOptions(t *testing.T) {
	c, err := parseConfig([]string{"-smtp", "smtp.example.com:587", "-smtp-from", "no-reply@example.com", "-smtp-insecure"},
		env(map[string]string{"USERS_SMTP_USERNAME": "mailer", "USERS_SMTP_PASSWORD": "smtp secret"}), new(strings.Builder))
	require.NoError(t, err)
	want := smtpmail.Options{
		Addr: "smtp.example.com:587", From: "no-reply@example.com", BaseURL: "http://localhost:8080",
		Username: "mailer", Password: "smtp secret", AllowInsecure: true,
	}
	assert.Equal(t, want, c.smtpOptions())
	_, err = smtpmail.New(c.smtpOptions())
	assert.NoError(t, err)
}

func TestRunRefusesBadConfigBeforeOpening(t *testing.T) {
	for _, args := range [][]string{
		{"-rate-limit", "-1"},
		{"-smtp", "127.0.0.1:25", "-smtp-from", "a@example.com", "-base-url", "https://example.com/?a=b"}, // refused by smtpmail.New
	} {
		dir := t.TempDir()
		err := run(t.Context(), append([]string{"-db", dir + "/users.db"}, args...), env(nil), new(testutil.SyncBuffer))
		var usage *usageError
		require.ErrorAs(t, err, &usage, "%q", args)
		assert.NoFileExists(t, dir+"/users.db", "no database is created")
	}
}
