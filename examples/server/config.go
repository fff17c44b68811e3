package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/url"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/smtpmail"
)

// config is the program's configuration, from its flags and environment.
type config struct {
	addr      string // address to listen on
	db        string // path of the SQLite database
	mailDir   string // directory the mails are written to; "" for none
	rateLimit int    // requests a minute per client address to the limited routes; 0: off
	logFormat string // "text" or "json"
	signUp    string // "verify", "open" or "admin": see signUpModes

	smtp         string // host:port of the SMTP server to send mail through; "" for the development mailer
	smtpFrom     string // the sender of the mails sent over SMTP
	smtpInsecure bool   // allow an SMTP server without STARTTLS
	baseURL      string // the app's URL, from which the links in mails are built; "": http://localhost:PORT (see linkBase)
	smtpUsername string // from USERS_SMTP_USERNAME only
	smtpPassword string // from USERS_SMTP_PASSWORD only, never a flag (flags show in ps); a secret: never log it
	corsOrigins  string // comma-separated origins of front ends allowed to call the API; "" for none

	command string // "" to serve, or cmdImport or cmdExport
	file    string // the command's FILE: a path, or "-" for standard input or output
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
	{"signup", "USERS_SIGNUP"},
	{"smtp", "USERS_SMTP"},
	{"smtp-from", "USERS_SMTP_FROM"},
	{"smtp-insecure", "USERS_SMTP_INSECURE"},
	{"base-url", "USERS_BASE_URL"},
	{"cors-origins", "USERS_CORS_ORIGINS"},
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
	fs.StringVar(&c.db, "db", "users.db", "`path` of the SQLite database, created when missing, or a postgres:// URL")
	fs.StringVar(&c.mailDir, "mail-dir", "", "`directory` to write each mail to, as an .eml file")
	fs.IntVar(&c.rateLimit, "rate-limit", defaultRateLimit,
		"requests a minute per client address to sign-in, sign-up and forgot-password; 0: no limit")
	fs.StringVar(&c.logFormat, "log-format", "text", "log `format`: text or json")
	fs.StringVar(&c.signUp, "signup", "verify",
		"who may sign up, and how: `mode` verify (a verification mail; no session until verified), open (a session at once; tells anyone which addresses have accounts) or admin (administrators only)")
	fs.StringVar(&c.smtp, "smtp", "", "send mail through the SMTP server at `host:port` instead of the development mailer")
	fs.StringVar(&c.smtpFrom, "smtp-from", "", "the sender `address` of the mails, required with -smtp")
	fs.BoolVar(&c.smtpInsecure, "smtp-insecure", false, "with -smtp, allow a server that does not offer STARTTLS")
	fs.StringVar(&c.baseURL, "base-url", "",
		"the app's `URL`, from which the links in mails are built (default http://localhost:PORT of -addr); http makes the session cookie insecure, for development")
	fs.StringVar(&c.corsOrigins, "cors-origins", "",
		"comma-separated `origins` of front ends that may call the API from a browser, such as https://app.example.com")
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage:\n"+
			"  server [flags]              serve the users REST API over a SQLite database\n"+
			"  server [flags] import FILE  import users from FILE, in JSON Lines, with their password hashes\n"+
			"  server [flags] export FILE  export every user to FILE, in JSON Lines, with their password hashes\n"+
			"FILE - is standard input or output. Import reports each line not created, then a summary, as\n"+
			"JSON Lines on standard output; it exits with status 3 when it rejected lines.\n\nFlags:\n")
		fs.PrintDefaults()
		fmt.Fprintf(fs.Output(), "\nEach flag takes its default from an environment variable:\n")
		for _, fe := range flagEnv {
			fmt.Fprintf(fs.Output(), "  %-20s -%s\n", fe.env, fe.flag)
		}
		fmt.Fprintf(fs.Output(), "\nOn the first start, USERS_ADMIN_EMAIL and USERS_ADMIN_PASSWORD name the administrator created.\n")
		fmt.Fprintf(fs.Output(), "With -smtp, USERS_SMTP_USERNAME and USERS_SMTP_PASSWORD authenticate to the server.\n")
	}
	// The flag package's own messages are left out: the caller reports the error once.
	fs.SetOutput(io.Discard)
	parse := func(args []string) error {
		err := fs.Parse(args)
		switch {
		case errors.Is(err, flag.ErrHelp):
			fs.SetOutput(out)
			fs.Usage()
			return err
		case err != nil:
			return &usageError{err}
		}
		return nil
	}
	if err := parse(args); err != nil {
		return config{}, err
	}
	if fs.NArg() > 0 {
		switch cmd := fs.Arg(0); cmd {
		case cmdImport, cmdExport:
			// Flags may also follow the command, before FILE.
			if err := parse(fs.Args()[1:]); err != nil {
				return config{}, err
			}
			if fs.NArg() != 1 || fs.Arg(0) == "" {
				return config{}, &usageError{fmt.Errorf("%s takes one FILE, a path or - for the standard streams", cmd)}
			}
			c.command, c.file = cmd, fs.Arg(0)
		default:
			return config{}, &usageError{fmt.Errorf("unexpected argument %q", cmd)}
		}
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
	if _, ok := signUpModes[c.signUp]; !ok {
		return config{}, &usageError{fmt.Errorf("-signup must be verify, open or admin, not %q", c.signUp)}
	}
	if err := c.checkBrowser(); err != nil {
		return config{}, &usageError{err}
	}
	if err := c.parseSMTP(getenv); err != nil {
		return config{}, &usageError{err}
	}
	return c, nil
}

// parseSMTP completes and checks the SMTP settings of c, when -smtp is set: the credentials
// come from the environment, and the base URL defaults to the listen address on localhost.
func (c *config) parseSMTP(getenv func(string) string) error {
	if c.smtp == "" {
		return nil
	}
	c.smtpUsername, c.smtpPassword = getenv("USERS_SMTP_USERNAME"), getenv("USERS_SMTP_PASSWORD")
	if c.baseURL == "" {
		if _, port, err := net.SplitHostPort(c.addr); err == nil {
			c.baseURL = "http://" + net.JoinHostPort("localhost", port)
		}
	}
	if host, _, err := net.SplitHostPort(c.smtp); err != nil || host == "" {
		return fmt.Errorf("-smtp must be host:port, not %q", c.smtp)
	}
	switch {
	case c.mailDir != "":
		return errors.New("-mail-dir and -smtp exclude each other")
	case c.smtpFrom == "":
		return errors.New("-smtp-from is required with -smtp")
	case (c.smtpUsername == "") != (c.smtpPassword == ""):
		return errors.New("USERS_SMTP_USERNAME and USERS_SMTP_PASSWORD go together")
	}
	if _, err := mail.ParseAddress(c.smtpFrom); err != nil {
		return fmt.Errorf("-smtp-from must be an e-mail address, not %q", c.smtpFrom)
	}
	if u, err := url.Parse(c.baseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-base-url must be an absolute http or https URL, not %q", c.baseURL)
	}
	return nil
}

// signUpModes are the values of -signup and the adapter's modes they select.
var signUpModes = map[string]httpadapter.SignUpMode{
	"verify": httpadapter.SignUpVerify,
	"open":   httpadapter.SignUpOpen,
	"admin":  httpadapter.SignUpAdmin,
}

// serviceConfig returns the Service's settings that the flags decide: under -signup verify,
// an address must be verified before its user signs in.
func (c config) serviceConfig(cfg users.Config) users.Config {
	cfg.RequireVerifiedEmail = c.signUp == "verify"
	return cfg
}

// smtpOptions returns the options of the SMTP mailer that -smtp asks for.
func (c config) smtpOptions() smtpmail.Options {
	return smtpmail.Options{
		Addr:          c.smtp,
		From:          c.smtpFrom,
		BaseURL:       c.baseURL,
		Username:      c.smtpUsername,
		Password:      c.smtpPassword,
		AllowInsecure: c.smtpInsecure,
	}
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
