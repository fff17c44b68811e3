package storetest

import (
	"fmt"
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
	{"DeleteExpiredTokensLimit", testDeleteExpiredTokensLimit},
	{"ConcurrentConsume", testConcurrentConsume},
	{"APIKeyFields", testAPIKeyFields},
	{"APIKeyCreatedBy", testAPIKeyCreatedBy},
	{"CopiesOfTokens", testTokenCopies},
	{"ListTokensOldestFirst", testListTokensOrder},
	{"ListTokensByKind", testListTokensByKind},
	{"ListTokensIncludesExpired", testListTokensExpired},
	{"ListTokensUnknownUser", testListTokensUnknownUser},
	{"ListTokensAfterRemovals", testListTokensAfterRemovals},
	{"TouchToken", testTouchToken},
	{"TouchTokenMovesForwardOnly", testTouchTokenForwardOnly},
	{"TouchTokenNotFound", testTouchTokenNotFound},
	{"TouchTokenExpired", testTouchTokenExpired},
	{"TouchTokenAnyKind", testTouchTokenAnyKind},
	{"ConcurrentTouchToken", testConcurrentTouch},
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

	n, err := s.DeleteExpiredTokens(ctx, now, 0)
	require.NoError(t, err)
	assert.Equal(t, 2, n)

	n, err = s.DeleteExpiredTokens(ctx, now, 0)
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

func testDeleteExpiredTokensLimit(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	now := day(2)
	n, err := s.DeleteExpiredTokens(ctx, now, 3)
	require.NoError(t, err)
	assert.Zero(t, n, "an empty store")

	// Tokens that have not expired at now, and must survive every call.
	live := []string{"expires later", "never expires", "api key"}
	require.NoError(t, s.PutToken(ctx, newToken(live[0], users.TokenSession, "u1", now.Add(time.Microsecond))))
	require.NoError(t, s.PutToken(ctx, newToken(live[1], users.TokenSession, "u2", time.Time{})))
	require.NoError(t, s.PutToken(ctx, newAPIKey(live[2], "u1", "k1", "key", epoch)))
	n, err = s.DeleteExpiredTokens(ctx, now, 3)
	require.NoError(t, err)
	assert.Zero(t, n, "no token has expired")

	for _, tc := range boundedDeleteCases {
		t.Run(tc.name, func(t *testing.T) {
			var secrets []string
			for i := range boundedDeleteRows {
				secret := fmt.Sprintf("%s %d", tc.name, i)
				secrets = append(secrets, secret)
				kind := []users.TokenKind{users.TokenSession, users.TokenReset, users.TokenVerify}[i%3]
				// Expired up to four hours before now, the last exactly at now.
				expires := now.Add(-time.Duration(boundedDeleteRows-1-i) * time.Hour)
				require.NoError(t, s.PutToken(ctx, newToken(secret, kind, []string{"u1", "u2"}[i%2], expires)))
			}
			checkBoundedDelete(t, tc.limit, tc.want, "expired tokens",
				func(limit int) (int, error) { return s.DeleteExpiredTokens(ctx, now, limit) },
				func() int { return countStored(t, s, secrets...) },
				func(call int) {
					assert.Equal(t, len(live), countStored(t, s, live...), "live tokens left after call %d", call)
				})
		})
	}
}

// countStored returns how many of the secrets' tokens are stored, found by GetToken before
// any has expired.
func countStored(t *testing.T, s users.Store, secrets ...string) int {
	t.Helper()
	n := 0
	for _, secret := range secrets {
		_, err := s.GetToken(t.Context(), digest(secret), epoch)
		if err == nil {
			n++
		} else {
			require.ErrorIs(t, err, users.ErrNotFound, "GetToken(%s)", secret)
		}
	}
	return n
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

// newAPIKey returns an API key of the user's that never expires, with its ID, name and prefix,
// never used.
func newAPIKey(secret, userID, id, name string, created time.Time) *users.Token {
	return &users.Token{
		Digest: digest(secret), Kind: users.TokenAPIKey, UserID: userID, Created: created,
		ID: id, Name: name, Prefix: "uk_" + secret[:min(4, len(secret))],
	}
}

// digestOf returns the digest whose first bytes are b and the rest zero: digests whose order
// is plain to see.
func digestOf(b ...byte) users.Digest {
	var d users.Digest
	copy(d[:], b)
	return d
}

// listTokens returns ListTokens(userID, kind), requiring success.
func listTokens(t *testing.T, s users.Store, userID string, kind users.TokenKind) []*users.Token {
	t.Helper()
	list, err := s.ListTokens(t.Context(), userID, kind)
	require.NoError(t, err, "ListTokens(%s, %s)", userID, kind)
	return list
}

// tokenNames returns the Name of each token, in order.
func tokenNames(ts []*users.Token) []string {
	names := make([]string, len(ts))
	for i, tok := range ts {
		names[i] = tok.Name
	}
	return names
}

// lastUsed returns the LastUsed time of the token with this digest, found with GetToken at
// epoch, requiring success.
func lastUsed(t *testing.T, s users.Store, d users.Digest) time.Time {
	t.Helper()
	tok, err := s.GetToken(t.Context(), d, epoch)
	require.NoError(t, err, "GetToken")
	return tok.LastUsed
}

func testAPIKeyFields(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	key := &users.Token{
		Digest: digest("uk_live_secret"), Kind: users.TokenAPIKey, UserID: "u1",
		Created: epoch, Expires: day(90),
		ID: "0b9d6a4e-5f0c-4d7e-9a51-3c2f1e8b7a60", Name: "CI deploy key", Prefix: "uk_live_",
		LastUsed: day(1).Add(42 * time.Minute),
	}
	never := newAPIKey("never used", "u1", "6f1c2b3a-0000-4000-8000-000000000001", "", day(1))
	session := newToken("session", users.TokenSession, "u1", day(1))
	for _, tok := range []*users.Token{key, never, session} {
		require.NoError(t, s.PutToken(ctx, tok))
	}
	wantKey := &users.Token{
		Digest: digest("uk_live_secret"), Kind: users.TokenAPIKey, UserID: "u1",
		Created: epoch, Expires: day(90),
		ID: "0b9d6a4e-5f0c-4d7e-9a51-3c2f1e8b7a60", Name: "CI deploy key", Prefix: "uk_live_",
		LastUsed: day(1).Add(42 * time.Minute),
	}
	wantNever := &users.Token{
		Digest: digest("never used"), Kind: users.TokenAPIKey, UserID: "u1", Created: day(1),
		ID: "6f1c2b3a-0000-4000-8000-000000000001", Prefix: "uk_neve",
	}
	wantSession := &users.Token{Digest: digest("session"), Kind: users.TokenSession, UserID: "u1", Created: epoch, Expires: day(1)}

	for _, want := range []*users.Token{wantKey, wantNever, wantSession} {
		got, err := s.GetToken(ctx, want.Digest, epoch)
		if assert.NoError(t, err, "GetToken(%s)", want.Prefix) {
			assert.Equal(t, want, got, "GetToken: the empty name, prefix, ID and zero LastUsed stay empty and zero")
		}
	}
	assert.Equal(t, []*users.Token{wantKey, wantNever}, listTokens(t, s, "u1", users.TokenAPIKey), "ListTokens")
	got, err := s.ConsumeToken(ctx, key.Digest, users.TokenAPIKey, epoch)
	if assert.NoError(t, err) {
		assert.Equal(t, wantKey, got, "ConsumeToken returns the fields too")
	}
}

func testAPIKeyCreatedBy(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "admin")
	minted := newAPIKey("minted", "u1", "k1", "minted by an administrator", epoch)
	minted.CreatedBy = "admin"
	own := newAPIKey("own", "u1", "k2", "minted by its owner", day(1))
	for _, tok := range []*users.Token{minted, own} {
		require.NoError(t, s.PutToken(ctx, tok))
	}
	wantMinted := newAPIKey("minted", "u1", "k1", "minted by an administrator", epoch)
	wantMinted.CreatedBy = "admin"
	wantOwn := newAPIKey("own", "u1", "k2", "minted by its owner", day(1))

	for _, want := range []*users.Token{wantMinted, wantOwn} {
		got, err := s.GetToken(ctx, want.Digest, epoch)
		if assert.NoError(t, err, "GetToken(%s)", want.Name) {
			assert.Equal(t, want, got, "GetToken(%s)", want.Name)
		}
	}
	assert.Equal(t, []*users.Token{wantMinted, wantOwn}, listTokens(t, s, "u1", users.TokenAPIKey), "ListTokens")

	require.NoError(t, s.TouchToken(ctx, minted.Digest, day(2)))
	wantMinted.LastUsed = day(2)
	got, err := s.GetToken(ctx, minted.Digest, epoch)
	if assert.NoError(t, err) {
		assert.Equal(t, wantMinted, got, "TouchToken keeps CreatedBy")
	}

	require.NoError(t, s.DeleteUser(ctx, "admin"))
	got, err = s.GetToken(ctx, minted.Digest, epoch)
	if assert.NoError(t, err, "a key outlives the user who created it for its owner") {
		assert.Equal(t, wantMinted, got, "CreatedBy names the deleted user still")
	}
	got, err = s.ConsumeToken(ctx, minted.Digest, users.TokenAPIKey, epoch)
	if assert.NoError(t, err) {
		assert.Equal(t, wantMinted, got, "ConsumeToken returns CreatedBy")
	}
}

func testTokenCopies(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	key := newAPIKey("key", "u1", "id-1", "laptop", epoch)
	key.CreatedBy = "admin"
	want := newAPIKey("key", "u1", "id-1", "laptop", epoch)
	want.CreatedBy = "admin"
	mutate := func(tok *users.Token) {
		tok.Name, tok.Prefix, tok.ID, tok.CreatedBy = "mutated", "mutated", "mutated", "mutated"
		tok.LastUsed = day(7)
		tok.Digest[0]++
	}
	assertKey := func(msg string) {
		t.Helper()
		got, err := s.GetToken(ctx, want.Digest, epoch)
		if assert.NoError(t, err, msg) {
			assert.Equal(t, want, got, msg)
		}
	}

	require.NoError(t, s.PutToken(ctx, key))
	mutate(key)
	assertKey("after the token passed to PutToken changed")

	got, err := s.GetToken(ctx, want.Digest, epoch)
	require.NoError(t, err)
	mutate(got)
	assertKey("after a token GetToken returned changed")

	list := listTokens(t, s, "u1", users.TokenAPIKey)
	require.Len(t, list, 1)
	mutate(list[0])
	assertKey("after a token ListTokens returned changed")
}

func testListTokensOrder(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	// Named in the order ListTokens must return them, stored in another order. Digests are
	// given as bytes so that their order is plain: 0x80 sorts after 0x7f (bytes are unsigned).
	for _, tok := range []*users.Token{
		{Name: "6 later ID", ID: "k-b", Created: day(2), Digest: digestOf(0x01)},
		{Name: "3 same Created and ID, digest 7f00 01", ID: "k-a", Created: day(2), Digest: digestOf(0x7f, 0x00, 0x01)},
		{Name: "8 lower-case ID", ID: "k-lower", Created: day(3), Digest: digestOf(0x02)},
		{Name: "1 oldest", ID: "k-z", Created: day(1), Digest: digestOf(0xff)},
		{Name: "5 same Created and ID, digest 80", ID: "k-a", Created: day(2), Digest: digestOf(0x80)},
		{Name: "2 a microsecond older", ID: "k-zz", Created: day(2).Add(-time.Microsecond), Digest: digestOf(0xfe)},
		{Name: "7 upper-case ID sorts first", ID: "K-upper", Created: day(3), Digest: digestOf(0x03)},
		{Name: "4 same Created and ID, digest 7fff", ID: "k-a", Created: day(2), Digest: digestOf(0x7f, 0xff)},
	} {
		tok.Kind, tok.UserID, tok.Prefix = users.TokenAPIKey, "u1", "uk_"
		require.NoError(t, s.PutToken(t.Context(), tok), tok.Name)
	}
	// Tokens of another kind or another user, created in between, are not listed.
	require.NoError(t, s.PutToken(t.Context(), &users.Token{Name: "a session", Kind: users.TokenSession, UserID: "u1", Created: day(2), Digest: digestOf(0x7f, 0x80)}))
	require.NoError(t, s.PutToken(t.Context(), &users.Token{Name: "u2's key", ID: "k-a", Kind: users.TokenAPIKey, UserID: "u2", Created: day(2), Digest: digestOf(0x7f, 0x90)}))

	assert.Equal(t, []string{
		"1 oldest",
		"2 a microsecond older",
		"3 same Created and ID, digest 7f00 01",
		"4 same Created and ID, digest 7fff",
		"5 same Created and ID, digest 80",
		"6 later ID",
		"7 upper-case ID sorts first",
		"8 lower-case ID",
	}, tokenNames(listTokens(t, s, "u1", users.TokenAPIKey)))

	// Sessions have no ID (nor name): they go by Created, then Digest.
	for _, tok := range []*users.Token{
		{Created: day(5), Digest: digestOf(0x00, 0x01)},
		{Created: day(4), Digest: digestOf(0x10)},
		{Created: day(4), Digest: digestOf(0x0f, 0xff)},
	} {
		tok.Kind, tok.UserID, tok.Expires = users.TokenSession, "u2", day(30)
		require.NoError(t, s.PutToken(t.Context(), tok))
	}
	assert.Equal(t, []users.Digest{digestOf(0x0f, 0xff), digestOf(0x10), digestOf(0x00, 0x01)},
		tokenDigests(listTokens(t, s, "u2", users.TokenSession)), "sessions")
}

// tokenDigests returns the Digest of each token, in order.
func tokenDigests(ts []*users.Token) []users.Digest {
	ds := make([]users.Digest, len(ts))
	for i, tok := range ts {
		ds[i] = tok.Digest
	}
	return ds
}

// tokenSecrets returns, for each token in order, the one of secrets whose digest it has, or
// "?" when none has.
func tokenSecrets(ts []*users.Token, secrets ...string) []string {
	out := make([]string, len(ts))
	for i, tok := range ts {
		out[i] = "?"
		for _, secret := range secrets {
			if tok.Digest == digest(secret) {
				out[i] = secret
			}
		}
	}
	return out
}

func testListTokensByKind(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	secrets := []string{"session 1", "reset", "session 2", "verify", "u2 key"}
	for i, kind := range []users.TokenKind{users.TokenSession, users.TokenReset, users.TokenSession, users.TokenVerify} {
		tok := newToken(secrets[i], kind, "u1", day(30))
		tok.Created = day(i + 1)
		require.NoError(t, s.PutToken(t.Context(), tok), secrets[i])
	}
	require.NoError(t, s.PutToken(t.Context(), newAPIKey("u2 key", "u2", "k1", "u2 key", day(1))))

	for _, tc := range []struct {
		kind users.TokenKind
		want []string
	}{
		{users.TokenSession, []string{"session 1", "session 2"}},
		{users.TokenReset, []string{"reset"}},
		{users.TokenVerify, []string{"verify"}},
		{users.TokenAPIKey, []string{}},
		{"no such kind", []string{}},
	} {
		assert.Equal(t, tc.want, tokenSecrets(listTokens(t, s, "u1", tc.kind), secrets...), "kind %q", tc.kind)
	}
	assert.Equal(t, []string{"u2 key"}, tokenSecrets(listTokens(t, s, "u2", users.TokenAPIKey), secrets...))
	assert.Empty(t, listTokens(t, s, "u2", users.TokenSession))
}

func testListTokensExpired(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	expired := newAPIKey("expired", "u1", "k1", "expired", epoch)
	expired.Expires = day(1)
	live := newAPIKey("live", "u1", "k2", "live", day(1))
	require.NoError(t, s.PutToken(ctx, expired))
	require.NoError(t, s.PutToken(ctx, live))
	_, err := s.GetToken(ctx, expired.Digest, day(2))
	require.ErrorIs(t, err, users.ErrNotFound, "the key has expired at day 2")

	got := listTokens(t, s, "u1", users.TokenAPIKey)
	assert.Equal(t, []string{"expired", "live"}, tokenNames(got), "ListTokens takes no time: expired tokens are listed")
	if assert.Len(t, got, 2) {
		assert.Equal(t, day(1), got[0].Expires)
	}

	n, err := s.DeleteExpiredTokens(ctx, day(2), 0)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	assert.Equal(t, []string{"live"}, tokenNames(listTokens(t, s, "u1", users.TokenAPIKey)), "once removed, an expired key is listed no more")
}

func testListTokensUnknownUser(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	for _, kind := range []users.TokenKind{users.TokenSession, users.TokenAPIKey} {
		got, err := s.ListTokens(t.Context(), "nobody", kind)
		require.NoError(t, err, "an unknown user is not an error")
		assert.Empty(t, got, "an unknown user has no tokens")
		got, err = s.ListTokens(t.Context(), "u1", kind)
		require.NoError(t, err)
		assert.Empty(t, got, "a user without tokens has none")
	}
}

func testListTokensAfterRemovals(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	for i, name := range []string{"k1", "k2", "k3", "k4"} {
		require.NoError(t, s.PutToken(ctx, newAPIKey(name, "u1", name, name, day(i))))
	}
	require.NoError(t, s.PutToken(ctx, newAPIKey("u2-key", "u2", "k9", "u2-key", epoch)))

	require.NoError(t, s.DeleteToken(ctx, digest("k2")))
	assert.Equal(t, []string{"k1", "k3", "k4"}, tokenNames(listTokens(t, s, "u1", users.TokenAPIKey)), "after DeleteToken")

	_, err := s.ConsumeToken(ctx, digest("k4"), users.TokenAPIKey, epoch)
	require.NoError(t, err)
	assert.Equal(t, []string{"k1", "k3"}, tokenNames(listTokens(t, s, "u1", users.TokenAPIKey)), "after ConsumeToken")

	require.NoError(t, s.PutToken(ctx, newAPIKey("k2", "u1", "k2", "k2 again", day(9))))
	assert.Equal(t, []string{"k1", "k3", "k2 again"}, tokenNames(listTokens(t, s, "u1", users.TokenAPIKey)), "a freed digest stored again")

	n, err := s.DeleteUserTokens(ctx, "u1", users.TokenAPIKey)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	assert.Empty(t, listTokens(t, s, "u1", users.TokenAPIKey), "after DeleteUserTokens")

	require.NoError(t, s.PutToken(ctx, newAPIKey("k5", "u1", "k5", "k5", epoch)))
	require.NoError(t, s.DeleteUser(ctx, "u1"))
	assert.Empty(t, listTokens(t, s, "u1", users.TokenAPIKey), "after DeleteUser")
	withUsers(t, s, "u1")
	assert.Empty(t, listTokens(t, s, "u1", users.TokenAPIKey), "a new user under a deleted user's ID inherits no tokens")

	assert.Equal(t, []string{"u2-key"}, tokenNames(listTokens(t, s, "u2", users.TokenAPIKey)), "another user's keys stay")
}

func testTouchToken(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	other := newAPIKey("other", "u1", "k2", "phone", epoch)
	require.NoError(t, s.PutToken(ctx, key))
	require.NoError(t, s.PutToken(ctx, other))

	require.NoError(t, s.TouchToken(ctx, key.Digest, day(1)))
	want := &users.Token{
		Digest: digest("key"), Kind: users.TokenAPIKey, UserID: "u1", Created: epoch,
		ID: "k1", Name: "laptop", Prefix: "uk_key", LastUsed: day(1),
	}
	got, err := s.GetToken(ctx, key.Digest, epoch)
	if assert.NoError(t, err) {
		assert.Equal(t, want, got, "TouchToken sets LastUsed and nothing else")
	}
	assert.Equal(t, []*users.Token{want, newAPIKey("other", "u1", "k2", "phone", epoch)},
		listTokens(t, s, "u1", users.TokenAPIKey), "ListTokens shows LastUsed; the other key was never used")

	require.NoError(t, s.TouchToken(ctx, key.Digest, day(2).Add(time.Minute)))
	assert.Equal(t, day(2).Add(time.Minute), lastUsed(t, s, key.Digest), "a later use moves LastUsed")

	// A time in another zone, with nanoseconds, is kept canonical: UTC, whole microseconds.
	at := day(3).Add(789 * time.Nanosecond).In(time.FixedZone("UTC+2", 2*3600))
	require.NoError(t, s.TouchToken(ctx, key.Digest, at))
	assert.Equal(t, day(3), lastUsed(t, s, key.Digest), "LastUsed is canonical")
}

func testTouchTokenAnyKind(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	// TouchToken names no kind: it finds a token by its digest alone. The Service touches
	// API keys only, but the store keeps what it is given.
	for i, kind := range []users.TokenKind{users.TokenSession, users.TokenReset, users.TokenVerify} {
		tok := newToken(string(kind), kind, "u1", day(30))
		require.NoError(t, s.PutToken(ctx, tok))
		require.NoError(t, s.TouchToken(ctx, tok.Digest, day(i+1)), "kind %s", kind)
	}
	assert.Equal(t, day(1), lastUsed(t, s, digest("session")), "a session")
	assert.Equal(t, day(2), lastUsed(t, s, digest("reset")), "a reset code")
	assert.Equal(t, day(3), lastUsed(t, s, digest("verify")), "a verification code")
}

func testTouchTokenForwardOnly(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	key.LastUsed = day(5)
	require.NoError(t, s.PutToken(ctx, key))

	for _, tc := range []struct {
		name string
		at   time.Time
		want time.Time
	}{
		{"before the LastUsed given to PutToken", day(4), day(5)},
		{"at LastUsed", day(5), day(5)},
		{"at LastUsed in another zone", day(5).In(time.FixedZone("UTC-5", -5*3600)), day(5)},
		{"a nanosecond after LastUsed: the same microsecond", day(5).Add(time.Nanosecond), day(5)},
		{"a microsecond after LastUsed", day(5).Add(time.Microsecond), day(5).Add(time.Microsecond)},
		{"a day before", day(4), day(5).Add(time.Microsecond)},
		{"the zero time", time.Time{}, day(5).Add(time.Microsecond)},
		{"a day after", day(6), day(6)},
	} {
		assert.NoError(t, s.TouchToken(ctx, key.Digest, tc.at), tc.name)
		assert.Equal(t, tc.want, lastUsed(t, s, key.Digest), tc.name)
	}
}

func testTouchTokenNotFound(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	assert.ErrorIs(t, s.TouchToken(ctx, digest("unknown"), day(1)), users.ErrNotFound, "a digest never stored")
	_, err := s.GetToken(ctx, digest("unknown"), epoch)
	assert.ErrorIs(t, err, users.ErrNotFound, "TouchToken creates no token")

	deleted := newAPIKey("deleted", "u1", "k1", "deleted", epoch)
	require.NoError(t, s.PutToken(ctx, deleted))
	require.NoError(t, s.DeleteToken(ctx, deleted.Digest))
	assert.ErrorIs(t, s.TouchToken(ctx, deleted.Digest, day(1)), users.ErrNotFound, "a deleted token")

	consumed := newToken("consumed", users.TokenReset, "u1", day(1))
	require.NoError(t, s.PutToken(ctx, consumed))
	_, err = s.ConsumeToken(ctx, consumed.Digest, users.TokenReset, epoch)
	require.NoError(t, err)
	assert.ErrorIs(t, s.TouchToken(ctx, consumed.Digest, day(1)), users.ErrNotFound, "a consumed token")

	assert.Empty(t, listTokens(t, s, "u1", users.TokenAPIKey))
	assert.Empty(t, listTokens(t, s, "u1", users.TokenReset))
}

func testTouchTokenExpired(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	key.Expires = day(1)
	require.NoError(t, s.PutToken(ctx, key))

	// TouchToken takes no now: a stored token is found whether or not it has expired.
	require.NoError(t, s.TouchToken(ctx, key.Digest, day(2)), "an expired token is still stored")
	list := listTokens(t, s, "u1", users.TokenAPIKey)
	if assert.Len(t, list, 1) {
		assert.Equal(t, day(2), list[0].LastUsed)
	}
	_, err := s.GetToken(ctx, key.Digest, day(2))
	assert.ErrorIs(t, err, users.ErrNotFound, "touching does not revive an expired token")
}

func testConcurrentTouch(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	require.NoError(t, s.PutToken(t.Context(), key))

	// Goroutine i uses the key at day 1 plus i minutes: they race, and the latest must win.
	const n = 50
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		errs[i] = s.TouchToken(t.Context(), key.Digest, day(1).Add(time.Duration(i)*time.Minute))
	})
	for i, err := range errs {
		assert.NoError(t, err, "goroutine %d", i)
	}
	assert.Equal(t, day(1).Add(49*time.Minute), lastUsed(t, s, key.Digest), "LastUsed is the latest of the uses")
}
