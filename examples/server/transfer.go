package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/gousers/users"
)

// The commands import and export move users, with their password hashes, in and out of the
// database, in the users JSON Lines format (see users.MarshalRecord).
const (
	cmdImport = "import"
	cmdExport = "export"
)

// stdio names the standard streams in a command's FILE argument.
const stdio = "-"

// importBatch is how many users one Service.Import call gets: each batch is stored in one
// transaction, and a batch that fails stores nothing.
const importBatch = 1_000

// progressEvery is how often import and export log their progress on standard error.
const progressEvery = time.Second

// runCommand runs the import or export command of cfg on the database of cfg: the file named
// by cfg.file, or stdin or stdout for "-". Reports go to stdout (import) and the log to stderr.
// It returns a *rejectedError when an import finished but rejected some lines.
func runCommand(ctx context.Context, cfg config, stdin io.Reader, stdout, stderr io.Writer) (err error) {
	log := newLogger(cfg.logFormat, stderr)
	store, shown, err := openStore(ctx, cfg.db)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, store.Close()) }()
	// No deletion worker: tickets are the server's business, not this short-lived process's.
	svc, err := users.New(store, users.Config{Logger: log, Argon2: argon2Params, NoWorker: true})
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, svc.Close()) }()
	log.Info("database open", "path", shown)

	switch cfg.command {
	case cmdImport:
		in := stdin
		if cfg.file != stdio {
			f, err := os.Open(cfg.file)
			if err != nil {
				return err
			}
			defer f.Close()
			in = f
		}
		im := &importer{svc: svc, log: log, batch: importBatch, progressEvery: progressEvery}
		sum, err := im.run(ctx, in, stdout)
		if err != nil {
			return fmt.Errorf("import stopped after %d lines: %w", sum.Read, err)
		}
		if sum.Rejected > 0 {
			return &rejectedError{n: sum.Rejected}
		}
		return nil
	case cmdExport:
		if cfg.file == stdio {
			_, err := exportUsers(ctx, svc, stdout, log, progressEvery)
			return err
		}
		return exportFile(ctx, svc, cfg.file, log)
	}
	return fmt.Errorf("unknown command %q", cfg.command)
}

// rejectedError reports an import that went through the whole file but rejected n lines.
type rejectedError struct{ n int }

func (e *rejectedError) Error() string {
	return fmt.Sprintf("import: %d lines rejected (see the report on standard output)", e.n)
}

// lineReport is the report of a line that was not imported: one JSON object per line of the
// import's standard output.
type lineReport struct {
	Line   int                `json:"line"`
	Status users.ImportStatus `json:"status"`          // skipped or rejected
	ID     string             `json:"id,omitempty"`    // the user's ID, when the line gave one
	Field  string             `json:"field,omitempty"` // the field at fault, when known
	Error  string             `json:"error"`
}

// importSummary is the last line of the import's standard output.
type importSummary struct {
	Status   string  `json:"status"` // "done", or "failed" when the import stopped early
	Read     int     `json:"read"`   // the lines read that were not blank
	Created  int     `json:"created"`
	Skipped  int     `json:"skipped"`
	Rejected int     `json:"rejected"`
	Seconds  float64 `json:"seconds"`
	Error    string  `json:"error,omitempty"` // why it stopped, when it failed
}

// importer reads users in the JSON Lines format and imports them in batches.
type importer struct {
	svc           users.Service
	log           *slog.Logger
	batch         int           // lines a Service.Import call covers, at most
	progressEvery time.Duration // how often progress is logged; 0: after every batch

	sum      importSummary
	start    time.Time
	reported time.Time // when progress was last logged
}

// run imports the users of in, batch by batch, and writes to out a report of each line that
// was not created and then the summary, whatever happens. It stops early only when reading in
// fails, ctx ends, or the Service fails (the batch it was given is then not stored, and not
// counted); it returns that error, and the summary says how far it got.
func (im *importer) run(ctx context.Context, in io.Reader, out io.Writer) (importSummary, error) {
	im.start = time.Now()
	im.reported = im.start
	w := bufio.NewWriter(out)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	err := users.ImportLines(ctx, im.svc, in, im.batch, func(lines []users.LineResult) error {
		return im.report(lines, enc)
	})

	im.sum.Status, im.sum.Seconds = "done", time.Since(im.start).Seconds()
	if err != nil {
		im.sum.Status, im.sum.Error = "failed", err.Error()
	}
	err = errors.Join(err, enc.Encode(im.sum), w.Flush())
	args := []any{"read", im.sum.Read, "created", im.sum.Created, "skipped", im.sum.Skipped, "rejected", im.sum.Rejected}
	if err != nil {
		im.log.Error("import stopped", append(args, "err", err)...)
	} else {
		im.log.Info("import done", append(args, "seconds", im.sum.Seconds)...)
	}
	return im.sum, err
}

// report counts the outcomes of a batch of lines, writes to enc a report of each line that
// was not created, and logs the progress when it is due.
func (im *importer) report(lines []users.LineResult, enc *json.Encoder) error {
	for _, r := range lines {
		im.sum.Read++
		switch r.Status {
		case users.ImportCreated:
			im.sum.Created++
			continue
		case users.ImportSkipped:
			im.sum.Skipped++
		default:
			im.sum.Rejected++
		}
		rep := lineReport{Line: r.Line, Status: r.Status, ID: r.ID, Error: "unknown error"}
		var e *users.Error
		if errors.As(r.Err, &e) {
			rep.Field, rep.Error = e.Field, e.Message
		} else if r.Err != nil {
			rep.Error = r.Err.Error()
		}
		if err := enc.Encode(rep); err != nil {
			return err
		}
	}
	if now := time.Now(); now.Sub(im.reported) >= im.progressEvery {
		im.reported = now
		im.log.Info("import progress", "read", im.sum.Read, "created", im.sum.Created, "skipped", im.sum.Skipped,
			"rejected", im.sum.Rejected, "users_per_second", int(float64(im.sum.Read)/now.Sub(im.start).Seconds()))
	}
	return nil
}

// exportUsers writes every user of svc to w in the JSON Lines format, with their hashes, and
// returns how many it wrote. It logs its progress every progressEvery.
func exportUsers(ctx context.Context, svc users.Service, w io.Writer, log *slog.Logger, every time.Duration) (int, error) {
	start := time.Now()
	reported := start
	bw := bufio.NewWriterSize(w, 64<<10)
	n := 0
	err := svc.Export(ctx, func(u *users.User) error {
		b, err := users.MarshalRecord(u)
		if err != nil {
			return fmt.Errorf("user %s: %w", u.ID, err)
		}
		if _, err := bw.Write(append(b, '\n')); err != nil {
			return err
		}
		n++
		if now := time.Now(); now.Sub(reported) >= every {
			reported = now
			log.Info("export progress", "users", n)
		}
		return nil
	})
	if err = errors.Join(err, bw.Flush()); err != nil {
		return n, fmt.Errorf("export stopped after %d users: %w", n, err)
	}
	log.Info("export done", "users", n, "seconds", time.Since(start).Seconds())
	return n, nil
}

// exportFile exports the users to the file at path, replacing it only once the export is
// complete: until then they go to a temporary file beside it, readable by its owner only, as
// the new file is (it holds every password hash).
func exportFile(ctx context.Context, svc users.Service, path string, log *slog.Logger) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil { // what CreateTemp asks for, whatever the umask
		return err
	}
	if _, err := exportUsers(ctx, svc, f, log, progressEvery); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	done = true
	return nil
}
