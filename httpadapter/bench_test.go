package httpadapter_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/gousers/users"
	"github.com/gousers/users/httpadapter"
	"github.com/gousers/users/internal/testutil"
	"github.com/gousers/users/memory"
)

// benchFixture returns the handler over a Service with the default argon2id parameters, no
// rate limits, and alice signed in.
func benchFixture(b *testing.B) (http.Handler, users.Service, *users.Session) {
	b.Helper()
	svc, err := users.New(memory.New(), users.Config{Argon2: users.DefaultArgon2(), NoWorker: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = svc.Close() })
	if _, err := svc.Create(b.Context(), users.NewUser{Username: "alice@example.com", Password: alicePassword,
		Name: "Alice", Plan: "pro", Metadata: map[string]any{"team": "data"}}); err != nil {
		b.Fatal(err)
	}
	s, err := svc.SignIn(b.Context(), "alice@example.com", alicePassword)
	if err != nil {
		b.Fatal(err)
	}
	off := httpadapter.RateLimit{Burst: -1}
	h := httpadapter.New(svc, httpadapter.Options{RateLimits: httpadapter.RateLimits{SignIn: off}})
	return h, svc, s
}

// discard is a ResponseWriter that keeps the status and drops the body, reused between
// requests so that both handlers compared pay the same for it.
type discard struct {
	header http.Header
	status int
}

func (w *discard) Header() http.Header         { return w.header }
func (w *discard) Write(p []byte) (int, error) { return len(p), nil }
func (w *discard) WriteHeader(status int)      { w.status = status }

// serveBench serves r with h b.N times, checking the status.
func serveBench(b *testing.B, h http.Handler, r *http.Request, want int) {
	w := &discard{header: make(http.Header)}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.header)
		w.status = http.StatusOK
		h.ServeHTTP(w, r)
		if w.status != want {
			b.Fatalf("status %d", w.status)
		}
	}
}

// BenchmarkCurrentUser measures GET /user with a valid token through the handler (adapter),
// beside a bare handler writing the same JSON from a map (bare): the difference is the cost
// of routing, authenticating and encoding. Target: adapter ≤ 2× bare.
func BenchmarkCurrentUser(b *testing.B) {
	h, _, s := benchFixture(b)
	r := httptest.NewRequest(http.MethodGet, "/user", nil)
	r.Header.Set("Authorization", "Bearer "+s.Token)

	b.Run("adapter", func(b *testing.B) { serveBench(b, h, r, http.StatusOK) })
	b.Run("bare", func(b *testing.B) {
		var m map[string]any
		js, err := json.Marshal(s.User)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.Unmarshal(js, &m); err != nil {
			b.Fatal(err)
		}
		bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(m)
		})
		serveBench(b, bare, r, http.StatusOK)
	})
}

// BenchmarkCurrentUserByCredential measures GET /user authenticated with an API key
// (apikey) beside the same with a session token (session), in the same run: an API key
// authenticates as a session does, with one look-up of its digest (and a write of its
// last use at most once a minute). Target: apikey within 1.2× of session.
func BenchmarkCurrentUserByCredential(b *testing.B) {
	h, svc, s := benchFixture(b)
	k, err := svc.CreateAPIKey(b.Context(), s.User.ID, users.NewAPIKey{Name: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct{ name, token string }{{"session", s.Token}, {"apikey", k.Key}} {
		r := httptest.NewRequest(http.MethodGet, "/user", nil)
		r.Header.Set("Authorization", "Bearer "+c.token)
		b.Run(c.name, func(b *testing.B) {
			runtime.GC() // the same start for both: the fixture's argon2id hashing leaves 19 MiB to collect
			serveBench(b, h, r, http.StatusOK)
		})
	}
}

// BenchmarkSignIn measures POST /user/auth through the handler with the default argon2id
// parameters (adapter), beside one raw argon2id verification with the same parameters
// (argon2id): the difference is the overhead of HTTP, JSON and the Service. Target ≤ 5%.
func BenchmarkSignIn(b *testing.B) {
	h, _, _ := benchFixture(b)
	body := signInBody("alice@example.com", alicePassword)

	b.Run("adapter", func(b *testing.B) {
		r := httptest.NewRequest(http.MethodPost, "/user/auth", nil)
		r.Header.Set("Content-Type", "application/json")
		w := &discard{header: make(http.Header)}
		b.ReportAllocs()
		for b.Loop() {
			clear(w.header)
			r.Body = io.NopCloser(strings.NewReader(body))
			h.ServeHTTP(w, r)
			if w.status != http.StatusOK {
				b.Fatalf("status %d", w.status)
			}
		}
	})
	b.Run("argon2id", func(b *testing.B) {
		testutil.BenchmarkArgon2idCompare(b, alicePassword, users.DefaultArgon2())
	})
}
