package postgres_test

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/pgtest"
	"github.com/gousers/users/postgres"
)

// TestMigrateFromFirstSchema fills a schema at version 1, as the first release of the store
// left it, then opens it with this version: nothing is lost, the new columns read as "", and
// what the later migrations add works.
func TestMigrateFromFirstSchema(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dsn, schema := pgtest.Schema(t)
	require.NoError(t, postgres.MigrateTo(ctx, dsn, schema, 1))
	q := `"` + schema + `"`
	key := sha256.Sum256([]byte("key"))
	require.NoError(t, pgtest.Exec(dsn, `INSERT INTO `+q+`.users (id, username, username_folded, email,
		email_folded, name, name_folded, scope, scope_folded, plan, plan_folded, org_id, org_id_folded,
		status, email_verified, metadata, must_change_password, password_reset_disallowed, created,
		updated, version, password_hash)
		VALUES ('u1', 'Ada@example.com', 'ada@example.com', 'Ada@example.com', 'ada@example.com',
		'Ada', 'ada', '{user}', '{user}', '', '', 'org1', 'org1', 'active', true, '{"n": 1}', false,
		false, $1, $1, 3, 'hash')`, t0))
	require.NoError(t, pgtest.Exec(dsn, `INSERT INTO `+q+`.tokens (digest, kind, user_id, created, id, name, prefix)
		VALUES ($1, 'apikey', 'u1', $2, 'k1', 'laptop', 'abc')`, key[:], t0))
	require.NoError(t, pgtest.Exec(dsn, `INSERT INTO `+q+`.tickets (id, user_id, status, steps, steps_done,
		failed_step, message, created, updated, attempts, next_attempt, prior_status, owner, lease_until, version)
		VALUES ('t1', 'gone', 'completed', '{a}', 1, '', '', $1, $1, 0, $1, 'active', '', $1, 2)`, t0))

	s := openStore(t, dsn, schema)
	var migrations int
	require.NoError(t, queryRow(t, dsn, `SELECT count(*) FROM `+q+`.migrations`, &migrations))
	assert.Equal(t, postgres.SchemaVersion, migrations)

	u, err := s.GetUserByUsername(ctx, "ADA@example.com")
	require.NoError(t, err)
	assert.Equal(t, &users.User{ID: "u1", Username: "Ada@example.com", Email: "Ada@example.com", Name: "Ada",
		Scope: []string{"user"}, OrgID: "org1", Status: users.StatusActive, EmailVerified: true,
		Metadata: map[string]any{"n": 1.0}, Created: t0, Updated: t0, Version: 3, PasswordHash: "hash"}, u)
	n, err := s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, n, "the trigger counts a user however it is written")

	keys, err := s.ListTokens(ctx, "u1", users.TokenAPIKey)
	require.NoError(t, err)
	require.Len(t, keys, 1)
	assert.Equal(t, "", keys[0].CreatedBy)
	assert.Equal(t, "laptop", keys[0].Name)
	ticket, err := s.GetTicket(ctx, "t1")
	require.NoError(t, err)
	assert.Equal(t, "", ticket.OrgID)
	assert.Equal(t, int64(2), ticket.Version)

	removed, err := s.DeleteTickets(ctx, t0.Add(time.Second), 0)
	require.NoError(t, err)
	assert.Equal(t, 1, removed, "the finished ticket is removed")
	count, err := s.AddFailure(ctx, key, t0)
	require.NoError(t, err)
	assert.Equal(t, 1, count)
}
