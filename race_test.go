package users_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// raceRounds is how many times each race is run: enough for both orders to occur.
const raceRounds = 25

// adminAction is something a delegated administrator does to another user, and how to tell
// its write in a Journal.
type adminAction struct {
	name   string
	status users.Status // bob's status before, when not active
	do     func(ctx context.Context, svc users.Service, bobID string) error
	effect func(e testutil.JournalEntry, bob *users.User) bool
}

// adminActions are every administrator action on another user that the policy bounds by
// what the target holds.
func adminActions(t *testing.T) []adminAction {
	name, disabled := "renamed by walt", users.StatusDisabled
	png := testutil.PNG(t, 2, 2)
	wrote := func(check func(u *users.User, bob *users.User) bool) func(testutil.JournalEntry, *users.User) bool {
		return func(e testutil.JournalEntry, bob *users.User) bool {
			return e.Op == "UpdateUser" && check(e.User, bob)
		}
	}
	return []adminAction{
		{name: "update", do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.Update(ctx, id, users.Update{Name: &name})
			return err
		}, effect: wrote(func(u, _ *users.User) bool { return u.Name == name })},
		{name: "set the password", do: func(ctx context.Context, svc users.Service, id string) error {
			return svc.SetPassword(ctx, id, otherPassword)
		}, effect: wrote(func(u, bob *users.User) bool { return u.PasswordHash != bob.PasswordHash })},
		{name: "generate a password", do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.GeneratePassword(ctx, id)
			return err
		}, effect: wrote(func(u, bob *users.User) bool { return u.PasswordHash != bob.PasswordHash })},
		{name: "disable", do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.Update(ctx, id, users.Update{Status: &disabled})
			return err
		}, effect: wrote(func(u, _ *users.User) bool { return u.Status == users.StatusDisabled })},
		{name: "delete", do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.Delete(ctx, id)
			return err
		}, effect: wrote(func(u, _ *users.User) bool { return u.Status == users.StatusDisabled })},
		{name: "approve", status: users.StatusPending, do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.Approve(ctx, id)
			return err
		}, effect: wrote(func(u, _ *users.User) bool { return u.Status == users.StatusActive })},
		{name: "sign out everywhere", do: func(ctx context.Context, svc users.Service, id string) error {
			return svc.RevokeSessions(ctx, id)
		}, effect: func(e testutil.JournalEntry, _ *users.User) bool {
			return e.Op == "DeleteUserTokens" && slices.Equal(e.Kinds, []users.TokenKind{users.TokenSession})
		}},
		{name: "set the image", do: func(ctx context.Context, svc users.Service, id string) error {
			_, err := svc.SetImage(ctx, id, png)
			return err
		}, effect: func(e testutil.JournalEntry, _ *users.User) bool { return e.Op == "PutImage" }},
	}
}

// readSignal is a Store that calls seen with the context and ID of every GetUser, in a
// transaction or not, before reading.
type readSignal struct {
	users.Store
	seen func(ctx context.Context, id string)
}

func (s *readSignal) GetUser(ctx context.Context, id string) (*users.User, error) {
	s.seen(ctx, id)
	return s.Store.GetUser(ctx, id)
}

func (s *readSignal) Atomic(ctx context.Context, fn func(ctx context.Context, tx users.Store) error) error {
	return s.Store.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
		return fn(ctx, &readSignal{Store: tx, seen: s.seen})
	})
}

// Rule 6: every administrator action on another user is authorized against the target as it
// is in the transaction that changes it. A delegated administrator (write on users) acts on
// bob while an administrator makes bob an administrator: the action lands before the
// promotion, or not at all, never on the administrator bob has become. In every other round
// the promotion starts only once the action has read bob, so that the action's reads come
// before the promotion and its write may come after.
func TestCheckThenActRace(t *testing.T) {
	promotion := func(e testutil.JournalEntry) bool {
		return e.Op == "UpdateUser" && e.User.HasRole(users.RoleAdmin)
	}
	for _, st := range stores {
		for _, act := range adminActions(t) {
			t.Run(st.name+"/"+act.name, func(t *testing.T) {
				ctx := context.Background()
				h := newHarness(t, func(c *users.Config) { c.NoWorker = true })
				journal := testutil.NewJournal(st.open(t))
				var mu sync.Mutex
				var watched string
				var read chan struct{} // closed at the delegated administrator's first read of bob
				signal := &readSignal{Store: journal, seen: func(ctx context.Context, id string) {
					p, ok := users.ActorFrom(ctx)
					mu.Lock()
					defer mu.Unlock()
					if ok && id == watched && p.User.Username == "walt@example.com" && read != nil {
						close(read)
						read = nil
					}
				}}
				svc, err := users.New(signal, h.cfg)
				require.NoError(t, err)
				t.Cleanup(func() { _ = svc.Close() })
				root, err := svc.Create(ctx, users.NewUser{Username: "root@example.com", Scope: []string{users.RoleUser, users.RoleAdmin}})
				require.NoError(t, err)
				walt, err := svc.Create(ctx, users.NewUser{Username: "walt@example.com", Permissions: map[string]users.Permission{users.ResourceUsers: users.PermissionWrite}})
				require.NoError(t, err)
				asRoot := users.WithActor(ctx, &users.Principal{User: root, Kind: users.TokenSession})
				asWalt := users.WithActor(ctx, &users.Principal{User: walt, Kind: users.TokenSession})
				adminScope := []string{users.RoleUser, users.RoleAdmin}

				landed := 0
				for round := range raceRounds {
					bob, err := svc.Create(ctx, users.NewUser{Username: fmt.Sprintf("bob%d@example.com", round), Password: alicePassword, Status: act.status})
					require.NoError(t, err)
					actRead := make(chan struct{})
					mu.Lock()
					watched, read = bob.ID, actRead
					mu.Unlock()
					var actErr, promoteErr error
					var wg sync.WaitGroup
					start := make(chan struct{})
					wg.Go(func() { <-start; actErr = act.do(asWalt, svc, bob.ID) })
					wg.Go(func() {
						<-start
						if round%2 == 1 {
							select {
							case <-actRead:
							case <-time.After(testutil.WaitTimeout):
								t.Errorf("round %d: the action never read bob", round)
							}
						}
						_, promoteErr = svc.Update(asRoot, bob.ID, users.Update{Scope: &adminScope})
					})
					close(start)
					wg.Wait()

					if promoteErr != nil { // the deletion began first: nobody may change bob now
						require.ErrorIs(t, promoteErr, users.ErrConflict)
						require.NoError(t, actErr)
						landed++
						continue
					}
					after, promoted := testutil.Since(journal.Entries(), bob.ID, promotion)
					require.True(t, promoted, "round %d: the promotion is in the journal", round)
					for _, e := range after {
						assert.False(t, act.effect(e, bob), "round %d: %s landed on an administrator", round, act.name)
					}
					if actErr == nil {
						landed++
					} else {
						assert.ErrorIs(t, actErr, users.ErrForbidden, "round %d: refused as forbidden", round)
					}
				}
				t.Logf("%d of %d rounds landed before the promotion", landed, raceRounds)
			})
		}
	}
}

// Rule 7: no session outlives a revocation. Many sign-ins with the old password are in flight
// while an administrator resets it: afterwards, no session of the user authenticates but
// those issued after the reset.
func TestSignInRaceWithReset(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			ctx := context.Background()
			h := newHarness(t, func(c *users.Config) { c.Throttle.MaxFailures = -1 }) // the losers fail on purpose
			svc, err := users.New(st.open(t), h.cfg)
			require.NoError(t, err)
			t.Cleanup(func() { _ = svc.Close() })
			u, err := svc.Create(ctx, users.NewUser{Username: alice, Password: alicePassword})
			require.NoError(t, err)

			for round := range raceRounds {
				old, fresh := alicePassword, otherPassword
				if round%2 == 1 {
					old, fresh = fresh, old
				}
				const signIns = 8
				tokens := make(chan string, signIns)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range signIns {
					wg.Go(func() {
						<-start
						s, err := svc.SignIn(ctx, alice, old)
						if err != nil {
							assert.ErrorIs(t, err, users.ErrUnauthorized, "a sign-in that lost the race fails as a wrong password")
							return
						}
						tokens <- s.Token
					})
				}
				wg.Go(func() {
					<-start
					assert.NoError(t, svc.SetPassword(ctx, u.ID, fresh))
				})
				close(start)
				wg.Wait()
				close(tokens)
				for tok := range tokens {
					assert.False(t, authenticates(t, svc, tok), "round %d: a session from the old password outlived the reset", round)
				}
				s, err := svc.SignIn(ctx, alice, fresh)
				require.NoError(t, err)
				assert.True(t, authenticates(t, svc, s.Token), "a session issued after the reset works")
			}
		})
	}
}
