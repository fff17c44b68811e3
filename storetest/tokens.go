package storetest

import (
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var tokenChecks = []check{
	{"PutGetToken", testPutGetToken},
	{"PutTokenConflict", testPutTokenConflict},
	{"PutTokenUserNotFound", testPutTokenUserNotFound},
	{"GetTokenExpiry", testGetTokenExpiry},
	{"ConsumeToken", testConsumeToken},
	{"ConsumeTokenWrongKind", testConsumeTokenWrongKind},
	{"ConsumeTokenExpired", testConsumeTokenExpired},
	{"DeleteToken", testDeleteToken},
	{"DeleteUserTokens", testDeleteUserTokens},
	{"DeleteExpiredTokens", testDeleteExpiredTokens},
	{"ConcurrentConsume", testConcurrentConsume},
}

// withUsers stores a user for each ID.
func withUsers(t *testing.T, s users.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		createUser(t, s, newUser(id, id+"@example.com"))
	}
}

func testPutGetToken(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	kinds := []users.TokenKind{users.TokenSession, users.TokenReset, users.TokenVerify, users.TokenAPIKey}
	var want []*users.Token
	for i, kind := range kinds {
		tok := newToken(string(kind), kind, "u1", day(i+1))
		if kind == users.TokenAPIKey {
			tok.Expires = time.Time{} // never expires
		}
		want = append(want, tok)
		require.NoError(t, s.PutToken(ctx, tok))
	}
	for _, w := range want {
		got, err := s.GetToken(ctx, w.Digest, epoch)
		if assert.NoError(t, err, "GetToken(%s)", w.Kind) {
			assert.Equal(t, w, got)
		}
	}
	got, err := s.GetToken(ctx, digest(string(users.TokenAPIKey)), day(365*100))
	if assert.NoError(t, err, "a token without expiry never expires") {
		assert.Equal(t, want[3], got)
	}
	_, err = s.GetToken(ctx, digest("unknown"), epoch)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func testPutTokenConflict(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	first := newToken("secret", users.TokenSession, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, first))

	for _, dup := range []*users.Token{
		newToken("secret", users.TokenSession, "u1", day(1)),
		newToken("secret", users.TokenReset, "u2", day(2)),
	} {
		assert.ErrorIs(t, s.PutToken(ctx, dup), users.ErrConflict)
	}
	got, err := s.GetToken(ctx, first.Digest, epoch)
	require.NoError(t, err)
	assert.Equal(t, first, got, "a conflicting token replaces nothing")
}

func testPutTokenUserNotFound(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("secret", users.TokenSession, "nobody", day(1))
	assert.ErrorIs(t, s.PutToken(ctx, tok), users.ErrNotFound)
	_, err := s.GetToken(ctx, tok.Digest, epoch)
	assert.ErrorIs(t, err, users.ErrNotFound, "a token of no user is not stored")
}

func testGetTokenExpiry(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("secret", users.TokenSession, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, tok))

	for _, tc := range []struct {
		name  string
		now   time.Time
		found bool
	}{
		{"before creation", epoch.Add(-time.Hour), true},
		{"at creation", epoch, true},
		{"a microsecond before expiry", day(1).Add(-time.Microsecond), true},
		{"at expiry", day(1), false},
		{"after expiry", day(2), false},
		{"at expiry in another zone", day(1).In(time.FixedZone("UTC+2", 2*3600)), false},
	} {
		got, err := s.GetToken(ctx, tok.Digest, tc.now)
		if tc.found {
			if assert.NoError(t, err, tc.name) {
				assert.Equal(t, tok, got, tc.name)
			}
		} else {
			assert.ErrorIs(t, err, users.ErrNotFound, tc.name)
		}
	}
}

func testConsumeToken(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("code", users.TokenReset, "u1", day(1))
	other := newToken("other", users.TokenReset, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, tok))
	require.NoError(t, s.PutToken(ctx, other))

	got, err := s.ConsumeToken(ctx, tok.Digest, users.TokenReset, epoch)
	require.NoError(t, err)
	assert.Equal(t, tok, got)

	_, err = s.ConsumeToken(ctx, tok.Digest, users.TokenReset, epoch)
	assert.ErrorIs(t, err, users.ErrNotFound, "a token is consumed once")
	_, err = s.GetToken(ctx, tok.Digest, epoch)
	assert.ErrorIs(t, err, users.ErrNotFound, "a consumed token is removed")
	_, err = s.GetToken(ctx, other.Digest, epoch)
	assert.NoError(t, err, "consuming one token leaves the others")
	_, err = s.ConsumeToken(ctx, digest("unknown"), users.TokenReset, epoch)
	assert.ErrorIs(t, err, users.ErrNotFound)
}

func testConsumeTokenWrongKind(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("code", users.TokenVerify, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, tok))

	for _, kind := range []users.TokenKind{users.TokenReset, users.TokenSession, users.TokenAPIKey} {
		_, err := s.ConsumeToken(ctx, tok.Digest, kind, epoch)
		assert.ErrorIs(t, err, users.ErrNotFound, "kind %s", kind)
	}
	got, err := s.GetToken(ctx, tok.Digest, epoch)
	if assert.NoError(t, err, "a token of another kind is not consumed") {
		assert.Equal(t, tok, got)
	}
	got, err = s.ConsumeToken(ctx, tok.Digest, users.TokenVerify, epoch)
	if assert.NoError(t, err) {
		assert.Equal(t, tok, got)
	}
}

func testConsumeTokenExpired(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("code", users.TokenReset, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, tok))

	_, err := s.ConsumeToken(ctx, tok.Digest, users.TokenReset, day(1))
	assert.ErrorIs(t, err, users.ErrNotFound, "at expiry")
	_, err = s.ConsumeToken(ctx, tok.Digest, users.TokenReset, day(3))
	assert.ErrorIs(t, err, users.ErrNotFound, "after expiry")
	got, err := s.ConsumeToken(ctx, tok.Digest, users.TokenReset, day(1).Add(-time.Microsecond))
	if assert.NoError(t, err, "just before expiry") {
		assert.Equal(t, tok, got)
	}
}

func testDeleteToken(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	tok := newToken("secret", users.TokenSession, "u1", day(1))
	keep := newToken("keep", users.TokenSession, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, tok))
	require.NoError(t, s.PutToken(ctx, keep))

	require.NoError(t, s.DeleteToken(ctx, tok.Digest))
	_, err := s.GetToken(ctx, tok.Digest, epoch)
	assert.ErrorIs(t, err, users.ErrNotFound)
	assert.ErrorIs(t, s.DeleteToken(ctx, tok.Digest), users.ErrNotFound, "the second delete")
	assert.ErrorIs(t, s.DeleteToken(ctx, digest("unknown")), users.ErrNotFound)
	_, err = s.GetToken(ctx, keep.Digest, epoch)
	assert.NoError(t, err, "other tokens stay")

	require.NoError(t, s.PutToken(ctx, tok), "a deleted token's digest is free")
}

func testDeleteUserTokens(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	mine := map[string]users.TokenKind{
		"s1": users.TokenSession, "s2": users.TokenSession, "r1": users.TokenReset,
		"v1": users.TokenVerify, "k1": users.TokenAPIKey,
	}
	for secret, kind := range mine {
		require.NoError(t, s.PutToken(ctx, newToken(secret, kind, "u1", day(1))))
	}
	for secret, kind := range map[string]users.TokenKind{"os": users.TokenSession, "or": users.TokenReset} {
		require.NoError(t, s.PutToken(ctx, newToken(secret, kind, "u2", day(1))))
	}
	found := func(secret string) bool {
		_, err := s.GetToken(ctx, digest(secret), epoch)
		return err == nil
	}

	n, err := s.DeleteUserTokens(ctx, "u1", users.TokenReset, users.TokenVerify)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "reset and verify codes")
	assert.False(t, found("r1"))
	assert.False(t, found("v1"))
	assert.True(t, found("s1"))
	assert.True(t, found("s2"))
	assert.True(t, found("k1"))

	n, err = s.DeleteUserTokens(ctx, "u1", users.TokenReset)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left of that kind")

	n, err = s.DeleteUserTokens(ctx, "u1", users.TokenSession)
	require.NoError(t, err)
	assert.Equal(t, 2, n, "sessions")
	assert.True(t, found("k1"))

	require.NoError(t, s.PutToken(ctx, newToken("s3", users.TokenSession, "u1", day(1))))
	n, err = s.DeleteUserTokens(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, 2, n, "no kinds given: every kind")
	assert.False(t, found("k1"))
	assert.False(t, found("s3"))

	assert.True(t, found("os"), "another user's tokens stay")
	assert.True(t, found("or"), "another user's tokens stay")

	n, err = s.DeleteUserTokens(ctx, "nobody")
	require.NoError(t, err)
	assert.Zero(t, n)
}

func testDeleteExpiredTokens(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	now := day(2)
	for _, tok := range []*users.Token{
		newToken("expired long ago", users.TokenSession, "u1", day(1)),
		newToken("expires now", users.TokenReset, "u2", now),
		newToken("expires later", users.TokenSession, "u1", now.Add(time.Microsecond)),
		newToken("never expires", users.TokenAPIKey, "u2", time.Time{}),
	} {
		require.NoError(t, s.PutToken(ctx, tok))
	}

	n, err := s.DeleteExpiredTokens(ctx, now)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	n, err = s.DeleteExpiredTokens(ctx, now)
	require.NoError(t, err)
	assert.Zero(t, n, "nothing left to remove")

	for secret, wantFound := range map[string]bool{
		"expired long ago": false, "expires now": false, "expires later": true, "never expires": true,
	} {
		_, err := s.GetToken(ctx, digest(secret), epoch)
		if wantFound {
			assert.NoError(t, err, "token %q", secret)
		} else {
			assert.ErrorIs(t, err, users.ErrNotFound, "token %q is removed, not only hidden", secret)
		}
	}
}

func testConcurrentConsume(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	tok := newToken("code", users.TokenReset, "u1", day(1))
	require.NoError(t, s.PutToken(t.Context(), tok))

	const n = 50
	got := make([]*users.Token, n)
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		got[i], errs[i] = s.ConsumeToken(t.Context(), tok.Digest, users.TokenReset, epoch)
	})

	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			assert.Equal(t, tok, got[i])
			continue
		}
		assert.ErrorIs(t, err, users.ErrNotFound, "goroutine %d", i)
	}
	assert.Equal(t, 1, wins, "exactly one consumer succeeds")
}
