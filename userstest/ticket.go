package userstest

import (
	"context"
	"fmt"
	"time"

	"github.com/gousers/users"
)

// WaitTicket waits for the deletion ticket ticketID of svc to end, and returns it: its Status
// is then completed, failed or cancelled, and the caller checks which. It asks svc.Ticket at
// once and then every few milliseconds, until the ticket ends or ctx does (or WaitTimeout
// passes, when ctx has no deadline); it never sleeps for a fixed time.
//
// It returns the error of svc.Ticket at once (users.ErrNotFound for an unknown ticket), and,
// when ctx ends first, the ticket as last seen with an error that wraps ctx's and says how far
// the deletion got. It is safe for concurrent use.
//
// A step that failed waits for its back-off on svc's clock: with a Clock, advance it past
// users.Config.DeletionBackoff, or the ticket never ends.
func WaitTicket(ctx context.Context, svc users.Service, ticketID string) (*users.Ticket, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, WaitTimeout)
		defer cancel()
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var last *users.Ticket
	for {
		t, err := svc.Ticket(ctx, ticketID)
		switch {
		case err != nil && last != nil && ctx.Err() != nil:
			return last, stillRunning(last, ctx.Err())
		case err != nil:
			return nil, err
		case t.Status.Done():
			return t, nil
		}
		last = t
		select {
		case <-tick.C:
		case <-ctx.Done():
			return last, stillRunning(last, ctx.Err())
		}
	}
}

// stillRunning is WaitTicket's error for a ticket that had not ended when ctx did.
func stillRunning(t *users.Ticket, cause error) error {
	return fmt.Errorf("userstest: ticket %s still %s after %d of %d steps: %w",
		t.ID, t.Status, t.StepsDone, t.StepsTotal(), cause)
}
