package users_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/memory"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// createKey creates an API key, failing the test on error.
func (h *harness) createKey(t testing.TB, userID, name string) *users.APIKey {
	t.Helper()
	k, err := h.svc.CreateAPIKey(context.Background(), userID, users.NewAPIKey{Name: name})
	require.NoError(t, err)
	return k
}

// apiKeys lists the user's API keys, failing the test on error.
func (h *harness) apiKeys(t testing.TB, userID string) []*users.APIKey {
	t.Helper()
	keys, err := h.svc.APIKeys(context.Background(), userID)
	require.NoError(t, err)
	return keys
}

func TestCreateAPIKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	expires := h.clock.Now().Add(24 * time.Hour)

	k, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "  ci deploy  ", Expires: expires})
	require.NoError(t, err)
	_, err = uuid.Parse(k.ID)
	assert.NoError(t, err, "the ID is a UUID")
	assert.Equal(t, "ci deploy", k.Name, "trimmed")
	assert.Len(t, k.Key, 43)
	assert.Regexp(t, `^[A-Za-z0-9_-]{43}$`, k.Key)
	assert.Equal(t, k.Key[:8], k.Prefix)
	assert.Equal(t, users.CanonicalTime(h.clock.Now()), k.Created)
	assert.Equal(t, users.CanonicalTime(expires), k.Expires)
	assert.True(t, k.LastUsed.IsZero())
	assert.Equal(t, 1, h.events.count(users.EventAPIKeyCreated))

	// Only the digest is stored.
	tokens, err := h.store.ListTokens(ctx, u.ID, users.TokenAPIKey)
	require.NoError(t, err)
	require.Len(t, tokens, 1)
	tok := tokens[0]
	assert.Equal(t, users.DigestOf(k.Key), tok.Digest)
	assert.Equal(t, users.Token{Digest: tok.Digest, Kind: users.TokenAPIKey, UserID: u.ID, Created: k.Created, Expires: k.Expires,
		ID: k.ID, Name: "ci deploy", Prefix: k.Prefix}, *tok)
	assert.NotContains(t, fmt.Sprintf("%+v %x", *tok, tok.Digest), k.Key)

	got, err := h.svc.Authenticate(ctx, k.Key)
	require.NoError(t, err)
	assert.Equal(t, u.ID, got.User.ID)

	bob := h.create(t, bob, alicePassword)
	h.createKey(t, bob.ID, "ci deploy") // names are unique per user only
	neverExpires := h.createKey(t, u.ID, "forever")
	assert.True(t, neverExpires.Expires.IsZero())
}

func TestCreateAPIKeyErrors(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.MaxAPIKeys = 3 })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	h.createKey(t, u.ID, "ci deploy")
	disabled, err := h.svc.Create(ctx, users.NewUser{Username: "disabled@example.com", Status: users.StatusDisabled})
	require.NoError(t, err)

	tests := []struct {
		name     string
		userID   string
		in       users.NewAPIKey
		code     users.Code
		field    string
		sentinel error
	}{
		{"no name", u.ID, users.NewAPIKey{}, users.CodeInvalid, "name", users.ErrInvalid},
		{"blank name", u.ID, users.NewAPIKey{Name: " \t "}, users.CodeInvalid, "name", users.ErrInvalid},
		{"control character", u.ID, users.NewAPIKey{Name: "ci\ndeploy"}, users.CodeInvalid, "name", users.ErrInvalid},
		{"invalid UTF-8", u.ID, users.NewAPIKey{Name: "ci\xff"}, users.CodeInvalid, "name", users.ErrInvalid},
		{"name too long", u.ID, users.NewAPIKey{Name: strings.Repeat("é", users.MaxNameLength+1)}, users.CodeInvalid, "name", users.ErrInvalid},
		{"name taken", u.ID, users.NewAPIKey{Name: " ci deploy "}, users.CodeConflict, "name", users.ErrConflict},
		{"expired", u.ID, users.NewAPIKey{Name: "k", Expires: h.clock.Now().Add(-time.Second)}, users.CodeInvalid, "expires", users.ErrInvalid},
		{"expires now", u.ID, users.NewAPIKey{Name: "k", Expires: h.clock.Now()}, users.CodeInvalid, "expires", users.ErrInvalid},
		{"unknown user", uuid.NewString(), users.NewAPIKey{Name: "k"}, users.CodeNotFound, "", users.ErrNotFound},
		{"disabled user", disabled.ID, users.NewAPIKey{Name: "k"}, users.CodeConflict, "", users.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k, err := h.svc.CreateAPIKey(ctx, tt.userID, tt.in)
			assert.Nil(t, k)
			assert.ErrorIs(t, err, tt.sentinel)
			assertCode(t, err, tt.code, tt.field)
		})
	}
	assert.Len(t, h.apiKeys(t, u.ID), 1, "nothing created")
	assert.Equal(t, strings.Repeat("é", users.MaxNameLength), h.createKey(t, u.ID, strings.Repeat("é", users.MaxNameLength)).Name)

	t.Run("at most MaxAPIKeys", func(t *testing.T) {
		last := h.createKey(t, u.ID, "third")
		_, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "fourth"})
		assert.ErrorIs(t, err, users.ErrConflict)
		require.NoError(t, h.svc.DeleteAPIKey(ctx, u.ID, last.ID))
		h.createKey(t, u.ID, "fourth")
	})
}

// touchCountingStore counts the TouchToken calls that reach the store.
type touchCountingStore struct {
	*memory.Store
	touches atomic.Int64
}

func (s *touchCountingStore) TouchToken(ctx context.Context, digest users.Digest, at time.Time) error {
	s.touches.Add(1)
	return s.Store.TouchToken(ctx, digest, at)
}

func TestAPIKeyLastUsed(t *testing.T) {
	h := newHarness(t)
	store := &touchCountingStore{Store: h.store}
	cfg := h.cfg
	cfg.NoWorker = true
	svc, err := users.New(store, cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = svc.Close() })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	k := h.createKey(t, u.ID, "ci")
	s := h.signIn(t, alice, alicePassword)
	lastUsed := func() time.Time {
		t.Helper()
		keys := h.apiKeys(t, u.ID)
		require.Len(t, keys, 1)
		return keys[0].LastUsed
	}
	use := func(times int) {
		t.Helper()
		for range times {
			_, err := svc.Authenticate(ctx, k.Key)
			require.NoError(t, err)
		}
	}
	start := h.clock.Now() // 09:26:53.59
	minute := start.Truncate(time.Minute)

	use(5)
	assert.Equal(t, minute, lastUsed(), "to the minute")
	assert.Equal(t, int64(1), store.touches.Load(), "one write per minute")

	h.clock.Advance(6 * time.Second) // 09:26:59.59: the same minute
	use(3)
	assert.Equal(t, minute, lastUsed())
	assert.Equal(t, int64(1), store.touches.Load())

	h.clock.Advance(time.Second) // 09:27:00.59
	use(3)
	assert.Equal(t, minute.Add(time.Minute), lastUsed())
	assert.Equal(t, int64(2), store.touches.Load())

	h.clock.Advance(time.Hour)
	use(1)
	assert.Equal(t, minute.Add(61*time.Minute), lastUsed())
	assert.Equal(t, int64(3), store.touches.Load())

	_, err = svc.Authenticate(ctx, s.Token)
	require.NoError(t, err)
	assert.Equal(t, int64(3), store.touches.Load(), "sessions are not touched")
}

func TestAPIKeyExpires(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	k, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci", Expires: h.clock.Now().Add(time.Hour)})
	require.NoError(t, err)

	h.clock.Advance(time.Hour - time.Second)
	assert.True(t, authenticates(t, h.svc, k.Key), "valid a second before expiry")
	h.clock.Advance(time.Second)
	assert.False(t, authenticates(t, h.svc, k.Key), "expired")

	keys := h.apiKeys(t, u.ID)
	require.Len(t, keys, 1, "an expired key is still listed")
	assert.Equal(t, k.ID, keys[0].ID)
	_, err = h.svc.RotateAPIKey(ctx, u.ID, k.ID)
	assertCode(t, err, users.CodeConflict, "expires")
	require.NoError(t, h.svc.DeleteAPIKey(ctx, u.ID, k.ID))
	assert.Empty(t, h.apiKeys(t, u.ID))
}

func TestRotateAPIKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	b := h.create(t, bob, alicePassword)
	k, err := h.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: "ci", Expires: h.clock.Now().Add(48 * time.Hour)})
	require.NoError(t, err)
	other := h.createKey(t, u.ID, "other")
	h.clock.Advance(time.Hour)
	require.True(t, authenticates(t, h.svc, k.Key))

	r, err := h.svc.RotateAPIKey(ctx, u.ID, k.ID)
	require.NoError(t, err)
	assert.Equal(t, k.ID, r.ID)
	assert.Equal(t, k.Name, r.Name)
	assert.Equal(t, k.Expires, r.Expires)
	assert.NotEqual(t, k.Key, r.Key)
	assert.Len(t, r.Key, 43)
	assert.Equal(t, r.Key[:8], r.Prefix)
	assert.Equal(t, users.CanonicalTime(h.clock.Now()), r.Created)
	assert.True(t, r.LastUsed.IsZero())

	assert.False(t, authenticates(t, h.svc, k.Key), "the old key stops working")
	assert.True(t, authenticates(t, h.svc, r.Key), "the new one works")
	assert.True(t, authenticates(t, h.svc, other.Key), "other keys are untouched")
	keys := h.apiKeys(t, u.ID)
	require.Len(t, keys, 2)
	assert.ElementsMatch(t, []string{k.ID, other.ID}, []string{keys[0].ID, keys[1].ID})
	assert.Equal(t, 1, h.events.count(users.EventAPIKeyRevoked))
	assert.Equal(t, 3, h.events.count(users.EventAPIKeyCreated))

	for name, ids := range map[string][2]string{
		"unknown key":         {u.ID, uuid.NewString()},
		"another user's key":  {b.ID, k.ID},
		"unknown user":        {uuid.NewString(), k.ID},
		"a session is no key": {u.ID, ""},
	} {
		_, err := h.svc.RotateAPIKey(ctx, ids[0], ids[1])
		assert.ErrorIs(t, err, users.ErrNotFound, name)
	}
	assert.True(t, authenticates(t, h.svc, r.Key))
}

func TestDeleteAPIKey(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	b := h.create(t, bob, alicePassword)
	k := h.createKey(t, u.ID, "ci")
	bobs := h.createKey(t, b.ID, "ci")

	assert.ErrorIs(t, h.svc.DeleteAPIKey(ctx, u.ID, bobs.ID), users.ErrNotFound, "another user's key")
	assert.True(t, authenticates(t, h.svc, bobs.Key))
	require.NoError(t, h.svc.DeleteAPIKey(ctx, u.ID, k.ID))
	assert.False(t, authenticates(t, h.svc, k.Key))
	assert.Empty(t, h.apiKeys(t, u.ID))
	assert.ErrorIs(t, h.svc.DeleteAPIKey(ctx, u.ID, k.ID), users.ErrNotFound, "already deleted")
	assert.ErrorIs(t, h.svc.DeleteAPIKey(ctx, uuid.NewString(), k.ID), users.ErrNotFound)
	assert.Equal(t, 1, h.events.count(users.EventAPIKeyRevoked))
	assert.True(t, authenticates(t, h.svc, bobs.Key))
}

func TestAPIKeys(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)

	none, err := h.svc.APIKeys(ctx, u.ID)
	require.NoError(t, err)
	assert.NotNil(t, none)
	assert.Empty(t, none)
	_, err = h.svc.APIKeys(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)

	var created []*users.APIKey
	for _, name := range []string{"charlie", "alpha", "bravo"} {
		created = append(created, h.createKey(t, u.ID, name))
		h.clock.Advance(time.Second)
	}
	keys := h.apiKeys(t, u.ID)
	require.Len(t, keys, 3)
	for i, k := range keys {
		want := *created[i]
		want.Key = ""
		assert.Equal(t, &want, k, "oldest first, without the key")
	}

	b, err := json.Marshal(keys[0])
	require.NoError(t, err)
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m))
	assert.Equal(t, []string{"created", "id", "name", "prefix"}, sortedKeys(m), "no key, and no zero expiry or last use")
	assert.NotContains(t, string(b), created[0].Key)
}

// sortedKeys returns the keys of m in order.
func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func TestAPIKeyRevocation(t *testing.T) {
	ctx := context.Background()
	disabled, pending := users.StatusDisabled, users.StatusPending
	tests := []struct {
		name        string
		do          func(t *testing.T, h *harness, u *users.User, key string) error
		keyRevoked  bool
		sessRevoked bool
	}{
		{"Update to disabled", func(t *testing.T, h *harness, u *users.User, _ string) error {
			_, err := h.svc.Update(ctx, u.ID, users.Update{Status: &disabled})
			return err
		}, true, true},
		{"Update to pending", func(t *testing.T, h *harness, u *users.User, _ string) error {
			_, err := h.svc.Update(ctx, u.ID, users.Update{Status: &pending})
			return err
		}, true, true},
		{"RevokeCredentials", func(t *testing.T, h *harness, u *users.User, _ string) error {
			return h.svc.RevokeCredentials(ctx, u.ID)
		}, true, true},
		{"Delete", func(t *testing.T, h *harness, u *users.User, _ string) error {
			_, err := h.svc.Delete(ctx, u.ID)
			return err
		}, true, true},
		{"RevokeSessions", func(t *testing.T, h *harness, u *users.User, _ string) error {
			return h.svc.RevokeSessions(ctx, u.ID)
		}, false, true},
		{"SignOut with the key", func(t *testing.T, h *harness, u *users.User, key string) error {
			return h.svc.SignOut(ctx, key)
		}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, func(c *users.Config) {
				c.DeletionSteps = []users.DeletionStep{{Name: "hold", Run: func(ctx context.Context, _ string) error {
					<-ctx.Done() // keeps the user in the store, being deleted, until Close
					return ctx.Err()
				}}}
			})
			u := h.create(t, alice, alicePassword)
			b := h.create(t, bob, alicePassword)
			k := h.createKey(t, u.ID, "ci")
			bobs := h.createKey(t, b.ID, "ci")
			s := h.signIn(t, alice, alicePassword)
			require.NoError(t, tt.do(t, h, u, k.Key))

			assert.Equal(t, !tt.keyRevoked, authenticates(t, h.svc, k.Key), "key works")
			assert.Equal(t, !tt.sessRevoked, authenticates(t, h.svc, s.Token), "session works")
			keys, err := h.svc.APIKeys(ctx, u.ID)
			require.NoError(t, err)
			assert.Len(t, keys, map[bool]int{true: 0, false: 1}[tt.keyRevoked], "listed keys")
			assert.True(t, authenticates(t, h.svc, bobs.Key), "other users' keys are untouched")
		})
	}

	t.Run("re-enabling does not bring keys back", func(t *testing.T) {
		h := newHarness(t)
		u := h.create(t, alice, alicePassword)
		k := h.createKey(t, u.ID, "ci")
		active := users.StatusActive
		_, err := h.svc.Update(ctx, u.ID, users.Update{Status: &disabled})
		require.NoError(t, err)
		_, err = h.svc.Update(ctx, u.ID, users.Update{Status: &active})
		require.NoError(t, err)
		assert.False(t, authenticates(t, h.svc, k.Key))
	})
}
