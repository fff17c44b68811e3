package users

import (
	"container/list"
	"context"
	"crypto/sha256"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// Throttle configures the sign-in throttle, which slows down guessing a password. It counts
// the failed password checks of sign-in, of a change of password (by user ID or by e-mail
// address) and of the re-authentication that a change of e-mail address or username needs,
// all against one budget per account, whichever identifier was typed. A name or address that
// is no account is counted by its folded form, so the throttle answers alike whether or not
// an account exists. (Whoever exhausts the budget of one identifier learns whether another
// shares it, that is whether both name one account: they must know both already.)
//
// Failures are counted twice: per account and client address (see WithClient; a call without
// a client counts as one address, and an IPv6 address as its /64 network), and per account
// over all addresses. From the MaxFailures-th failure of an account from one address on, that
// address is locked out of the account for a delay that doubles, from BaseDelay up to
// MaxDelay, with each further failure; from the MaxAccountFailures-th failure of the account
// from anywhere on, every address is, but the known ones. So someone who knows a username and
// guesses from their own address locks out only that address: the owner signs in from theirs.
// The ceiling over all addresses bounds an attacker who spreads guesses over many.
//
// A right password clears the count of its address, not the account's: the owner signing in
// does not hand an attacker elsewhere a fresh budget. It also makes the address known for
// KnownFor: a known address is held to its own count only, never to the account's ceiling,
// so the owner keeps signing in from where they did before while the account is under
// attack. A password set or reset clears the account's count (and that of the address it was
// set from). A count is forgotten Forget after its latest failure.
//
// When the Service's Store implements ThrottleStore, the counts live there, under digests of
// the account and address: every Service on the store counts the same failures, so guesses
// spread over many processes get no more than one process allows. A store that fails to read
// or count a failure fails the password check with ErrInternal (the error is logged): the
// throttle never lets a guess through uncounted. The store's entries may be removed
// (ThrottleStore.DeleteFailures) once their latest failure is older than both Forget and
// KnownFor. Otherwise the counts live in the Service's memory, at most MaxTracked keys (the
// least recently failed are forgotten first), and are per process.
type Throttle struct {
	// MaxFailures is the number of failures of an account from one address before delays
	// start for that address; default 10. Negative: no throttle at all.
	MaxFailures int
	// MaxAccountFailures is the number of failures of an account from all addresses before
	// delays start for every address but the known ones; default 10 × MaxFailures. Negative:
	// no ceiling over all addresses.
	MaxAccountFailures int
	BaseDelay          time.Duration // first delay; default 1 second
	MaxDelay           time.Duration // longest delay; default 1 hour
	// Forget is how long a count lasts after its latest failure; default 24 hours, and never
	// less than MaxDelay.
	Forget time.Duration
	// KnownFor is how long a right password from an address makes that address known to the
	// account; default 30 days. Negative: no address is ever known.
	KnownFor   time.Duration
	MaxTracked int // keys remembered in memory, without a ThrottleStore; default 100,000
}

// Defaults of Throttle.
const (
	DefaultThrottleForget   = 24 * time.Hour
	DefaultThrottleKnownFor = 30 * 24 * time.Hour
)

func (t *Throttle) setDefaults() {
	if t.MaxFailures == 0 {
		t.MaxFailures = 10
	}
	if t.MaxAccountFailures == 0 {
		t.MaxAccountFailures = 10 * max(t.MaxFailures, 1)
	}
	setDefault(&t.BaseDelay, time.Second)
	setDefault(&t.MaxDelay, time.Hour)
	setDefault(&t.Forget, DefaultThrottleForget)
	t.Forget = max(t.Forget, t.MaxDelay)
	if t.KnownFor == 0 {
		t.KnownFor = DefaultThrottleKnownFor
	}
	setDefault(&t.MaxTracked, 100_000)
}

// retention is how long after its latest failure a ThrottleStore entry is still needed: a
// sweeper may remove entries older than this.
func (t *Throttle) retention() time.Duration { return max(t.Forget, t.KnownFor) }

// failureCounts keeps the throttle's counts: a ThrottleStore, or failureCache in memory.
type failureCounts interface {
	AddFailure(ctx context.Context, key Digest, now time.Time) (int, error)
	Failures(ctx context.Context, key Digest) (n int, last time.Time, err error)
	ResetFailures(ctx context.Context, key Digest) error
}

// throttle applies a Throttle to its counts.
type throttle struct {
	cfg    Throttle
	counts failureCounts
	cache  *failureCache // the counts, when no store keeps them; nil otherwise
}

// newThrottle returns the throttle of cfg, counting in store when it is a ThrottleStore and in
// memory otherwise.
func newThrottle(cfg Throttle, store Store) *throttle {
	if ts, ok := store.(ThrottleStore); ok {
		return &throttle{cfg: cfg, counts: ts}
	}
	c := newFailureCache(cfg.MaxTracked)
	return &throttle{cfg: cfg, counts: c, cache: c}
}

// throttleKeys are the keys one password check is counted under.
type throttleKeys struct {
	account Digest // the account, over all addresses
	pair    Digest // the account from one address
}

// Key derivation. Each kind of key has its own prefix, so that no two kinds share a digest.
const (
	accountPrefix = "users/throttle/account\x00"
	namePrefix    = "users/throttle/name\x00"
	pairPrefix    = "users/throttle/pair\x00"
	knownPrefix   = "users/throttle/known\x00"
)

// accountKey is the key of the account with this user ID.
func accountKey(userID string) Digest { return sha256.Sum256([]byte(accountPrefix + userID)) }

// nameKey is the key of a username or e-mail address that names no account: the digest of its
// folded form, so that every entry has the same small size whatever a client sends.
func nameKey(name string) Digest {
	return sha256.Sum256([]byte(namePrefix + Fold(strings.TrimSpace(name))))
}

// keys returns the keys of a check of account from addr. An IPv6 address counts as its /64
// network, which one client usually holds whole; the zero Addr is one address of its own.
func (t *throttle) keys(account Digest, addr netip.Addr) throttleKeys {
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.WithZone("").Prefix(64) // cannot fail for an IPv6 address and 64
		addr = p.Addr()
	}
	b, _ := addr.MarshalBinary() // empty for the zero Addr; never fails
	buf := make([]byte, 0, len(pairPrefix)+len(account)+len(b))
	buf = append(append(append(buf, pairPrefix...), account[:]...), b...)
	return throttleKeys{account: account, pair: sha256.Sum256(buf)}
}

// knownKey is the key under which a right password from pair is recorded.
func knownKey(pair Digest) Digest {
	return sha256.Sum256(append([]byte(knownPrefix), pair[:]...))
}

// checked is what check read, for fail and succeed to act on.
type checked struct {
	wait                    time.Duration // how long the check is locked out; 0 when it may go on
	pairFailures            int           // the pair's live count
	stalePair, staleAccount bool          // a count is stored but forgotten: start it again
}

// check returns how long a check under k is locked out at now, reading the counts. It returns
// the counts' error when they cannot be read.
func (t *throttle) check(ctx context.Context, k throttleKeys, now time.Time) (checked, error) {
	var c checked
	if t.cfg.MaxFailures < 0 {
		return c, nil
	}
	n, last, err := t.counts.Failures(ctx, k.pair)
	if err != nil {
		return c, err
	}
	n, c.stalePair = t.live(n, last, now)
	c.pairFailures = n
	c.wait = t.lockedFor(n, last, t.cfg.MaxFailures, now)
	if t.cfg.MaxAccountFailures < 0 {
		return c, nil
	}
	n, last, err = t.counts.Failures(ctx, k.account)
	if err != nil {
		return c, err
	}
	n, c.staleAccount = t.live(n, last, now)
	wait := t.lockedFor(n, last, t.cfg.MaxAccountFailures, now)
	if wait <= c.wait {
		return c, nil
	}
	if t.cfg.KnownFor > 0 {
		kn, at, err := t.counts.Failures(ctx, knownKey(k.pair))
		if err != nil {
			return c, err
		}
		if kn > 0 && now.Sub(at) < t.cfg.KnownFor {
			return c, nil // a known address answers to its own count only
		}
	}
	c.wait = wait
	return c, nil
}

// live returns the count n whose latest failure was at last as it counts at now: 0, and
// stale, once it is forgotten.
func (t *throttle) live(n int, last, now time.Time) (int, bool) {
	if n > 0 && now.Sub(last) >= t.cfg.Forget {
		return 0, true
	}
	return n, false
}

// lockedFor returns how long n failures, the latest at last, lock a key out at now, when
// delays start at the limit-th failure.
func (t *throttle) lockedFor(n int, last time.Time, limit int, now time.Time) time.Duration {
	over := n - limit
	if over < 0 {
		return 0
	}
	delay := t.cfg.MaxDelay
	if over < 32 {
		delay = min(t.cfg.BaseDelay<<over, t.cfg.MaxDelay)
	}
	if delay <= 0 { // overflow
		delay = t.cfg.MaxDelay
	}
	return max(last.Add(delay).Sub(now), 0)
}

// fail counts a failure under k at now; c is what check read.
func (t *throttle) fail(ctx context.Context, k throttleKeys, c checked, now time.Time) error {
	if t.cfg.MaxFailures < 0 {
		return nil
	}
	for _, f := range []struct {
		key   Digest
		stale bool
	}{{k.pair, c.stalePair}, {k.account, c.staleAccount}} {
		if f.stale {
			if err := t.counts.ResetFailures(ctx, f.key); err != nil {
				return err
			}
		}
		if _, err := t.counts.AddFailure(ctx, f.key, now); err != nil {
			return err
		}
	}
	return nil
}

// succeed records a right password under k at now: it clears the pair's count and makes the
// address known to the account. The account's count stays.
func (t *throttle) succeed(ctx context.Context, k throttleKeys, c checked, now time.Time) error {
	if t.cfg.MaxFailures < 0 {
		return nil
	}
	if c.pairFailures > 0 || c.stalePair {
		if err := t.counts.ResetFailures(ctx, k.pair); err != nil {
			return err
		}
	}
	if t.cfg.KnownFor <= 0 || t.cfg.MaxAccountFailures < 0 {
		return nil
	}
	// The mark is renewed at most once per 1/30 of KnownFor (a day by default): a read is
	// cheaper than a write, and most sign-ins come from an address known already.
	known := knownKey(k.pair)
	n, last, err := t.counts.Failures(ctx, known)
	if err != nil {
		return err
	}
	if n > 0 && now.Sub(last) < t.cfg.KnownFor/30 {
		return nil
	}
	_, err = t.counts.AddFailure(ctx, known, now)
	return err
}

// clear forgets the counts of the account and of the pair of k.
func (t *throttle) clear(ctx context.Context, k throttleKeys) error {
	if t.cfg.MaxFailures < 0 {
		return nil
	}
	if err := t.counts.ResetFailures(ctx, k.account); err != nil {
		return err
	}
	return t.counts.ResetFailures(ctx, k.pair)
}

// failureCache keeps failure counts in memory, at most max keys, in a map with
// least-recently-failed eviction. It never fails, and is safe for concurrent use.
type failureCache struct {
	max     int
	mu      sync.Mutex
	entries map[Digest]*list.Element
	order   *list.List // of *failureEntry, most recent failure at the front
}

type failureEntry struct {
	key  Digest
	n    int
	last time.Time
}

func newFailureCache(max int) *failureCache {
	return &failureCache{max: max, entries: make(map[Digest]*list.Element), order: list.New()}
}

// AddFailure counts a failure of key at now and returns its count.
func (c *failureCache) AddFailure(_ context.Context, key Digest, now time.Time) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		if c.order.Len() >= c.max {
			oldest := c.order.Back()
			c.order.Remove(oldest)
			delete(c.entries, oldest.Value.(*failureEntry).key)
		}
		el = c.order.PushFront(&failureEntry{key: key})
		c.entries[key] = el
	} else {
		c.order.MoveToFront(el)
	}
	e := el.Value.(*failureEntry)
	e.n++
	if now.After(e.last) {
		e.last = now
	}
	return e.n, nil
}

// Failures returns key's count and the time of its latest failure.
func (c *failureCache) Failures(_ context.Context, key Digest) (int, time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		e := el.Value.(*failureEntry)
		return e.n, e.last, nil
	}
	return 0, time.Time{}, nil
}

// ResetFailures forgets key.
func (c *failureCache) ResetFailures(_ context.Context, key Digest) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.Remove(el)
		delete(c.entries, key)
	}
	return nil
}

// len returns how many keys are kept.
func (c *failureCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
