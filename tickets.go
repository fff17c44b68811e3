package users

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// The built-in deletion steps: the first two and the last of every ticket.
const (
	stepRevokeCredentials = "revoke-credentials" // every token, code and API key of the user
	stepRemoveImage       = "remove-image"       // the user's profile image
	stepRemoveUser        = "remove-user"        // the user record itself
)

// maxBackoff caps the wait between attempts at a failing step.
const maxBackoff = time.Hour

func (s *service) Delete(ctx context.Context, userID string) (*Ticket, error) {
	steps := make([]string, 0, len(s.cfg.DeletionSteps)+3)
	steps = append(steps, stepRevokeCredentials, stepRemoveImage)
	for _, st := range s.cfg.DeletionSteps {
		steps = append(steps, st.Name)
	}
	steps = append(steps, stepRemoveUser)

	var ticket *Ticket
	created := false
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		created = false
		u, err := lookup(ctx, tx, ActionDelete, userID)
		if err != nil {
			return err
		}
		if ticket, err = inProgressTicket(ctx, tx, userID); err != nil || ticket != nil {
			return err
		}
		if IsAdmin(u) {
			if err := keepAnAdmin(ctx, tx); err != nil {
				return err
			}
		}
		now := s.now()
		ticket = &Ticket{
			ID: newID(), UserID: userID, Status: TicketInProgress, Steps: steps,
			Created: now, Updated: now, NextAttempt: now, PriorStatus: u.Status, OrgID: u.OrgID,
		}
		if err := tx.CreateTicket(ctx, ticket); err != nil {
			return err
		}
		// From now on the user can neither sign in nor authenticate.
		u.Status = StatusDisabled
		u.Updated = now
		created = true
		if err := tx.UpdateUser(ctx, u); err != nil {
			return err
		}
		return revokeAll.apply(ctx, tx, userID, Digest{})
	})
	if err != nil {
		return nil, s.storeErr(ctx, "start deletion", err)
	}
	if created {
		s.emit(ctx, Event{Type: EventDeletionStarted, UserID: userID, TicketID: ticket.ID, ActorID: actorID(ctx, userID)})
		s.poke()
	}
	return ticket, nil
}

// inProgressTicket returns the user's deletion ticket in progress, or nil.
func inProgressTicket(ctx context.Context, st Store, userID string) (*Ticket, error) {
	tickets, err := st.ListTickets(ctx, userID)
	if err != nil {
		return nil, err
	}
	for _, t := range tickets {
		if t.Status == TicketInProgress {
			return t, nil
		}
	}
	return nil, nil
}

func (s *service) Ticket(ctx context.Context, ticketID string) (*Ticket, error) {
	t, err := ticketFor(ctx, s.store, ticketID)
	if err != nil {
		return nil, s.storeErr(ctx, "get ticket", err)
	}
	return t, nil
}

// ticketFor reads the ticket for the actor of ctx, who must be allowed to delete its user:
// the user as they are or, once gone, as the ticket recorded them (their ID and
// organization). An unknown ticket is ErrNotFound to an actor who may delete users they do
// not know, and the policy's ErrForbidden to any other.
func ticketFor(ctx context.Context, st Store, ticketID string) (*Ticket, error) {
	t, err := st.GetTicket(ctx, ticketID)
	p := actorOf(ctx)
	switch {
	case p == nil:
		return t, err
	case err != nil:
		_, err = authorizeFound(ctx, ActionDelete, nil, err) // as for an unknown user
		return nil, err
	}
	u, err := st.GetUser(ctx, t.UserID)
	switch {
	case errors.Is(err, ErrNotFound):
		u = &User{ID: t.UserID, OrgID: t.OrgID, Status: StatusDisabled}
	case err != nil:
		return nil, err
	}
	if err := authorize(ctx, ActionDelete, u); err != nil {
		return nil, err
	}
	return t, nil
}

func (s *service) CancelDeletion(ctx context.Context, ticketID string) (*Ticket, error) {
	var t *Ticket
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		var err error
		if t, err = ticketFor(ctx, tx, ticketID); err != nil {
			return err
		}
		if t.Status.Done() {
			return conflict("status", fmt.Sprintf("the deletion is %s and can no longer be cancelled", t.Status))
		}
		now := s.now()
		t.Status, t.Updated, t.Owner, t.LeaseUntil = TicketCancelled, now, "", time.Time{}
		if err := tx.UpdateTicket(ctx, t); err != nil {
			return err
		}
		u, err := tx.GetUser(ctx, t.UserID)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		u.Status, u.Updated = t.PriorStatus, now
		return tx.UpdateUser(ctx, u)
	})
	if err != nil {
		return nil, s.storeErr(ctx, "cancel deletion", err)
	}
	s.emit(ctx, Event{Type: EventDeletionCancelled, UserID: t.UserID, TicketID: t.ID, ActorID: actorID(ctx, t.UserID)})
	return t, nil
}

// poke wakes the worker without blocking.
func (s *service) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *service) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		close(s.done)
		s.mu.Unlock()
		s.stopWork()
	})
	s.wg.Wait()
	return nil
}

// work is the deletion worker: it claims due tickets one at a time and runs them, then waits
// to be poked or for the poll interval.
func (s *service) work() {
	defer s.wg.Done()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-s.done:
			return
		case <-s.wake:
		case <-timer.C:
		}
		for s.runNext() {
		}
		timer.Reset(s.cfg.PollInterval)
	}
}

// runNext claims one due ticket and runs it as far as it goes. It reports whether it found one.
func (s *service) runNext() bool {
	ctx := s.workCtx
	if ctx.Err() != nil {
		return false
	}
	now := s.now()
	t, err := s.store.ClaimTicket(ctx, s.workerID, now, now.Add(s.cfg.TicketLease))
	if err != nil {
		if !errors.Is(err, ErrNotFound) && ctx.Err() == nil {
			s.log.Error("users: claiming a deletion ticket failed", "err", err)
		}
		return false
	}
	s.runTicket(ctx, t)
	return true
}

// runTicket runs t's remaining steps while it holds the lease. It stops at a failing step
// (scheduling a retry or failing the ticket), when the ticket changes under it (cancelled or
// taken over), or when the Service closes.
func (s *service) runTicket(ctx context.Context, t *Ticket) {
	for t.StepsDone < len(t.Steps) {
		if ctx.Err() != nil {
			return // the lease runs out and the next Service resumes the ticket
		}
		name := t.Steps[t.StepsDone]
		if name == stepRemoveUser {
			s.finish(ctx, t)
			return
		}
		if err := s.runStep(ctx, t, name); err != nil {
			if ctx.Err() != nil {
				return
			}
			s.stepFailed(ctx, t, name, err)
			return
		}
		now := s.now()
		t.StepsDone++
		t.Attempts = 0
		t.Updated = now
		t.LeaseUntil = now.Add(s.cfg.TicketLease)
		if err := s.store.UpdateTicket(ctx, t); err != nil {
			s.logTicketLost(t, err)
			return
		}
		s.emit(ctx, Event{Type: EventDeletionStep, UserID: t.UserID, TicketID: t.ID, Step: name})
	}
}

// runStep runs one step other than the last, turning a panic into an error.
func (s *service) runStep(ctx context.Context, t *Ticket, name string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("step panicked: %v", r)
		}
	}()
	switch name {
	case stepRevokeCredentials:
		_, err := s.store.DeleteUserTokens(ctx, t.UserID)
		return err
	case stepRemoveImage:
		if err := s.store.DeleteImage(ctx, t.UserID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		return nil
	}
	for _, st := range s.cfg.DeletionSteps {
		if st.Name == name {
			return st.Run(ctx, t.UserID)
		}
	}
	return fmt.Errorf("deletion step %q is not registered in this process", name)
}

// finish removes the user and completes the ticket in one transaction, so that a cancel
// cannot slip in between.
func (s *service) finish(ctx context.Context, t *Ticket) {
	err := s.store.Atomic(ctx, func(ctx context.Context, tx Store) error {
		if err := tx.DeleteUser(ctx, t.UserID); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		now := s.now()
		t.StepsDone = len(t.Steps)
		t.Status, t.Updated, t.Owner, t.LeaseUntil = TicketCompleted, now, "", time.Time{}
		return tx.UpdateTicket(ctx, t) // ErrConflict when cancelled or taken over: all rolls back
	})
	if err != nil {
		if errors.Is(err, ErrConflict) || ctx.Err() != nil {
			s.logTicketLost(t, err)
			return
		}
		s.stepFailed(ctx, t, stepRemoveUser, err)
		return
	}
	s.emit(ctx, Event{Type: EventDeletionStep, UserID: t.UserID, TicketID: t.ID, Step: stepRemoveUser})
	s.emit(ctx, Event{Type: EventDeletionCompleted, UserID: t.UserID, TicketID: t.ID})
}

// stepFailed schedules another attempt at the step with exponential back-off, releasing the
// lease, or fails the ticket when the attempts are spent.
func (s *service) stepFailed(ctx context.Context, t *Ticket, name string, cause error) {
	now := s.now()
	t.Attempts++
	t.Updated, t.Owner, t.LeaseUntil = now, "", time.Time{}
	final := t.Attempts >= s.cfg.DeletionAttempts
	if final {
		t.Status = TicketFailed
		t.FailedStep = name
		t.Message = fmt.Sprintf("step %q failed after %d attempts", name, t.Attempts)
	} else {
		t.NextAttempt = now.Add(backoff(s.cfg.DeletionBackoff, t.Attempts))
	}
	s.log.Warn("users: deletion step failed", "ticket", t.ID, "user", t.UserID, "step", name,
		"attempt", t.Attempts, "final", final, "err", cause)
	if err := s.store.UpdateTicket(ctx, t); err != nil {
		s.logTicketLost(t, err)
		return
	}
	if final {
		s.emit(ctx, Event{Type: EventDeletionFailed, UserID: t.UserID, TicketID: t.ID, Step: name})
	}
}

// backoff returns the wait before attempt n+1: base doubled n-1 times, capped at maxBackoff.
func backoff(base time.Duration, n int) time.Duration {
	d := base
	for i := 1; i < n && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff)
}

// logTicketLost notes that the worker stopped on a ticket it no longer holds: it was
// cancelled, or its lease ran out and another worker took it.
func (s *service) logTicketLost(t *Ticket, err error) {
	s.log.Info("users: stopped working on a deletion ticket", "ticket", t.ID, "err", err)
}
