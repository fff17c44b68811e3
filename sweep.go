package users

import (
	"context"
	"errors"
	"time"
)

// sweepBatch is how many rows one call of a sweep removes: one short transaction.
const sweepBatch = 1000

// sweepCounts is what one sweep removed.
type sweepCounts struct {
	tokens, tickets, failures int
}

// sweepEvery is the sweeper: it sweeps the store at once, then every interval, until Close.
func (s *service) sweepEvery(interval time.Duration) {
	defer s.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-timer.C:
		}
		_, _ = s.sweep(s.workCtx)
		timer.Reset(interval)
	}
}

// sweep removes from the store, in batches, the tokens expired now, the finished tickets older
// than Config.TicketRetention and, when the store keeps them, the throttle entries no longer
// needed: older than both Throttle.Forget (their count is forgotten) and Throttle.KnownFor
// (their mark of an address the owner signed in from has run out). It logs what it removed (counts only) and each
// failure, goes on after a failure with the next kind of row, and returns the counts and the
// failures joined.
func (s *service) sweep(ctx context.Context) (sweepCounts, error) {
	now := s.now()
	var c sweepCounts
	var errs []error
	run := func(what string, n *int, del func(context.Context) (int, error)) {
		var err error
		*n, err = sweepAll(ctx, del)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("users: sweeping failed", "what", what, "removed", *n, "err", err)
			}
			errs = append(errs, err)
		}
	}
	run("tokens", &c.tokens, func(ctx context.Context) (int, error) {
		return s.store.DeleteExpiredTokens(ctx, now, sweepBatch)
	})
	if s.cfg.TicketRetention > 0 {
		before := now.Add(-s.cfg.TicketRetention)
		run("tickets", &c.tickets, func(ctx context.Context) (int, error) {
			return s.store.DeleteTickets(ctx, before, sweepBatch)
		})
	}
	if ts, ok := s.store.(ThrottleStore); ok {
		before := now.Add(-s.cfg.Throttle.retention())
		run("throttle entries", &c.failures, func(ctx context.Context) (int, error) {
			return ts.DeleteFailures(ctx, before, sweepBatch)
		})
	}
	if c != (sweepCounts{}) {
		s.log.Info("users: swept the store", "tokens", c.tokens, "tickets", c.tickets, "throttleEntries", c.failures)
	}
	return c, errors.Join(errs...)
}

// maxSweepPause caps the pause of a sweep between two batches.
const maxSweepPause = 50 * time.Millisecond

// sweepAll calls del, which removes at most sweepBatch rows, until it removes fewer or fails,
// and returns how many rows it removed in all. Between calls it pauses as long as the last
// call took (at most maxSweepPause), so that other writers, of this process or of others
// sharing the store, get its write lock at least as long as the sweep holds it.
func sweepAll(ctx context.Context, del func(context.Context) (int, error)) (int, error) {
	total := 0
	pause := time.NewTimer(0)
	defer pause.Stop()
	for {
		start := time.Now()
		n, err := del(ctx)
		total += n
		if err != nil || n < sweepBatch {
			return total, err
		}
		pause.Reset(min(time.Since(start), maxSweepPause))
		select {
		case <-ctx.Done():
			return total, ctx.Err()
		case <-pause.C:
		}
	}
}
