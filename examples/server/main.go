// Command server runs the users REST API (package httpadapter) over a SQLite database (package
// sqlite) or a PostgreSQL one (package postgres): the library's parts wired into one program.
//
// Run it from a clone of the repository with:
//
//	go run ./examples/server
//
// It serves every route of httpadapter at the root (see that package's documentation; the
// OpenAPI document is at GET /openapi.json) and GET /healthz, which answers 200
// {"status":"ok"} while the database answers and 503 {"status":"unavailable"} when it does
// not. By default it listens on :8080 and keeps its users in users.db, in the working
// directory. For example:
//
//	USERS_ADMIN_EMAIL=root@example.com USERS_ADMIN_PASSWORD='a long pass phrase' \
//		go run ./examples/server -mail-dir mail &
//	curl -si localhost:8080/user -H 'Content-Type: application/json' \
//		-d '{"username":"ada@example.com","password":"correct horse battery staple"}'
//	# 202: the verification code is in the newest file of ./mail
//	curl -si localhost:8080/user/verify -H 'Content-Type: application/json' -d '{"code":"CODE"}'
//	curl -si localhost:8080/user/auth -H 'Content-Type: application/json' \
//		-d '{"username":"root@example.com","password":"a long pass phrase"}'
//	curl -si 'localhost:8080/users?filter=username:ada@example.com' -H 'Authorization: Bearer TOKEN'
//
// # Flags and environment
//
// Every flag takes its default from an environment variable; a flag given on the command line
// wins over the variable, and the variable over the built-in default.
//
//	-addr ADDR          USERS_ADDR        address to listen on (default ":8080"); a port of 0,
//	                                      as in 127.0.0.1:0, picks a free one
//	-db PATH            USERS_DB          the SQLite database file, created when missing
//	                                      (default "users.db"), or a postgres:// or
//	                                      postgresql:// URL: the PostgreSQL server whose
//	                                      schema "users" keeps the users, created when missing
//	-mail-dir DIR       USERS_MAIL_DIR    write each mail as an .eml file in DIR (default: none)
//	-rate-limit N       USERS_RATE_LIMIT  requests a minute per client address to sign-in,
//	                                      sign-up and forgot-password (default 10, in bursts of up
//	                                      to 5); 0 turns the limits off, for load tests
//	-log-format FORMAT  USERS_LOG_FORMAT  "text" (the default) or "json"; the log goes to
//	                                      standard error
//	-signup MODE        USERS_SIGNUP      who may sign up through POST /user, and how:
//	                                      "verify" (the default: a verification mail, no
//	                                      session until the address is verified), "open"
//	                                      (Appmixer's: a session at once; it tells anyone
//	                                      which addresses have accounts) or "admin"
//	                                      (administrators only)
//	-smtp HOST:PORT     USERS_SMTP        send mail through this SMTP server (see Mail)
//	-smtp-from ADDRESS  USERS_SMTP_FROM   the sender of the mails; required with -smtp
//	-smtp-insecure      USERS_SMTP_INSECURE
//	                                      with -smtp, allow a server without STARTTLS
//	-base-url URL       USERS_BASE_URL    the app's URL, from which the links in mails are
//	                                      built (default http://localhost:PORT, the port of
//	                                      -addr); an http URL makes the session cookie
//	                                      insecure, for development
//	-cors-origins URLS  USERS_CORS_ORIGINS
//	                                      comma-separated origins of front ends that may call
//	                                      the API from a browser, with the session cookie
//	                                      (default: none)
//
// The rate limits are kept by the connection's address: behind a reverse proxy every client
// shares the proxy's. An app in that position sets httpadapter.Options.ClientIPHeader.
//
// # Security log
//
// Every event of the Service (users.Event) is logged as one line with the message "security
// event": sign-ins, failed (a warning) or throttled (a warning) and successful, sign-outs,
// passwords changed, forgotten and reset, e-mail addresses and usernames changed, API keys
// created and revoked, users created, registered, verified, approved, updated and deleted,
// with the user's ID, the administrator who acted for someone else ("actor") and the
// client's address and User-Agent. No line carries a password, hash, token, key or code.
// For example, in the text format:
//
//	level=WARN msg="security event" event=user.sign-in-failed at=2025-03-14T09:26:53Z user=0199… username=ada@example.com client.addr=127.0.0.1 client.userAgent=curl/8.5.0
//
// # Browsers
//
// Beside the API the server serves the HTML pages the mails link to, GET and POST
// /reset-password and /verify, and sign-in and sign-out pages, /sign-in and /sign-out (see
// httpadapter.Pages). Opening a link uses no code; the page's form does. Sign-in, through the
// page or POST /user/auth, also sets the session in an HttpOnly, SameSite=Lax cookie, which the
// API accepts as a bearer token; unsafe requests with the cookie from another origin are
// refused (403). The cookie is Secure unless -base-url is an http URL (the default,
// http://localhost:PORT, is). For example, open the link of a reset mail written to -mail-dir,
// choose a password, then sign in at http://localhost:8080/sign-in.
//
// # The first administrator
//
// On its first start, when the database has no active administrator, the server creates one
// (an active user with the roles "user" and "admin", through users.EnsureAdmin) whose username
// and e-mail address are USERS_ADMIN_EMAIL (default admin@localhost.localdomain) and whose
// password is USERS_ADMIN_PASSWORD. Without USERS_ADMIN_PASSWORD it makes up a random password
// and prints it on standard error, outside the log, once: it is never shown again, so save it
// and change it (POST /user/change-password). Later starts leave the users as they are, so
// unset the variables once the administrator exists. When the address belongs to a user who
// is not an administrator, the server refuses to start rather than promote them.
//
// # Mail
//
// Without -smtp, the password-reset codes of POST /user/forgot-password are not sent anywhere:
// the program's mailer is then for development. It logs each mail, and with -mail-dir it also writes
// it to DIR as an RFC 5322 message (a file of its own, named by the time it was sent, so
// the newest sorts last) where a person or a test can read the code and the link, built from
// -base-url as smtpmail builds it. Without -mail-dir the
// log line carries the code, as the only way to read it; with -mail-dir it does not. Nothing
// else the server logs carries a password, hash, token or code.
//
// With -smtp the server delivers the mails instead, through that SMTP server (package
// smtpmail), from the -smtp-from address, with links built from -base-url, never from a
// request. STARTTLS is required unless -smtp-insecure is given; the credentials, when the
// server wants them, come from USERS_SMTP_USERNAME and USERS_SMTP_PASSWORD only (a flag would
// show the password to anyone who lists the processes). -mail-dir and -smtp exclude each
// other. For example, with a local test server (Debian's python3-aiosmtpd):
//
//	/usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:8025 &
//	go run ./examples/server -smtp 127.0.0.1:8025 -smtp-insecure -smtp-from no-reply@example.com
//
// # Stopping
//
// On SIGINT or SIGTERM the server stops accepting connections, finishes the requests in flight
// (for up to 20 seconds), stops the deletion worker (a deletion in progress goes on at the next
// start: its ticket is kept in the database) and closes the database. A second signal ends
// the process at once.
//
// # Import and export
//
// Two commands move users, with their password hashes, in and out of the database of -db,
// instead of serving:
//
//	go run ./examples/server -db users.db export users.jsonl
//	go run ./examples/server -db new.db import users.jsonl
//
// FILE "-" is standard output (export) or standard input (import). The format is JSON Lines,
// one user per line: the user's JSON, as the API shows it, and "passwordHash" (see
// users.MarshalRecord). A hash is kept as it is: argon2id, or bcrypt ($2a$, $2b$, $2y$) from
// another system, which the first successful sign-in replaces with argon2id. IDs, times and
// statuses are kept; version starts again at 1. For example:
//
//	{"id":"u1","username":"ada@example.com","scope":["user"],"status":"active","emailVerified":true,"created":"2024-05-01T09:30:00Z","passwordHash":"$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"}
//
// Export writes every user in ID order, into a file that replaces FILE once it is complete
// and that only its owner may read: it holds every hash. Users changed while it runs may be
// written as they were before or after the change.
//
// Import reads the lines in batches of 1,000, each stored in one transaction, and never stops
// at a bad line. On standard output it writes, as JSON Lines, one report for each line it did
// not create, in order, and then a summary:
//
//	{"line":2,"status":"rejected","field":"email","error":"must be an e-mail address"}
//	{"line":5,"status":"skipped","id":"u4","field":"username","error":"the username is taken"}
//	{"status":"done","read":5,"created":3,"skipped":1,"rejected":1,"seconds":0.02}
//
// A line is skipped when its user's ID, username or e-mail address is taken, by a user of the
// database or an earlier line, and rejected when it is not a user record (bad JSON, an
// unknown field, a value of the wrong type) or its user is invalid (the "field" says where;
// a hash must be argon2id or bcrypt). Blank lines are ignored; line numbers count them. The
// progress, every second, and the totals go to the log on standard error. When reading the
// file or the database fails, or a signal comes, the import stops; the summary then has
// "status":"failed" and the "error", and counts only the lines stored or refused (a batch
// that failed is stored not at all). Running the same file again is safe: the users already
// created are skipped.
//
// # Exit status
//
// The exit status is 0 after a clean stop or a clean import or export, 2 for a bad flag,
// argument or environment variable, 3 when an import went through the whole file but
// rejected lines (the others were imported; skipped lines alone leave it 0), and 1 for any
// other failure, described on standard error.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/smtpmail"
)

// argon2Params are the password-hashing parameters of the Service: the library's defaults.
// The in-process tests set cheaper ones.
var argon2Params = users.DefaultArgon2()

// Limits of the HTTP server.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 30 * time.Second // sign-ins may queue for a hashing slot under load
	idleTimeout       = 2 * time.Minute
	maxHeaderBytes    = 64 << 10
	shutdownTimeout   = 20 * time.Second // for the requests in flight when a signal comes
	healthTimeout     = 2 * time.Second  // for the database look-up of GET /healthz
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // from now on a second signal ends the process at once
	}()
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	var usage *usageError
	var rejected *rejectedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.As(err, &usage):
		fmt.Fprintf(os.Stderr, "server: %v\nRun 'server -h' for the flags.\n", err)
		os.Exit(2)
	case errors.As(err, &rejected):
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(3)
	default:
		fmt.Fprintln(os.Stderr, "server:", err)
		os.Exit(1)
	}
}

// run is the program: it reads the configuration from args (without the program name) and
// getenv, logs to stderr, and serves until ctx is done, then shuts down cleanly and returns
// nil, as it does when ctx ends while it is starting. It returns a *usageError for a bad flag
// or variable, flag.ErrHelp after printing the usage for -h, and any other error when the
// server cannot start or stop cleanly. The commands import and export run instead of the
// server when args name them, on the process's standard input and output (see runIO).
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	return runIO(ctx, args, getenv, os.Stdin, os.Stdout, stderr)
}

// runIO is run with the standard input and output of the commands given: import reads stdin
// for the FILE "-" and writes its report to stdout, and export writes stdout for "-". It
// returns a *rejectedError when an import rejected lines.
func runIO(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	cfg, err := parseConfig(args, getenv, stderr)
	if err != nil {
		return err
	}
	if cfg.command != "" {
		return runCommand(ctx, cfg, stdin, stdout, stderr)
	}
	var mailer users.Mailer
	if cfg.smtp != "" {
		m, err := smtpmail.New(cfg.smtpOptions()) // does not connect
		if err != nil {
			return &usageError{err}
		}
		mailer = m
	}
	log := newLogger(cfg.logFormat, stderr)
	defer func() {
		if err != nil && ctx.Err() != nil && errors.Is(err, ctx.Err()) {
			err = nil // a signal while starting: a clean stop all the same
		}
		if err == nil {
			log.Info("stopped")
		}
	}()

	store, shown, err := openStore(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }() // after the Service is closed
	log.Info("database open", "path", shown)

	if mailer != nil {
		log.Info("mail over SMTP", "server", cfg.smtp, "from", cfg.smtpFrom, "base_url", cfg.baseURL,
			"starttls_required", !cfg.smtpInsecure, "auth", cfg.smtpUsername != "")
	} else {
		dev, err := newMailer(cfg.mailDir, log)
		if err != nil {
			return err
		}
		dev.links = cfg.linkBase()
		if cfg.mailDir == "" {
			log.Warn("no mail directory: mails are logged with their codes, fit only for development")
		}
		mailer = dev
	}
	svc, err := users.New(store, cfg.serviceConfig(users.Config{Logger: log, Mailer: mailer, Argon2: argon2Params, OnEvent: securityLog(log)}))
	if err != nil {
		return err
	}
	// Close stops the deletion worker and waits for mail being sent; unfinished tickets stay
	// in the store, and the next start resumes them.
	defer func() { err = errors.Join(err, svc.Close()) }()

	if err := ensureAdmin(ctx, svc, getenv, stderr, log); err != nil {
		return err
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	return serve(ctx, ln, newHandler(svc, cfg, log), log)
}

// newHandler returns the server's routes: GET /healthz, and every route of the adapter.
func newHandler(svc users.Service, cfg config, log *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", httpadapter.New(svc, cfg.browserOptions(httpadapter.Options{RateLimits: cfg.rateLimits(), Logger: log, SignUp: signUpModes[cfg.signUp]})))
	mountPages(mux, svc, cfg, log)
	mux.Handle("GET /healthz", healthz(svc, log))
	return mux
}

// healthProbeID is the ID that GET /healthz looks up: no user has it (the Service makes
// version 7 UUIDs), so the look-up is one cheap read of the primary key that reaches the
// database and answers ErrNotFound while the database works.
const healthProbeID = "00000000-0000-0000-0000-000000000000"

// healthz answers GET /healthz: 200 {"status":"ok"} when the database answers, 503
// {"status":"unavailable"} when it does not, within healthTimeout.
func healthz(svc users.Service, log *slog.Logger) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), healthTimeout)
		defer cancel()
		status, code := "ok", http.StatusOK
		if _, err := svc.Get(ctx, healthProbeID); err != nil && !errors.Is(err, users.ErrNotFound) {
			log.WarnContext(ctx, "health check failed", "err", err)
			status, code = "unavailable", http.StatusServiceUnavailable
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(code)
		fmt.Fprintf(w, "{\"status\":%q}\n", status)
	})
}

// serve serves h on ln until ctx is done, then shuts the server down: it stops accepting
// connections and waits up to shutdownTimeout for the requests in flight. It returns nil after
// a clean shutdown, and the error when serving fails or the requests outlast the timeout.
func serve(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("listening", "addr", ln.Addr().String())

	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", shutdownTimeout)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		_ = srv.Close()
		<-served
		return fmt.Errorf("shutdown: %w", err)
	}
	<-served // http.ErrServerClosed
	return nil
}

// newLogger returns the program's logger, writing to w in format "text" or "json".
func newLogger(format string, w io.Writer) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, nil))
	}
	return slog.New(slog.NewTextHandler(w, nil))
}
