package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/gousers/users"
)

// ticketColumns are the columns scanTicket reads, in its order.
const ticketColumns = `id, user_id, status, steps, steps_done, failed_step, message, created,
	updated, attempts, next_attempt, prior_status, owner, lease_until, version, org_id`

func scanTicket(r scanner) (*users.Ticket, error) {
	var (
		t                                         users.Ticket
		status, prior                             string
		steps                                     sql.NullString
		created, updated, nextAttempt, leaseUntil int64
	)
	if err := r.Scan(&t.ID, &t.UserID, &status, &steps, &t.StepsDone, &t.FailedStep, &t.Message,
		&created, &updated, &t.Attempts, &nextAttempt, &prior, &t.Owner, &leaseUntil, &t.Version, &t.OrgID); err != nil {
		return nil, err
	}
	t.Status, t.PriorStatus = users.TicketStatus(status), users.Status(prior)
	t.Created, t.Updated = fromMicros(created), fromMicros(updated)
	t.NextAttempt, t.LeaseUntil = fromMicros(nextAttempt), fromMicros(leaseUntil)
	var err error
	t.Steps, err = decodeList(steps)
	return &t, err
}

// ticketValues returns the values of the ticket's columns from user_id to lease_until, in the
// order of the INSERT and UPDATE statements below, which add org_id after them.
func ticketValues(t *users.Ticket) ([]any, error) {
	steps, err := encodeList(t.Steps)
	if err != nil {
		return nil, err
	}
	return []any{t.UserID, string(t.Status), steps, t.StepsDone, t.FailedStep, t.Message,
		micros(t.Created), micros(t.Updated), t.Attempts, micros(t.NextAttempt),
		string(t.PriorStatus), t.Owner, micros(t.LeaseUntil)}, nil
}

// foundTicket returns the ticket a statement found, or ErrNotFound naming what.
func foundTicket(ctx context.Context, r *sql.Row, what string) (*users.Ticket, error) {
	t, err := scanTicket(r)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, users.NotFoundError(what)
	}
	if err != nil {
		return nil, dbError(ctx, err)
	}
	return t, nil
}

// CreateTicket stores t with Version 1 and sets t.Version to 1. It returns ErrInvalid when t
// has no ID and ErrConflict (Field "id") when the ID is taken. The ticket's user need not
// exist.
func (s *Store) CreateTicket(ctx context.Context, t *users.Ticket) error {
	if t.ID == "" {
		return &users.Error{Code: users.CodeInvalid, Field: "id", Message: "is required"}
	}
	vals, err := ticketValues(t)
	if err != nil {
		return err
	}
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		_, err := q.ExecContext(ctx, `INSERT INTO tickets (user_id, status, steps, steps_done,
			failed_step, message, created, updated, attempts, next_attempt, prior_status, owner,
			lease_until, org_id, id, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`,
			append(vals, t.OrgID, t.ID)...)
		if isUnique(err) {
			return users.ConflictError("id", "a ticket with this ID exists")
		}
		return dbError(ctx, err)
	})
	if err == nil {
		t.Version = 1
	}
	return err
}

// GetTicket returns the ticket with this ID, or ErrNotFound.
func (s *Store) GetTicket(ctx context.Context, id string) (*users.Ticket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	return foundTicket(ctx, s.reader().QueryRowContext(ctx, "SELECT "+ticketColumns+" FROM tickets WHERE id = ?", id), "ticket")
}

// ListTickets returns the user's tickets, oldest first (by Created, then ID); an empty list,
// and no error, when there are none.
func (s *Store) ListTickets(ctx context.Context, userID string) ([]*users.Ticket, error) {
	if err := s.check(ctx); err != nil {
		return nil, err
	}
	rows, err := s.reader().QueryContext(ctx, "SELECT "+ticketColumns+" FROM tickets WHERE user_id = ? ORDER BY created, id", userID)
	if err != nil {
		return nil, dbError(ctx, err)
	}
	defer rows.Close()
	out := []*users.Ticket{}
	for rows.Next() {
		t, err := scanTicket(rows)
		if err != nil {
			return nil, dbError(ctx, err)
		}
		out = append(out, t)
	}
	return out, dbError(ctx, rows.Err())
}

// UpdateTicket replaces the stored ticket with t when t.Version equals the stored version,
// storing Version+1 and setting t.Version to it. It returns ErrNotFound when there is no
// ticket with t.ID and ErrConflict (Field "version") when the version is stale.
func (s *Store) UpdateTicket(ctx context.Context, t *users.Ticket) error {
	vals, err := ticketValues(t)
	if err != nil {
		return err
	}
	var version int64
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		err := q.QueryRowContext(ctx, `UPDATE tickets SET user_id = ?, status = ?, steps = ?,
			steps_done = ?, failed_step = ?, message = ?, created = ?, updated = ?, attempts = ?,
			next_attempt = ?, prior_status = ?, owner = ?, lease_until = ?, org_id = ?,
			version = version + 1 WHERE id = ? AND version = ? RETURNING version`,
			append(vals, t.OrgID, t.ID, t.Version)...).Scan(&version)
		if errors.Is(err, sql.ErrNoRows) {
			return staleOrMissing(ctx, q, "tickets", "ticket", t.ID)
		}
		return dbError(ctx, err)
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
// The claim is one UPDATE in a write transaction, which holds the database's write lock: of
// concurrent claimants, in this process or another on the same file, only one gets a ticket.
func (s *Store) ClaimTicket(ctx context.Context, owner string, now, until time.Time) (t *users.Ticket, err error) {
	err = s.write(ctx, func(ctx context.Context, q conn) error {
		t, err = foundTicket(ctx, q.QueryRowContext(ctx, `UPDATE tickets
			SET owner = ?, lease_until = ?, version = version + 1
			WHERE id = (SELECT id FROM tickets
				WHERE status = 'in-progress' AND lease_until <= ?3 AND next_attempt <= ?3
				ORDER BY created, id LIMIT 1)
			RETURNING `+ticketColumns, owner, micros(until), micros(now)), "claimable ticket")
		return err
	})
	return t, err
}

// deleteTickets removes at most ?2 finished tickets (every one for -1) last changed before ?1,
// those changed first, as the partial index tickets_done gives them: no scan, no sort. Its
// condition on status is the index's, word for word, so that the planner can use it.
const deleteTickets = `DELETE FROM tickets WHERE id IN (SELECT id FROM tickets
	WHERE status IN ('completed', 'failed', 'cancelled') AND updated < ?1
	ORDER BY updated LIMIT ?2)`

// DeleteTickets removes at most limit tickets (every one when limit <= 0) whose status is
// completed, failed or cancelled and whose Updated is before before, those changed first, and
// returns how many it removed. Tickets in progress are never removed. It is one statement.
func (s *Store) DeleteTickets(ctx context.Context, before time.Time, limit int) (int, error) {
	return s.deleteRows(ctx, deleteTickets, micros(before), sqlLimit(limit))
}
