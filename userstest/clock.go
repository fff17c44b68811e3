package userstest

import (
	"sync"
	"time"
)

// Clock is a clock for users.Config.Now that stands still until the test sets or advances
// it. The zero Clock, like NewClock(time.Time{}), reads 2026-01-01 00:00:00 UTC. It is safe
// for concurrent use: the Service's worker reads it while the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
	set bool // now has been given; otherwise the clock reads defaultStart
}

// defaultStart is where a Clock starts when given no time.
var defaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// NewClock returns a Clock that reads start, or 2026-01-01 00:00:00 UTC when start is zero.
func NewClock(start time.Time) *Clock {
	c := new(Clock)
	if !start.IsZero() {
		c.Set(start)
	}
	return c
}

// Now returns the clock's time. It is the function to set as users.Config.Now (WithClock
// does).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		return defaultStart
	}
	return c.now
}

// Set moves the clock to t, forward or back.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now, c.set = t, true
}

// Advance moves the clock forward by d (back, for a negative d) and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.set {
		c.now, c.set = defaultStart, true
	}
	c.now = c.now.Add(d)
	return c.now
}
