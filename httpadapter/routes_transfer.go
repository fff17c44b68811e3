package httpadapter

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"mime"
	"net/http"

	"github.com/gousers/users"
)

// The transfer routes, for administrators only (users.ActionImport and users.ActionExport):
// POST /users/import reads users with their password hashes in the users JSON Lines format
// (see users.MarshalRecord), and GET /users/export writes every user in it.

// DefaultMaxImportBytes is the default of Options.MaxImportBytes.
const DefaultMaxImportBytes = 64 << 20

// importBatch is how many lines one Service.Import call covers: each batch is stored in one
// transaction. The same as the import command of examples/server.
const importBatch = 1_000

// jsonLinesTypes are the media types POST /users/import takes and GET /users/export writes
// (the first).
var jsonLinesTypes = []string{"application/x-ndjson", "application/jsonl", "application/json-lines"}

var errImportTooLarge = &users.Error{Code: CodeTooLarge, Message: "the import is larger than the limit of an import body"}

// importReport is the answer to POST /users/import: the counts, and the lines that were not
// created, in order. Its members are those of the import command's report.
type importReport struct {
	Read     int          `json:"read"` // the lines read that were not blank
	Created  int          `json:"created"`
	Skipped  int          `json:"skipped"`
	Rejected int          `json:"rejected"`
	Lines    []lineReport `json:"lines"`
}

// lineReport is the report of a line that was not created. Error is a users.Error's message,
// which never repeats the line (nor its hash).
type lineReport struct {
	Line   int                `json:"line"`
	Status users.ImportStatus `json:"status"`          // skipped or rejected
	ID     string             `json:"id,omitempty"`    // the user's ID, when the line gave one
	Field  string             `json:"field,omitempty"` // the field at fault, when known
	Error  string             `json:"error"`
}

// importUsers serves POST /users/import: a JSON Lines body → 200 the report. The body is read
// whole first (at most Options.MaxImportBytes, 413 beyond), so that a body over the limit
// imports nothing; then its lines are imported in batches of importBatch, each batch atomic,
// and a bad line is reported without stopping the import. A store failure stops it with 500:
// the batches before it are stored, and importing the same body again skips them.
func (h *handler) importUsers(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionImport); err != nil {
		return err
	}
	if !isJSONLines(r.Header.Get("Content-Type")) {
		return &users.Error{Code: CodeUnsupportedMedia, Message: "the request body must be application/x-ndjson (JSON Lines)"}
	}
	body, err := readLimited(w, r, h.maxImport, errImportTooLarge)
	if err != nil {
		return err
	}
	rep := importReport{Lines: []lineReport{}}
	err = users.ImportLines(r.Context(), h.svc, bytes.NewReader(body), importBatch, func(lines []users.LineResult) error {
		rep.add(lines)
		return nil
	})
	if err != nil {
		if h.log != nil {
			h.log.ErrorContext(r.Context(), "httpadapter: import stopped", "read", rep.Read, "created", rep.Created, "err", err)
		}
		return err
	}
	return writeJSON(w, http.StatusOK, rep)
}

// add counts the outcomes of a batch of lines, and reports each line that was not created.
func (rep *importReport) add(lines []users.LineResult) {
	for _, res := range lines {
		rep.Read++
		switch res.Status {
		case users.ImportCreated:
			rep.Created++
			continue
		case users.ImportSkipped:
			rep.Skipped++
		default:
			rep.Rejected++
		}
		// Only a users.Error's message is shown: any other error's text is not known to be safe.
		lr := lineReport{Line: res.Line, Status: res.Status, ID: res.ID, Error: "the user could not be imported"}
		if e, ok := errors.AsType[*users.Error](res.Err); ok {
			lr.Field, lr.Error = e.Field, e.Message
		}
		rep.Lines = append(rep.Lines, lr)
	}
}

// isJSONLines reports whether a Content-Type is one of jsonLinesTypes, whatever its
// parameters.
func isJSONLines(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	for _, t := range jsonLinesTypes {
		if mt == t {
			return true
		}
	}
	return false
}

// exportUsers serves GET /users/export → 200 every user, with their password hash, one record
// a line (users.MarshalRecord), as an attachment. An error before the first byte is sent is
// answered as any other; after it, the response is aborted (the client sees a truncated
// transfer, not a complete one) and the error logged.
func (h *handler) exportUsers(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionExport); err != nil {
		return err
	}
	sw := &startWriter{w: w}
	bw := bufio.NewWriterSize(sw, 64<<10)
	n := 0
	err := h.svc.Export(r.Context(), func(u *users.User) error {
		b, err := users.MarshalRecord(u)
		if err != nil {
			return err
		}
		if _, err := bw.Write(append(b, '\n')); err != nil {
			return err
		}
		n++
		return nil
	})
	if err == nil {
		sw.start() // even with no user to send
		err = bw.Flush()
	}
	if err == nil {
		return nil
	}
	if !sw.started {
		return err
	}
	if h.log != nil && !errors.Is(r.Context().Err(), context.Canceled) {
		h.log.ErrorContext(r.Context(), "httpadapter: export stopped", "users", n, "err", err)
	}
	panic(http.ErrAbortHandler)
}

// startWriter writes the headers of an export's success on its first write.
type startWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startWriter) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", jsonLinesTypes[0])
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Disposition", `attachment; filename="users.jsonl"`)
	h.Set("X-Content-Type-Options", "nosniff")
	s.w.WriteHeader(http.StatusOK)
}

func (s *startWriter) Write(p []byte) (int, error) {
	s.start()
	return s.w.Write(p)
}
