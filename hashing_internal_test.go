package users

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const mib = 1 << 20

// newTestGate returns a gate over a budget of bytes and a number of CPU slots that refuses at
// once what it cannot admit.
func newTestGate(budget int64, cpus int) *hashGate {
	return newHashGate(&Config{MaxHashMemory: budget, MaxConcurrentHashes: cpus, MaxHashWait: -1})
}

// TestHashGateMemory: hashes are admitted while their memory fits the budget, whatever their
// number, and a place is given back on release.
func TestHashGateMemory(t *testing.T) {
	ctx := context.Background()
	g := newTestGate(64*mib, 8)
	r1, err := g.admit(ctx, mem(32*mib))
	require.NoError(t, err)
	r2, err := g.admit(ctx, mem(32*mib))
	require.NoError(t, err)

	_, err = g.admit(ctx, mem(bcryptWeight))
	assert.ErrorIs(t, err, ErrOverloaded, "the budget is spent, though CPU slots are free")

	r1()
	_, err = g.admit(ctx, mem(33*mib))
	assert.ErrorIs(t, err, ErrOverloaded, "32 MiB are free, not 33")
	r3, err := g.admit(ctx, mem(32*mib))
	require.NoError(t, err)
	r2()
	r3()

	release, err := g.admit(ctx, mem(1<<40))
	require.NoError(t, err, "a weight above the budget is taken as the whole budget")
	_, err = g.admit(ctx, mem(bcryptWeight))
	assert.ErrorIs(t, err, ErrOverloaded, "a hash above the budget runs alone")
	release()
}

// mem is the cost of a hash of one lane that weighs bytes.
func mem(bytes int64) hashCost { return hashCost{memory: bytes, lanes: 1} }

// TestHashGateCPU: however little memory hashes weigh, they take no more threads than the CPU
// slots; a hash takes one for each of its lanes, and one of more lanes than slots runs alone.
func TestHashGateCPU(t *testing.T) {
	ctx := context.Background()
	g := newTestGate(64*mib, 2)
	r1, err := g.admit(ctx, mem(bcryptWeight))
	require.NoError(t, err)
	r2, err := g.admit(ctx, mem(bcryptWeight))
	require.NoError(t, err)
	_, err = g.admit(ctx, mem(bcryptWeight))
	assert.ErrorIs(t, err, ErrOverloaded)
	r1()
	r3, err := g.admit(ctx, mem(60*mib))
	require.NoError(t, err, "a refused hash leaves no memory taken")
	r2()
	r3()

	four := hashCost{memory: 16 * mib, lanes: 4}
	r4, err := g.admit(ctx, four)
	require.NoError(t, err, "four lanes on two slots: it takes both")
	_, err = g.admit(ctx, mem(bcryptWeight))
	assert.ErrorIs(t, err, ErrOverloaded, "a hash with more lanes than slots runs alone")
	r4()
	r5, err := g.admit(ctx, hashCost{memory: 16 * mib, lanes: 2})
	require.NoError(t, err)
	_, err = g.admit(ctx, mem(bcryptWeight))
	assert.ErrorIs(t, err, ErrOverloaded)
	r5()
}

// TestHashGateWait: a hash waits for a place for at most MaxHashWait and is then refused with
// ErrOverloaded and a RetryAfter; the caller's context, when it ends first, ends the wait with
// its own error; a place given back in time admits the waiter.
func TestHashGateWait(t *testing.T) {
	ctx := context.Background()
	g := newHashGate(&Config{MaxHashMemory: 64 * mib, MaxConcurrentHashes: 1, MaxHashWait: 20 * time.Millisecond})
	hold, err := g.admit(ctx, mem(bcryptWeight))
	require.NoError(t, err)

	_, err = g.admit(ctx, mem(bcryptWeight))
	require.ErrorIs(t, err, ErrOverloaded)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, CodeOverloaded, e.Code)
	assert.Equal(t, time.Second, e.RetryAfter, "at least a second")
	assert.False(t, errors.Is(err, ErrThrottled))

	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = g.admit(cancelled, mem(bcryptWeight))
	assert.ErrorIs(t, err, context.Canceled)

	long := newHashGate(&Config{MaxHashMemory: 64 * mib, MaxConcurrentHashes: 1, MaxHashWait: time.Hour})
	hold2, err := long.admit(ctx, mem(bcryptWeight))
	require.NoError(t, err)
	short, cancel2 := context.WithTimeout(ctx, 5*time.Millisecond)
	defer cancel2()
	_, err = long.admit(short, mem(bcryptWeight))
	assert.ErrorIs(t, err, context.DeadlineExceeded, "the caller's deadline, not ErrOverloaded")

	admitted := make(chan error, 1)
	go func() {
		release, err := long.admit(ctx, mem(bcryptWeight))
		if err == nil {
			release()
		}
		admitted <- err
	}()
	hold2()
	assert.NoError(t, <-admitted)
	hold()
}

func TestCostOf(t *testing.T) {
	tests := []struct {
		name    string
		encoded string
		want    hashCost
	}{
		{"argon2id", "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", hashCost{"argon2id/19456/2/1", 19456 << 10, 1}},
		{"argon2id at the ceilings", "$argon2id$v=19$m=65536,t=4,p=4$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U", hashCost{"argon2id/65536/4/4", 64 * mib, 4}},
		{"unreadable argon2id", "$argon2id$v=19$m=x", hashCost{"argon2id", otherWeight, 1}},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy", hashCost{"bcrypt/10", bcryptWeight, 1}},
		{"another hasher's", "plain:secret", hashCost{"other", otherWeight, 1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, costOf(tt.encoded))
		})
	}
}

func TestHashMemoryConfig(t *testing.T) {
	tests := []struct {
		name   string
		cfg    Config
		want   int64
		errFor string
	}{
		{"default parameters", Config{}, 4 * 19 * mib, ""},
		{"cheap parameters: the ceiling of imported hashes", Config{Argon2: TestArgon2()}, 64 * mib, ""},
		{"costly parameters", Config{Argon2: Argon2Params{Memory: 128 << 10, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, 4 * 128 * mib, ""},
		{"another hasher: taken as the default cost", Config{Hasher: plainHasher{}}, 4 * 19 * mib, ""},
		{"set", Config{MaxHashMemory: 100 * mib}, 100 * mib, ""},
		{"below an imported hash", Config{MaxHashMemory: 64*mib - 1}, 0, "MaxHashMemory"},
		{"below the Service's own hash", Config{MaxHashMemory: 100 * mib, Argon2: Argon2Params{Memory: 128 << 10, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}}, 0, "MaxHashMemory"},
		{"negative", Config{MaxHashMemory: -1}, 0, "MaxHashMemory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.setDefaults()
			if tt.errFor != "" {
				var e *Error
				require.ErrorAs(t, err, &e)
				assert.Equal(t, CodeInvalid, e.Code)
				assert.Equal(t, tt.errFor, e.Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.cfg.MaxHashMemory)
			assert.Equal(t, DefaultMaxHashWait, tt.cfg.MaxHashWait)
		})
	}
}

// TestFailureTimingEstimate: the target is the bound of the slowest class, an outlier moves
// it by a bounded step, and a full table forgets its fastest class, never its slowest.
func TestFailureTimingEstimate(t *testing.T) {
	ft := failureTiming{classes: make(map[string]*durationEstimate)}
	assert.Zero(t, ft.target(), "nothing measured yet")

	ft.observe("argon2id", 40*time.Millisecond)
	assert.Equal(t, 120*time.Millisecond, ft.target(), "one sample: the mean and half of it as the deviation")
	for range 200 {
		ft.observe("argon2id", 40*time.Millisecond)
	}
	assert.InDelta(t, float64(40*time.Millisecond), float64(ft.target()), float64(time.Millisecond), "a steady class converges to its time")

	for range 200 {
		ft.observe("bcrypt/10", 70*time.Millisecond)
	}
	assert.InDelta(t, float64(70*time.Millisecond), float64(ft.target()), float64(time.Millisecond), "the slowest class sets the target")

	ft.observe("bcrypt/10", 10*time.Second) // descheduled on a busy machine
	assert.Less(t, ft.target(), 150*time.Millisecond, "an outlier counts as twice the mean (in full, it would make the target over 1 s)")

	for i := range maxTimingClasses + 5 {
		ft.observe(string(rune('a'+i)), time.Millisecond)
	}
	assert.Len(t, ft.classes, maxTimingClasses)
	assert.Contains(t, ft.classes, "bcrypt/10")
	assert.Greater(t, ft.target(), 70*time.Millisecond)

	for range 100 {
		ft.observe("huge", time.Hour)
	}
	assert.Equal(t, maxFailurePad, ft.target())
}

// padRecorder replaces a gate's sleep and records the pads asked for.
type padRecorder struct {
	mu   sync.Mutex
	pads []time.Duration
}

func (r *padRecorder) sleep(_ context.Context, d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.pads = append(r.pads, d)
}

func (r *padRecorder) take() []time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.pads
	r.pads = nil
	return p
}

// oneUser is a Store with one user, who has a password hash of plainHasher.
type oneUser struct {
	Store
	u *User
}

func (s oneUser) GetUserByUsername(_ context.Context, username string) (*User, error) {
	if Fold(username) != Fold(s.u.Username) {
		return nil, NotFoundError("user")
	}
	return s.u.Clone(), nil
}

func (s oneUser) GetUserByEmail(ctx context.Context, email string) (*User, error) {
	return s.GetUserByUsername(ctx, email)
}

func (s oneUser) GetUser(_ context.Context, id string) (*User, error) {
	if id != s.u.ID {
		return nil, NotFoundError("user")
	}
	return s.u.Clone(), nil
}

// TestFailedVerificationIsPadded: every failed password check (an unknown username, a wrong
// password, either form of ChangePassword) is padded to the time of the slowest class of hash
// seen, from its admission; a success is not.
func TestFailedVerificationIsPadded(t *testing.T) {
	ctx := context.Background()
	u := &User{ID: "u1", Username: "alice@example.com", Email: "alice@example.com", Status: StatusActive, PasswordHash: "plain:right password 1"}
	svc, err := New(oneUser{u: u}, Config{NoWorker: true, Hasher: plainHasher{}, Throttle: Throttle{MaxFailures: -1}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	s := svc.(*service)
	rec := new(padRecorder)
	s.gate.sleep = rec.sleep
	const slow = time.Second
	for range 100 {
		s.gate.timing.observe("bcrypt/12", slow) // as if accounts with costly hashes had been verified
	}

	tests := []struct {
		name string
		call func() error
		want error
	}{
		{"unknown username", func() error { _, err := svc.SignIn(ctx, "nobody@example.com", "right password 1"); return err }, ErrUnauthorized},
		{"wrong password", func() error { _, err := svc.SignIn(ctx, "alice@example.com", "wrong password 1"); return err }, ErrUnauthorized},
		{"change by e-mail, unknown", func() error {
			return svc.ChangePassword(ctx, PasswordChange{Email: "nobody@example.com", OldPassword: "right password 1", NewPassword: "another password 2"})
		}, ErrWrongPassword},
		{"change by e-mail, wrong", func() error {
			return svc.ChangePassword(ctx, PasswordChange{Email: "alice@example.com", OldPassword: "wrong password 1", NewPassword: "another password 2"})
		}, ErrWrongPassword},
		{"change by ID, wrong", func() error {
			return svc.ChangePassword(ctx, PasswordChange{UserID: "u1", OldPassword: "wrong password 1", NewPassword: "another password 2"})
		}, ErrWrongPassword},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.call(), tt.want)
			pads := rec.take()
			if assert.Len(t, pads, 1) {
				assert.Greater(t, pads[0], slow/2, "padded to the slow class, less the time the check took")
				assert.LessOrEqual(t, pads[0], s.gate.timing.target())
			}
		})
	}
	t.Run("success", func(t *testing.T) {
		ok, _, err := s.verify(ctx, "right password 1", u.PasswordHash)
		require.NoError(t, err)
		assert.True(t, ok)
		assert.Empty(t, rec.take())
	})
}

// TestCostlyStoredHashNotComputed: a hash above the ceilings that reached the store without
// Import is refused without being computed (these would take hours or many GiB), counts as a
// wrong password, and is logged without the hash.
func TestCostlyStoredHashNotComputed(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		hash string
	}{
		{"bcrypt cost 31", "$2a$31$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2id with endless iterations", "$argon2id$v=19$m=64,t=4294967295,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
		{"argon2id with 4 GiB", "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
		{"argon2id with 255 lanes", "$argon2id$v=19$m=65536,t=1,p=255$c2FsdHNhbHRzYWx0c2FsdA$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := new(lockedBuffer)
			u := &User{ID: "u1", Username: "alice@example.com", Status: StatusActive, PasswordHash: tt.hash}
			svc, err := New(oneUser{u: u}, Config{NoWorker: true, Argon2: TestArgon2(), Logger: slog.New(slog.NewTextHandler(logs, nil))})
			require.NoError(t, err)
			t.Cleanup(func() { _ = svc.Close() })
			_, err = svc.SignIn(ctx, "alice@example.com", "any password at all")
			assert.ErrorIs(t, err, ErrUnauthorized)
			assert.Contains(t, logs.String(), "unreadable password hash")
			assert.NotContains(t, logs.String(), tt.hash[10:])
		})
	}
}

// lockedBuffer is a bytes.Buffer for a logger and the test that reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
