package main

import (
	"flag"
	"strings"
	"testing"
	"time"

	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseConfig(t *testing.T) {
	defaults := config{addr: ":8080", db: "users.db", rateLimit: 10, logFormat: "text"}
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
			want: config{addr: "127.0.0.1:0", db: "/tmp/u.db", mailDir: "mail", rateLimit: 0, logFormat: "json"},
		},
		{
			name: "environment over defaults",
			env: map[string]string{
				"USERS_ADDR": ":9090", "USERS_DB": "env.db", "USERS_MAIL_DIR": "envmail",
				"USERS_RATE_LIMIT": "60", "USERS_LOG_FORMAT": "json",
			},
			want: config{addr: ":9090", db: "env.db", mailDir: "envmail", rateLimit: 60, logFormat: "json"},
		},
		{
			name: "flags over environment",
			args: []string{"-addr=:7070", "-db=flag.db", "-rate-limit=0"},
			env:  map[string]string{"USERS_ADDR": ":9090", "USERS_DB": "env.db", "USERS_RATE_LIMIT": "60"},
			want: config{addr: ":7070", db: "flag.db", rateLimit: 0, logFormat: "text"},
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
			name: "largest rate limit",
			args: []string{"-rate-limit", "1000000"},
			want: config{addr: ":8080", db: "users.db", rateLimit: 1_000_000, logFormat: "text"},
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
		{name: "log format variable", env: map[string]string{"USERS_LOG_FORMAT": "XML"}, want: "-log-format must be text or json"},
		{name: "unknown flag", args: []string{"-port", "80"}, want: "-port"},
		{name: "argument", args: []string{"serve"}, want: `unexpected argument "serve"`},
		{name: "empty address", args: []string{"-addr", ""}, want: "-addr must not be empty"},
		{name: "empty database", args: []string{"-db="}, want: "-db must not be empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			_, err := parseConfig(tt.args, env(tt.env), &out)
			var usage *usageError
			require.ErrorAs(t, err, &usage)
			assert.Contains(t, err.Error(), tt.want)
			assert.Empty(t, out.String(), "the caller reports the error, once")
		})
	}
}

func TestParseConfigHelp(t *testing.T) {
	var out strings.Builder
	_, err := parseConfig([]string{"-h"}, env(nil), &out)
	require.ErrorIs(t, err, flag.ErrHelp)
	for _, want := range []string{"-addr", "-db", "-mail-dir", "-rate-limit", "-log-format", "USERS_ADDR", "USERS_DB", "USERS_ADMIN_PASSWORD"} {
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

func TestRunRefusesBadConfigBeforeOpening(t *testing.T) {
	dir := t.TempDir()
	err := run(t.Context(), []string{"-db", dir + "/users.db", "-rate-limit", "-1"}, env(nil), new(testutil.SyncBuffer))
	var usage *usageError
	require.ErrorAs(t, err, &usage)
	assert.NoFileExists(t, dir+"/users.db", "no database is created")
}
