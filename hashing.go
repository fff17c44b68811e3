package users

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/argon2id"
	"golang.org/x/crypto/bcrypt"
	"golang.org/x/sync/semaphore"
)

// Admission of hashes.
//
// A hash is admitted by two bounds before it is computed, and both are needed:
//
//   - Memory: Config.MaxHashMemory is a budget of bytes, and a hash weighs the memory its
//     algorithm fills (argon2id: its m parameter; bcrypt: a few KiB). Whatever hashes are
//     stored, imported or not, the memory of the hashes being computed never exceeds the
//     budget. A count of hashes could not promise that: four hashes at once may be four of
//     19 MiB or four of 64 MiB.
//   - CPU: Config.MaxConcurrentHashes bounds the threads hashing at once (default
//     GOMAXPROCS); a hash takes one for each of its lanes (argon2id's p; bcrypt has one), up
//     to all of them. Without it, the memory budget would admit hundreds of cheap bcrypt
//     verifications at once; they would share the cores, each running that many times
//     slower, and once admitted none could be refused: the answer time would have no bound.
//
// Memory is taken first, then the CPU slots (a hash waiting for memory while holding a slot
// would leave a core idle), both within Config.MaxHashWait: a hash that cannot be admitted in
// time fails with ErrOverloaded, so a flood turns into refusals after a bounded wait instead
// of a queue that grows until the write timeout. Both semaphores serve waiters first come,
// first served, so a heavy hash is not starved by light ones; in a sustained flood, a
// sign-in therefore succeeds about as often as the hashing capacity over the arrival rate.

// Weights, in bytes, of hashes whose memory is not read from their parameters.
const (
	bcryptWeight = 16 << 10 // bcrypt's state is about 4 KiB; the rest is the call's buffers
	otherWeight  = 16 << 10 // a hash of a Config.Hasher in a form other than argon2id
)

// hashGate admits hashes by memory and by CPU, and pads failed verifications (see
// failureTiming). It is safe for concurrent use.
type hashGate struct {
	memory     *semaphore.Weighted
	budget     int64 // the size of memory, in bytes
	cpu        *semaphore.Weighted
	cpus       int64         // the size of cpu
	wait       time.Duration // how long a hash may wait to be admitted; negative: not at all
	retryAfter time.Duration // told to a refused caller
	timing     failureTiming
	sleep      func(ctx context.Context, d time.Duration) // pads a failure; tests replace it
}

func newHashGate(cfg *Config) *hashGate {
	return &hashGate{
		memory:     semaphore.NewWeighted(cfg.MaxHashMemory),
		budget:     cfg.MaxHashMemory,
		cpu:        semaphore.NewWeighted(int64(cfg.MaxConcurrentHashes)),
		cpus:       int64(cfg.MaxConcurrentHashes),
		wait:       cfg.MaxHashWait,
		retryAfter: max(cfg.MaxHashWait, time.Second),
		timing:     failureTiming{classes: make(map[string]*durationEstimate)},
		sleep:      sleepCtx,
	}
}

// setHashMemoryDefault sets MaxHashMemory to its default, or checks the one given: it must
// admit the largest hash verify computes, an imported one at the ceilings or one of the
// Service's own. Hasher is set.
func (c *Config) setHashMemoryDefault() error {
	own := DefaultArgon2().Memory // what a Hasher other than argon2id's is taken to cost
	if h, ok := c.Hasher.(*Argon2idHasher); ok {
		own = h.params.Memory
	}
	least := int64(max(own, MaxImportedArgon2Memory)) << 10
	if c.MaxHashMemory == 0 {
		c.MaxHashMemory = max(4*int64(own)<<10, least)
	}
	if c.MaxHashMemory < least {
		return invalid("MaxHashMemory", "must be at least %d bytes, the memory of the costliest hash to verify", least)
	}
	return nil
}

// errOverloaded is the answer to a hash that could not be admitted in time. RetryAfter is set
// by overloaded.
var errOverloaded = Error{Code: CodeOverloaded, Message: "too many passwords are being checked; try again later"}

// admit waits until a hash of the cost may be computed, for at most g.wait, and returns the
// function that releases its place. It returns ErrOverloaded when the wait runs out, and the
// context's error when ctx ends first. Memory above the budget is taken as the budget, and
// lanes above the CPU slots as all of them: the hash then runs alone (the hashers refuse such
// a hash before computing anything).
func (g *hashGate) admit(ctx context.Context, c hashCost) (release func(), err error) {
	memory := min(max(c.memory, 1), g.budget)
	lanes := min(max(c.lanes, 1), g.cpus)
	release = func() { g.cpu.Release(lanes); g.memory.Release(memory) }
	if g.wait < 0 {
		if !g.memory.TryAcquire(memory) {
			return nil, g.overloaded()
		}
		if !g.cpu.TryAcquire(lanes) {
			g.memory.Release(memory)
			return nil, g.overloaded()
		}
		return release, nil
	}
	wctx, cancel := context.WithTimeout(ctx, g.wait)
	defer cancel()
	if err := g.memory.Acquire(wctx, memory); err != nil {
		return nil, g.refusal(ctx)
	}
	if err := g.cpu.Acquire(wctx, lanes); err != nil {
		g.memory.Release(memory)
		return nil, g.refusal(ctx)
	}
	return release, nil
}

// refusal is the error of a wait that ended: the caller's own context's, or ErrOverloaded.
func (g *hashGate) refusal(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return g.overloaded()
}

func (g *hashGate) overloaded() error {
	e := errOverloaded
	e.RetryAfter = g.retryAfter
	return &e
}

// hashCost is what computing a hash takes, as admission counts it, and its class, which
// groups hashes of one cost for failureTiming.
type hashCost struct {
	class  string
	memory int64 // bytes
	lanes  int64 // threads
}

// costOf returns the cost of verifying an encoded hash. It only parses: nothing is computed.
func costOf(encoded string) hashCost {
	switch {
	case isBcrypt(encoded):
		cost, err := bcrypt.Cost([]byte(encoded))
		if err != nil {
			return hashCost{"bcrypt", bcryptWeight, 1}
		}
		return hashCost{"bcrypt/" + strconv.Itoa(cost), bcryptWeight, 1}
	case strings.HasPrefix(encoded, "$argon2id$"):
		p, _, _, err := argon2id.DecodeHash(encoded)
		if err != nil {
			return hashCost{"argon2id", otherWeight, 1}
		}
		class := "argon2id/" + strconv.FormatUint(uint64(p.Memory), 10) + "/" + strconv.FormatUint(uint64(p.Iterations), 10) +
			"/" + strconv.FormatUint(uint64(p.Parallelism), 10)
		return hashCost{class, int64(p.Memory) << 10, int64(p.Parallelism)}
	}
	return hashCost{"other", otherWeight, 1}
}

// Timing of failed verifications.
//
// An unknown username, a wrong password and a wrong password for an account with an imported
// bcrypt hash must take the same time, or the time tells which accounts exist and which were
// imported. Verifying an unknown username against a dummy hash makes it cost one hash, but
// hashes of different kinds and parameters cost different times (bcrypt at cost 10 takes
// about twice the default argon2id), and computing an extra hash on every failure to even
// them out would double what an attacker makes the server spend.
//
// So every failed verification is padded, by sleeping, to the time of the slowest class of
// hash verified so far: the time is measured from admission to the end of the hash, and each
// class (a kind with its parameters) keeps an estimate of its time, the mean plus four mean
// deviations, as TCP estimates its retransmission timeout (RFC 6298). A sleep costs neither
// CPU nor a place in the admission semaphores. The Service's own parameters are measured at
// New; a class is learnt from its first verification, which is the only one that can stand
// out. A success is not padded: it tells the caller nothing they do not know.

// maxTimingClasses bounds the classes failureTiming remembers; maxFailurePad bounds a pad.
// A pad under minFailurePad is not slept: it is below what a timer keeps to (a sleep that
// short lasts about a millisecond), and within the spread of one hash's own time at real
// costs.
const (
	maxTimingClasses = 32
	maxFailurePad    = 5 * time.Second
	minFailurePad    = time.Millisecond
)

// durationEstimate is a smoothed mean and mean deviation of the durations of one class.
type durationEstimate struct {
	mean, dev time.Duration
}

// add takes d into the estimate. A duration above twice the mean counts as twice the mean:
// a verification descheduled for a while on a busy machine says nothing about its class, and
// would otherwise raise every failure's pad for many verifications after it. A real rise is
// followed at up to an eighth a verification.
func (e *durationEstimate) add(d time.Duration) {
	if e.mean == 0 {
		e.mean, e.dev = d, d/2
		return
	}
	d = min(d, 2*e.mean)
	diff := e.mean - d
	if diff < 0 {
		diff = -diff
	}
	e.dev += (diff - e.dev) / 4
	e.mean += (d - e.mean) / 8
}

// bound is a duration that the class's verifications rarely exceed.
func (e *durationEstimate) bound() time.Duration { return e.mean + 4*e.dev }

// failureTiming estimates how long the slowest class of hash takes to verify. It is safe for
// concurrent use.
type failureTiming struct {
	mu      sync.Mutex
	classes map[string]*durationEstimate
	slowest time.Duration // the largest bound of the classes
}

// observe records that a verification of the class took d.
func (t *failureTiming) observe(class string, d time.Duration) {
	if d <= 0 {
		d = 1
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.classes[class]
	if e == nil {
		if len(t.classes) >= maxTimingClasses {
			t.evictFastest()
		}
		e = new(durationEstimate)
		t.classes[class] = e
	}
	e.add(d)
	t.slowest = 0
	for _, e := range t.classes {
		t.slowest = max(t.slowest, e.bound())
	}
}

// evictFastest forgets the class with the smallest bound, which is not the slowest one.
func (t *failureTiming) evictFastest() {
	var fastest string
	var least time.Duration = -1
	for c, e := range t.classes {
		if b := e.bound(); least < 0 || b < least {
			fastest, least = c, b
		}
	}
	delete(t.classes, fastest)
}

// target is how long a failed verification takes, from admission to answer.
func (t *failureTiming) target() time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	return min(t.slowest, maxFailurePad)
}

// pad sleeps until a failed verification admitted at start has taken the target time, or
// until ctx ends.
func (g *hashGate) pad(ctx context.Context, start time.Time) {
	if d := g.timing.target() - time.Since(start); d >= minFailurePad {
		g.sleep(ctx, d)
	}
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
