package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/gousers/users/httpadapter"
)

// config is the program's configuration, from its flags and environment.
type config struct {
	addr      string // address to listen on
	db        string // path of the SQLite database
	mailDir   string // directory the mails are written to; "" for none
	rateLimit int    // requests a minute per client address to the limited routes; 0: off
	logFormat string // "text" or "json"
}

// Bounds of -rate-limit, and the largest burst it allows.
const (
	defaultRateLimit = 10
	maxRateLimit     = 1_000_000
	maxBurst         = 5
)

// flagEnv names the environment variable that gives each flag its default.
var flagEnv = []struct{ flag, env string }{
	{"addr", "USERS_ADDR"},
	{"db", "USERS_DB"},
	{"mail-dir", "USERS_MAIL_DIR"},
	{"rate-limit", "USERS_RATE_LIMIT"},
	{"log-format", "USERS_LOG_FORMAT"},
}

// usageError is a bad flag, argument or environment variable.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// parseConfig reads the configuration from args (without the program name) and the
// environment variables of flagEnv, read through getenv: a flag on the command line wins over
// its variable, and a variable over the built-in default. For -h it prints the usage to out
// and returns flag.ErrHelp; anything it cannot use is a *usageError.
func parseConfig(args []string, getenv func(string) string, out io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("server", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", ":8080", "`address` to listen on; port 0 picks a free one")
	fs.StringVar(&c.db, "db", "users.db", "`path` of the SQLite database, created when missing")
	fs.StringVar(&c.mailDir, "mail-dir", "", "`directory` to write each mail to, as an .eml file")
	fs.IntVar(&c.rateLimit, "rate-limit", defaultRateLimit,
		"requests a minute per client address to sign-in, sign-up and forgot-password; 0: no limit")
	fs.StringVar(&c.logFormat, "log-format", "text", "log `format`: text or json")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: server [flags]\n\nServes the users REST API over a SQLite database.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEach flag takes its default from an environment variable:\n")
		for _, fe := range flagEnv {
			fmt.Fprintf(fs.Output(), "  %-18s -%s\n", fe.env, fe.flag)
		}
		fmt.Fprintf(fs.Output(), "\nOn the first start, USERS_ADMIN_EMAIL and USERS_ADMIN_PASSWORD name the administrator created.\n")
	}
	// The flag package's own messages are left out: the caller reports the error once.
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(out)
			fs.Usage()
			return config{}, err
		}
		return config{}, &usageError{err}
	}
	if fs.NArg() > 0 {
		return config{}, &usageError{fmt.Errorf("unexpected argument %q", fs.Arg(0))}
	}

	given := make(map[string]bool)
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	for _, fe := range flagEnv {
		if v := getenv(fe.env); v != "" && !given[fe.flag] {
			if err := fs.Set(fe.flag, v); err != nil {
				return config{}, &usageError{fmt.Errorf("%s=%q: %w", fe.env, v, err)}
			}
		}
	}

	switch {
	case c.addr == "":
		return config{}, &usageError{errors.New("-addr must not be empty")}
	case c.db == "":
		return config{}, &usageError{errors.New("-db must not be empty")}
	case c.rateLimit < 0 || c.rateLimit > maxRateLimit:
		return config{}, &usageError{fmt.Errorf("-rate-limit must be from 0 to %d, not %d", maxRateLimit, c.rateLimit)}
	case c.logFormat != "text" && c.logFormat != "json":
		return config{}, &usageError{fmt.Errorf("-log-format must be text or json, not %q", c.logFormat)}
	}
	return c, nil
}

// rateLimits returns the adapter's rate limits for c.rateLimit requests a minute: a client
// may send up to maxBurst requests at once (fewer when the limit is lower), then one every
// minute/rateLimit. Zero turns the limits off.
func (c config) rateLimits() httpadapter.RateLimits {
	if c.rateLimit == 0 {
		off := httpadapter.RateLimit{Burst: -1}
		return httpadapter.RateLimits{SignIn: off, Create: off, ForgotPassword: off}
	}
	l := httpadapter.RateLimit{
		Burst: min(c.rateLimit, maxBurst),
		Every: time.Minute / time.Duration(c.rateLimit),
	}
	return httpadapter.RateLimits{SignIn: l, Create: l, ForgotPassword: l}
}
