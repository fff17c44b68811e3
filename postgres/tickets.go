package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gousers/users"
)

// ticketColumns are the columns scanTicket reads, in its order.
const ticketColumns = `id, user_id, status, steps, steps_done, failed_step, message, created,
	updated, attempts, next_attempt, prior_status, owner, lease_until, version, org_id`

func scanTicket(r pgx.Row) (*users.Ticket, error) {
	var (
		t                                         users.Ticket
		status, prior                             string
		created, updated, nextAttempt, leaseUntil time.Time
	)
	if err := r.Scan(&t.ID, &t.UserID, &status, &t.Steps, &t.StepsDone, &t.FailedStep, &t.Message,
		&created, &updated, &t.Attempts, &nextAttempt, &prior, &t.Owner, &leaseUntil, &t.Version,
		&t.OrgID); err != nil {
		return nil, err
	}
	t.Status, t.PriorStatus = users.TicketStatus(status), users.Status(prior)
	t.Created, t.Updated = created.UTC(), updated.UTC()
	t.NextAttempt, t.LeaseUntil = nextAttempt.UTC(), leaseUntil.UTC()
	return &t, nil
}

// ticketValues returns the values of the ticket's columns from user_id to org_id, in the
// order of the INSERT and UPDATE statements below.
func ticketValues(t *users.Ticket) []any {
	return []any{t.UserID, string(t.Status), t.Steps, t.StepsDone, t.FailedStep, t.Message,
		ts(t.Created), ts(t.Updated), t.Attempts, ts(t.NextAttempt), string(t.PriorStatus),
		t.Owner, ts(t.LeaseUntil), t.OrgID}
}

// foundTicket returns the ticket a statement found, or ErrNotFound naming what.
func foundTicket(r pgx.Row, what string) (*users.Ticket, error) {
	t, err := scanTicket(r)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, users.NotFoundError(what)
	}
	return t, err
}

// CreateTicket stores t with Version 1 and sets t.Version to 1. It returns ErrInvalid when t
// has no ID and ErrConflict (Field "id") when the ID is taken. The ticket's user need not
// exist.
func (s *Store) CreateTicket(ctx context.Context, t *users.Ticket) error {
	if t.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	args := append(ticketValues(t), t.ID)
	err := s.write(ctx, true, func(q querier) error {
		_, err := q.Exec(ctx, s.sql(`INSERT INTO _S_.tickets (user_id, status, steps, steps_done,
			failed_step, message, created, updated, attempts, next_attempt, prior_status, owner,
			lease_until, org_id, id, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
			$11, $12, $13, $14, $15, 1)`), args...)
		if code, _ := pgCode(err); code == codeUnique {
			return users.ConflictError("id", "a ticket with this ID exists")
		}
		return err
	})
	if err == nil {
		t.Version = 1
	}
	return err
}

// GetTicket returns the ticket with this ID, or ErrNotFound.
func (s *Store) GetTicket(ctx context.Context, id string) (t *users.Ticket, err error) {
	err = s.read(ctx, func(q querier) error {
		t, err = foundTicket(q.QueryRow(ctx, s.sql("SELECT "+ticketColumns+" FROM _S_.tickets WHERE id = $1"), id), "ticket")
		return err
	})
	return t, err
}

// ListTickets returns the user's tickets, oldest first (by Created, then ID); an empty list,
// and no error, when there are none.
func (s *Store) ListTickets(ctx context.Context, userID string) (out []*users.Ticket, err error) {
	err = s.read(ctx, func(q querier) error {
		rows, err := q.Query(ctx, s.sql("SELECT "+ticketColumns+" FROM _S_.tickets WHERE user_id = $1 ORDER BY created, id"), userID)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []*users.Ticket{}
		for rows.Next() {
			t, err := scanTicket(rows)
			if err != nil {
				return err
			}
			out = append(out, t)
		}
		return rows.Err()
	})
	return out, err
}

// UpdateTicket replaces the stored ticket with t when t.Version equals the stored version,
// storing Version+1 and setting t.Version to it. It returns ErrNotFound when there is no
// ticket with t.ID and ErrConflict (Field "version") when the version is stale.
func (s *Store) UpdateTicket(ctx context.Context, t *users.Ticket) error {
	args := append(ticketValues(t), t.ID, t.Version)
	var version int64
	err := s.write(ctx, false, func(q querier) error {
		err := q.QueryRow(ctx, s.sql(`UPDATE _S_.tickets SET user_id = $1, status = $2, steps = $3,
			steps_done = $4, failed_step = $5, message = $6, created = $7, updated = $8,
			attempts = $9, next_attempt = $10, prior_status = $11, owner = $12, lease_until = $13,
			org_id = $14, version = version + 1 WHERE id = $15 AND version = $16 RETURNING version`),
			args...).Scan(&version)
		if errors.Is(err, pgx.ErrNoRows) {
			return s.staleOrMissing(ctx, q, "tickets", "ticket", t.ID)
		}
		return err
	})
	if err == nil {
		t.Version = version
	}
	return err
}

// ClaimTicket leases the oldest claimable ticket (by Created, then ID) to owner until the time
// until, and returns it with Owner, LeaseUntil and Version updated. A ticket is claimable when
// its status is in-progress, LeaseUntil is not after now and NextAttempt is not after now. It
// returns ErrNotFound when none is.
//
// The claim is one UPDATE of the first claimable ticket that no other claimant has locked
// (FOR UPDATE SKIP LOCKED): of concurrent claimants, in this process or another, only one gets
// a given ticket, and none waits for another. Outside Atomic it runs READ COMMITTED, as a queue
// wants: a ticket claimed by a concurrent claimant is passed over, not a reason to fail.
func (s *Store) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (t *users.Ticket, err error) {
	claim := func(q querier) error {
		t, err = foundTicket(q.QueryRow(ctx, s.sql(`UPDATE _S_.tickets
			SET owner = $1, lease_until = $2, version = version + 1
			WHERE id = (SELECT id FROM _S_.tickets
				WHERE status = 'in-progress' AND lease_until <= $3 AND next_attempt <= $3
				ORDER BY created, id LIMIT 1 FOR UPDATE SKIP LOCKED)
			RETURNING `+ticketColumns), owner, ts(until), ts(now)), "claimable ticket")
		return err
	}
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	if s.tx != nil {
		err = s.inTx(ctx, claim)
	} else {
		err = s.readCommitted(ctx, claim)
	}
	if err != nil {
		return nil, err
	}
	return t, nil
}

// DeleteTickets removes at most limit tickets (every one when limit <= 0) whose status is final
// and whose Updated is before before, those updated first, and returns how many it removed.
// Tickets in progress are never removed. Each call is one statement.
func (s *Store) DeleteTickets(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteBatch(ctx, "tickets", "id", "status <> 'in-progress' AND updated < $1 ORDER BY updated", ts(before), limit)
}
