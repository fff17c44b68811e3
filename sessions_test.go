package users_test

import (
	"context"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMaxSessions(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			t.Run("the oldest goes", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t), func(c *users.Config) { c.MaxSessions = 3 })
				_, err := w.svc.Create(context.Background(), users.NewUser{Username: alice, Password: alicePassword})
				require.NoError(t, err)
				var tokens []string
				for range 5 {
					s, err := w.svc.SignIn(context.Background(), alice, alicePassword)
					require.NoError(t, err)
					tokens = append(tokens, s.Token)
					w.clock.Advance(time.Second)
				}
				for i, tok := range tokens {
					assert.Equal(t, i >= 2, authenticates(t, w.svc, tok), "session %d of 5", i+1)
				}
			})
			t.Run("the new one survives sessions of the same instant", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t), func(c *users.Config) { c.MaxSessions = 2 })
				u, err := w.svc.Create(context.Background(), users.NewUser{Username: alice})
				require.NoError(t, err)
				var tokens []string
				for i := range 6 {
					s, err := w.svc.NewSession(context.Background(), u.ID)
					require.NoError(t, err)
					tokens = append(tokens, s.Token)
					assert.True(t, authenticates(t, w.svc, s.Token), "the session just issued, %d", i+1)
					assert.Equal(t, min(i+1, 2), w.tokens(t, u.ID, users.TokenSession), "sessions after %d", i+1)
				}
			})
			t.Run("API keys never count", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t), func(c *users.Config) { c.MaxSessions = 1 })
				ctx := context.Background()
				u, err := w.svc.Create(ctx, users.NewUser{Username: alice})
				require.NoError(t, err)
				var keys []string
				for _, name := range []string{"ci", "deploy", "backup"} {
					k, err := w.svc.CreateAPIKey(ctx, u.ID, users.NewAPIKey{Name: name})
					require.NoError(t, err)
					keys = append(keys, k.Key)
				}
				first, err := w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				w.clock.Advance(time.Second)
				second, err := w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				assert.False(t, authenticates(t, w.svc, first.Token))
				assert.True(t, authenticates(t, w.svc, second.Token))
				for i, k := range keys {
					assert.True(t, authenticates(t, w.svc, k), "key %d", i+1)
				}
			})
			t.Run("expired sessions do not count", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t), func(c *users.Config) {
					c.MaxSessions = 2
					c.SessionTTL = time.Hour
					c.NoWorker = true // no sweeper: the expired session stays in the store
				})
				ctx := context.Background()
				u, err := w.svc.Create(ctx, users.NewUser{Username: alice})
				require.NoError(t, err)
				_, err = w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				w.clock.Advance(2 * time.Hour)
				a, err := w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				w.clock.Advance(time.Second)
				b, err := w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				assert.True(t, authenticates(t, w.svc, a.Token), "two live sessions are allowed")
				assert.True(t, authenticates(t, w.svc, b.Token))
			})
			t.Run("default 100", func(t *testing.T) {
				w := newSweepWorld(t, st.open(t))
				ctx := context.Background()
				u, err := w.svc.Create(ctx, users.NewUser{Username: alice})
				require.NoError(t, err)
				first, err := w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				w.clock.Advance(time.Second)
				for i := range 99 {
					_, err := w.svc.NewSession(ctx, u.ID)
					require.NoError(t, err, "session %d", i+2)
				}
				assert.True(t, authenticates(t, w.svc, first.Token), "the first of 100")
				_, err = w.svc.NewSession(ctx, u.ID)
				require.NoError(t, err)
				assert.False(t, authenticates(t, w.svc, first.Token), "the first of 101")
				assert.Equal(t, users.DefaultMaxSessions, w.tokens(t, u.ID, users.TokenSession))
			})
		})
	}
}
