package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var atomicChecks = []check{
	{"Commits", testAtomicCommits},
	{"RollsBackOnError", testAtomicRollsBackOnError},
	{"RollsBackOnPanic", testAtomicRollsBackOnPanic},
	{"RollsBackOnStoreError", testAtomicStoreError},
	{"NestedCommits", testAtomicNestedCommits},
	{"NestedRollsBackWithOuter", testAtomicNestedOuterFails},
	{"NestedErrorReturnedAsIs", testAtomicNestedInnerFails},
	{"ConcurrentReadModifyWrite", testAtomicConcurrent},
	{"CommitsImagesAndTouches", testAtomicCommitsNewWrites},
	{"RollsBackPutImage", testAtomicRollsBackPutImage},
	{"RollsBackDeleteImage", testAtomicRollsBackDeleteImage},
	{"RollsBackDeleteUserImage", testAtomicRollsBackDeleteUserImage},
	{"RollsBackTouchToken", testAtomicRollsBackTouchToken},
	{"NestedRollsBackImagesAndTouches", testAtomicNestedNewWrites},
}

// errBoom is the error the checks' fn returns; Atomic must return it as is.
var errBoom = errors.New("boom")

// atomicWorld is the state the Atomic checks start from: alice (u1) with a reset code and a
// session, carol (u3) with a session, and a claimable ticket k1.
type atomicWorld struct {
	alice, carol *users.User
	ticket       *users.Ticket
}

// atomicNow is the time of the Atomic checks' ticket and token calls.
var atomicNow = day(10)

func seedAtomicWorld(t *testing.T, s users.Store) atomicWorld {
	t.Helper()
	ctx := t.Context()
	w := atomicWorld{
		alice:  newUser("u1", "alice@example.com"),
		carol:  newUser("u3", "carol@example.com"),
		ticket: newTicket("k1", "gone", day(1)),
	}
	createUser(t, s, w.alice)
	createUser(t, s, w.carol)
	require.NoError(t, s.PutToken(ctx, newToken("a-reset", users.TokenReset, "u1", day(20))))
	require.NoError(t, s.PutToken(ctx, newToken("a-session", users.TokenSession, "u1", day(20))))
	require.NoError(t, s.PutToken(ctx, newToken("c-session", users.TokenSession, "u3", day(20))))
	createTicket(t, s, w.ticket)
	return w
}

// atomicWrites makes one write of every kind on tx, checking after each that tx sees it.
// It returns the first failure.
func atomicWrites(ctx context.Context, tx users.Store, w atomicWorld) error {
	bob := newUser("u2", "bob@example.com")
	if err := tx.CreateUser(ctx, bob); err != nil {
		return fmt.Errorf("CreateUser: %w", err)
	}
	if _, err := tx.GetUserByUsername(ctx, "BOB@example.com"); err != nil {
		return fmt.Errorf("tx does not see its own CreateUser: %w", err)
	}

	alice := w.alice.Clone()
	alice.Username = "alice2@example.com"
	alice.Email = "alice2@example.com"
	alice.Name = "renamed"
	if err := tx.UpdateUser(ctx, alice); err != nil {
		return fmt.Errorf("UpdateUser: %w", err)
	}
	if got, err := tx.GetUserByUsername(ctx, "alice2@example.com"); err != nil || got.Name != "renamed" {
		return fmt.Errorf("tx does not see its own UpdateUser: %v, %w", got, err)
	}

	if err := tx.PutToken(ctx, newToken("b-session", users.TokenSession, "u2", day(20))); err != nil {
		return fmt.Errorf("PutToken: %w", err)
	}
	if _, err := tx.GetToken(ctx, digest("b-session"), atomicNow); err != nil {
		return fmt.Errorf("tx does not see its own PutToken: %w", err)
	}
	if _, err := tx.ConsumeToken(ctx, digest("a-reset"), users.TokenReset, atomicNow); err != nil {
		return fmt.Errorf("ConsumeToken: %w", err)
	}
	if _, err := tx.GetToken(ctx, digest("a-reset"), atomicNow); !errors.Is(err, users.ErrNotFound) {
		return fmt.Errorf("tx does not see its own ConsumeToken: %v", err)
	}
	if err := tx.DeleteToken(ctx, digest("a-session")); err != nil {
		return fmt.Errorf("DeleteToken: %w", err)
	}

	if err := tx.DeleteUser(ctx, "u3"); err != nil {
		return fmt.Errorf("DeleteUser: %w", err)
	}
	if _, err := tx.GetUser(ctx, "u3"); !errors.Is(err, users.ErrNotFound) {
		return fmt.Errorf("tx does not see its own DeleteUser: %v", err)
	}
	if _, err := tx.GetToken(ctx, digest("c-session"), atomicNow); !errors.Is(err, users.ErrNotFound) {
		return fmt.Errorf("tx does not see DeleteUser remove the user's tokens: %v", err)
	}

	if err := tx.CreateTicket(ctx, newTicket("k2", "u3", day(2))); err != nil {
		return fmt.Errorf("CreateTicket: %w", err)
	}
	claimed, err := tx.ClaimTicket(ctx, "worker", atomicNow, atomicNow.Add(time.Minute))
	if err != nil {
		return fmt.Errorf("ClaimTicket: %w", err)
	}
	if claimed.ID != "k1" {
		return fmt.Errorf("ClaimTicket claimed %s, want the oldest, k1", claimed.ID)
	}
	claimed.StepsDone = 1
	if err := tx.UpdateTicket(ctx, claimed); err != nil {
		return fmt.Errorf("UpdateTicket: %w", err)
	}
	if got, err := tx.GetTicket(ctx, "k1"); err != nil || got.StepsDone != 1 {
		return fmt.Errorf("tx does not see its own UpdateTicket: %v, %w", got, err)
	}

	if n, err := tx.CountUsers(ctx, users.Query{}); err != nil || n != 2 {
		return fmt.Errorf("tx counts %d users, want 2 (alice and bob): %w", n, err)
	}
	return nil
}

// assertCommitted checks the state after atomicWrites took effect.
func assertCommitted(t *testing.T, s users.Store, w atomicWorld) {
	t.Helper()
	ctx := t.Context()
	assertUser(t, s, stored(newUser("u2", "bob@example.com"), 1))
	alice := stored(w.alice, 2)
	alice.Username, alice.Email, alice.Name = "alice2@example.com", "alice2@example.com", "renamed"
	assertUser(t, s, alice)
	_, err := s.GetUserByUsername(ctx, "alice@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "alice's old username")
	assertNoUser(t, s, w.carol)

	for secret, wantFound := range map[string]bool{"b-session": true, "a-reset": false, "a-session": false, "c-session": false} {
		_, err := s.GetToken(ctx, digest(secret), atomicNow)
		if wantFound {
			assert.NoError(t, err, "token %s", secret)
		} else {
			assert.ErrorIs(t, err, users.ErrNotFound, "token %s", secret)
		}
	}

	k1 := storedTicket(w.ticket, 3)
	k1.Owner, k1.LeaseUntil, k1.StepsDone = "worker", atomicNow.Add(time.Minute), 1
	assertTicket(t, s, k1)
	assertTicket(t, s, storedTicket(newTicket("k2", "u3", day(2)), 1))
}

// assertRolledBack checks that the state is still the one seedAtomicWorld made.
func assertRolledBack(t *testing.T, s users.Store, w atomicWorld) {
	t.Helper()
	ctx := t.Context()
	bob := newUser("u2", "bob@example.com")
	assertNoUser(t, s, bob)
	assertUser(t, s, stored(w.alice, 1))
	_, err := s.GetUserByUsername(ctx, "alice2@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "alice's new username is not indexed")
	_, err = s.GetUserByEmail(ctx, "alice2@example.com")
	assert.ErrorIs(t, err, users.ErrNotFound, "alice's new e-mail is not indexed")
	assertUser(t, s, stored(w.carol, 1))
	n, err := s.CountUsers(ctx, users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 2, n, "alice and carol")

	for secret, wantFound := range map[string]bool{"b-session": false, "a-reset": true, "a-session": true, "c-session": true} {
		_, err := s.GetToken(ctx, digest(secret), atomicNow)
		if wantFound {
			assert.NoError(t, err, "token %s", secret)
		} else {
			assert.ErrorIs(t, err, users.ErrNotFound, "token %s", secret)
		}
	}

	assertTicket(t, s, storedTicket(w.ticket, 1))
	_, err = s.GetTicket(ctx, "k2")
	assert.ErrorIs(t, err, users.ErrNotFound, "ticket k2")

	// The rolled-back state is fully usable: indexes and leases included.
	require.NoError(t, s.CreateUser(ctx, bob), "bob's username and ID are free")
	got, err := s.ClaimTicket(ctx, "other", atomicNow, atomicNow.Add(time.Minute))
	if assert.NoError(t, err, "the rolled-back lease is free") {
		assert.Equal(t, "k1", got.ID)
	}
}

func testAtomicCommits(t *testing.T, s users.Store) {
	w := seedAtomicWorld(t, s)
	err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
		return atomicWrites(ctx, tx, w)
	})
	require.NoError(t, err)
	assertCommitted(t, s, w)
}

func testAtomicRollsBackOnError(t *testing.T, s users.Store) {
	w := seedAtomicWorld(t, s)
	err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
		if err := atomicWrites(ctx, tx, w); err != nil {
			return err
		}
		return errBoom
	})
	assert.Same(t, errBoom, err, "Atomic returns fn's error as is")
	assertRolledBack(t, s, w)
}

func testAtomicRollsBackOnPanic(t *testing.T, s users.Store) {
	w := seedAtomicWorld(t, s)
	var (
		recovered any
		err       error
	)
	within(t, 5*time.Second, func() {
		defer func() { recovered = recover() }()
		err = s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			if err := atomicWrites(ctx, tx, w); err != nil {
				return err
			}
			panic(errBoom)
		})
	})
	if recovered != nil {
		assert.Same(t, errBoom, recovered, "the panic propagates with its value")
	} else {
		// The contract only requires the rollback; a store may turn the panic into an error.
		assert.Error(t, err, "Atomic neither re-panicked nor returned an error")
	}
	// A store that stays locked after the panic would hang here.
	within(t, 5*time.Second, func() { _, _ = s.GetUser(t.Context(), "u1") })
	assertRolledBack(t, s, w)
}

func testAtomicStoreError(t *testing.T, s users.Store) {
	createUser(t, s, newUser("u1", "alice@example.com"))
	err := s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
		if err := tx.CreateUser(ctx, newUser("u2", "bob@example.com")); err != nil {
			return err
		}
		return tx.CreateUser(ctx, newUser("u3", "ALICE@example.com"))
	})
	assertConflict(t, err, "username", "Atomic returns the conflict fn returned")
	assertNoUser(t, s, newUser("u2", "bob@example.com"))
	n, err := s.CountUsers(t.Context(), users.Query{})
	require.NoError(t, err)
	assert.Equal(t, 1, n)
}

// nestedWrites creates x in an outer transaction and y in one nested in it, checking that each
// level sees the other's writes, and returns outer's result given inner's.
func nestedWrites(ctx context.Context, s users.Store, innerErr error, outer func(innerResult error) error) func() error {
	return func() error {
		return s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			if err := tx.CreateUser(ctx, newUser("x", "x@example.com")); err != nil {
				return err
			}
			err := tx.Atomic(ctx, func(ctx context.Context, inner users.Store) error {
				if _, err := inner.GetUser(ctx, "x"); err != nil {
					return fmt.Errorf("the nested fn does not see the outer write: %w", err)
				}
				if err := inner.CreateUser(ctx, newUser("y", "y@example.com")); err != nil {
					return err
				}
				return innerErr
			})
			if err == nil {
				if _, err := tx.GetUser(ctx, "y"); err != nil {
					return fmt.Errorf("the outer fn does not see the nested write: %w", err)
				}
			}
			return outer(err)
		})
	}
}

// atomicResult runs f with a deadline: a store whose nested Atomic takes its lock again hangs.
func atomicResult(t *testing.T, f func() error) error {
	t.Helper()
	var err error
	within(t, 5*time.Second, func() { err = f() })
	return err
}

func testAtomicNestedCommits(t *testing.T, s users.Store) {
	err := atomicResult(t, nestedWrites(t.Context(), s, nil, func(inner error) error { return inner }))
	require.NoError(t, err)
	assertUser(t, s, stored(newUser("x", "x@example.com"), 1))
	assertUser(t, s, stored(newUser("y", "y@example.com"), 1))
}

func testAtomicNestedOuterFails(t *testing.T, s users.Store) {
	err := atomicResult(t, nestedWrites(t.Context(), s, nil, func(inner error) error {
		if inner != nil {
			return inner
		}
		return errBoom
	}))
	assert.Same(t, errBoom, err)
	assertNoUser(t, s, newUser("x", "x@example.com"))
	assertNoUser(t, s, newUser("y", "y@example.com"))
}

func testAtomicNestedInnerFails(t *testing.T, s users.Store) {
	err := atomicResult(t, nestedWrites(t.Context(), s, errBoom, func(inner error) error { return inner }))
	assert.Same(t, errBoom, err, "the nested Atomic returns fn's error as is, and so does the outer")
	assertNoUser(t, s, newUser("x", "x@example.com"))
	assertNoUser(t, s, newUser("y", "y@example.com"))
}

func testAtomicConcurrent(t *testing.T, s users.Store) {
	createUser(t, s, newUser("u1", "alice@example.com"))

	const n = 20
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		errs[i] = s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			u, err := tx.GetUser(ctx, "u1")
			if err != nil {
				return err
			}
			count, _ := u.Metadata["count"].(float64)
			u.Metadata = map[string]any{"count": count + 1}
			return tx.UpdateUser(ctx, u)
		})
	})

	wins := 0
	for i, err := range errs {
		if err == nil {
			wins++
			continue
		}
		assert.ErrorIs(t, err, users.ErrConflict, "transaction %d may only fail on a stale version", i)
	}
	require.Positive(t, wins, "some transaction succeeds")
	got, err := s.GetUser(t.Context(), "u1")
	require.NoError(t, err)
	assert.Equal(t, int64(1+wins), got.Version, "one version per committed transaction")
	assert.Equal(t, float64(wins), got.Metadata["count"], "no increment is lost")
}

// rolledBack runs writes in a transaction that then fails with errBoom, and checks that
// Atomic returns errBoom: writes failing, or not seeing its own changes, shows as another error.
func rolledBack(t *testing.T, s users.Store, writes func(ctx context.Context, tx users.Store) error) {
	t.Helper()
	err := atomicResult(t, func() error {
		return s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			if err := writes(ctx, tx); err != nil {
				return err
			}
			return errBoom
		})
	})
	assert.Same(t, errBoom, err, "the writes succeed in the transaction, and its fn then fails")
}

// txImage returns the ETag of the user's image as tx sees it, or "none".
func txImage(ctx context.Context, tx users.Store, userID string) (string, error) {
	img, err := tx.GetImage(ctx, userID)
	if errors.Is(err, users.ErrNotFound) {
		return "none", nil
	}
	if err != nil {
		return "", fmt.Errorf("GetImage(%s): %w", userID, err)
	}
	return img.ETag, nil
}

// expectImage returns an error unless tx sees the user's image with this ETag ("none": no
// image).
func expectImage(ctx context.Context, tx users.Store, userID, etag string) error {
	got, err := txImage(ctx, tx, userID)
	if err != nil {
		return err
	}
	if got != etag {
		return fmt.Errorf("the transaction sees the image %s of %s, want %s", got, userID, etag)
	}
	return nil
}

// expectLastUsed returns an error unless tx sees the token's LastUsed at want.
func expectLastUsed(ctx context.Context, tx users.Store, d users.Digest, want time.Time) error {
	tok, err := tx.GetToken(ctx, d, atomicNow)
	if err != nil {
		return fmt.Errorf("GetToken: %w", err)
	}
	if !tok.LastUsed.Equal(want) {
		return fmt.Errorf("the transaction sees LastUsed %v, want %v", tok.LastUsed, want)
	}
	return nil
}

func testAtomicCommitsNewWrites(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))
	require.NoError(t, s.PutImage(t.Context(), pngImage("u2")))
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	require.NoError(t, s.PutToken(t.Context(), key))

	err := atomicResult(t, func() error {
		return s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			if err := tx.PutImage(ctx, jpegImage("u1")); err != nil {
				return fmt.Errorf("PutImage: %w", err)
			}
			if err := tx.DeleteImage(ctx, "u2"); err != nil {
				return fmt.Errorf("DeleteImage: %w", err)
			}
			if err := tx.TouchToken(ctx, key.Digest, day(3)); err != nil {
				return fmt.Errorf("TouchToken: %w", err)
			}
			return errors.Join(
				expectImage(ctx, tx, "u1", `"jpeg-of-u1"`),
				expectImage(ctx, tx, "u2", "none"),
				expectLastUsed(ctx, tx, key.Digest, day(3)),
			)
		})
	})
	require.NoError(t, err)

	assertImage(t, s, jpegImage("u1"), "the image put in the transaction")
	assertNoImage(t, s, "u2", "the image deleted in the transaction")
	assert.Equal(t, day(3), lastUsed(t, s, key.Digest), "the touch in the transaction")
}

func testAtomicRollsBackPutImage(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))

	rolledBack(t, s, func(ctx context.Context, tx users.Store) error {
		if err := tx.PutImage(ctx, jpegImage("u1")); err != nil {
			return fmt.Errorf("PutImage(u1): %w", err)
		}
		if err := tx.PutImage(ctx, jpegImage("u2")); err != nil {
			return fmt.Errorf("PutImage(u2): %w", err)
		}
		return errors.Join(expectImage(ctx, tx, "u1", `"jpeg-of-u1"`), expectImage(ctx, tx, "u2", `"jpeg-of-u2"`))
	})

	assertImage(t, s, pngImage("u1"), "the replaced image is back")
	assertNoImage(t, s, "u2", "the new image is gone")
}

func testAtomicRollsBackDeleteImage(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))
	require.NoError(t, s.PutImage(t.Context(), pngImage("u2")))

	rolledBack(t, s, func(ctx context.Context, tx users.Store) error {
		if err := tx.DeleteImage(ctx, "u1"); err != nil {
			return fmt.Errorf("DeleteImage(u1): %w", err)
		}
		// u2's image is replaced, then deleted: the undo must bring back the first, not the
		// replacement.
		if err := tx.PutImage(ctx, jpegImage("u2")); err != nil {
			return fmt.Errorf("PutImage(u2): %w", err)
		}
		if err := tx.DeleteImage(ctx, "u2"); err != nil {
			return fmt.Errorf("DeleteImage(u2): %w", err)
		}
		return errors.Join(expectImage(ctx, tx, "u1", "none"), expectImage(ctx, tx, "u2", "none"))
	})

	assertImage(t, s, pngImage("u1"), "a deleted image is back")
	assertImage(t, s, pngImage("u2"), "the image from before the transaction is back")
}

func testAtomicRollsBackDeleteUserImage(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))

	rolledBack(t, s, func(ctx context.Context, tx users.Store) error {
		if err := tx.DeleteUser(ctx, "u1"); err != nil {
			return fmt.Errorf("DeleteUser: %w", err)
		}
		return expectImage(ctx, tx, "u1", "none")
	})

	assertUser(t, s, stored(newUser("u1", "u1@example.com"), 1))
	assertImage(t, s, pngImage("u1"), "the image DeleteUser removed is back with its user")
}

func testAtomicRollsBackTouchToken(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	used := newAPIKey("used", "u1", "k1", "used", epoch)
	used.LastUsed = day(1)
	never := newAPIKey("never", "u1", "k2", "never", epoch)
	require.NoError(t, s.PutToken(t.Context(), used))
	require.NoError(t, s.PutToken(t.Context(), never))

	rolledBack(t, s, func(ctx context.Context, tx users.Store) error {
		for _, touch := range []struct {
			d  users.Digest
			at time.Time
		}{{used.Digest, day(5)}, {never.Digest, day(5)}, {used.Digest, day(6)}} {
			if err := tx.TouchToken(ctx, touch.d, touch.at); err != nil {
				return fmt.Errorf("TouchToken: %w", err)
			}
		}
		list, err := tx.ListTokens(ctx, "u1", users.TokenAPIKey)
		if err != nil {
			return fmt.Errorf("ListTokens: %w", err)
		}
		if len(list) != 2 || !list[0].LastUsed.Equal(day(6)) || !list[1].LastUsed.Equal(day(5)) {
			return fmt.Errorf("ListTokens in the transaction does not show its touches: %+v", list)
		}
		return errors.Join(expectLastUsed(ctx, tx, used.Digest, day(6)), expectLastUsed(ctx, tx, never.Digest, day(5)))
	})

	assert.Equal(t, []*users.Token{used, never}, listTokens(t, s, "u1", users.TokenAPIKey), "both keys as they were")
	assert.Equal(t, day(1), lastUsed(t, s, used.Digest), "the earlier LastUsed is back")
	assert.Zero(t, lastUsed(t, s, never.Digest), "a key never used outside the transaction is never used")
}

func testAtomicNestedNewWrites(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u1")))
	require.NoError(t, s.PutImage(t.Context(), jpegImage("u2")))
	key := newAPIKey("key", "u1", "k1", "laptop", epoch)
	require.NoError(t, s.PutToken(t.Context(), key))
	inner := pngImage("u1")
	inner.ETag = `"inner"`

	err := atomicResult(t, func() error {
		return s.Atomic(t.Context(), func(ctx context.Context, tx users.Store) error {
			if err := tx.TouchToken(ctx, key.Digest, day(2)); err != nil {
				return fmt.Errorf("TouchToken: %w", err)
			}
			if err := tx.PutImage(ctx, jpegImage("u1")); err != nil {
				return fmt.Errorf("PutImage: %w", err)
			}
			err := tx.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
				if err := tx.TouchToken(ctx, key.Digest, day(3)); err != nil {
					return fmt.Errorf("nested TouchToken: %w", err)
				}
				if err := tx.PutImage(ctx, inner); err != nil {
					return fmt.Errorf("nested PutImage: %w", err)
				}
				if err := tx.DeleteImage(ctx, "u2"); err != nil {
					return fmt.Errorf("nested DeleteImage: %w", err)
				}
				return errBoom
			})
			if err != errBoom {
				return fmt.Errorf("the nested Atomic returned %v, want errBoom", err)
			}
			return errors.Join(
				expectLastUsed(ctx, tx, key.Digest, day(2)),
				expectImage(ctx, tx, "u1", `"jpeg-of-u1"`),
				expectImage(ctx, tx, "u2", `"jpeg-of-u2"`),
			)
		})
	})
	require.NoError(t, err, "the outer fn sees the nested writes undone, its own kept")

	assert.Equal(t, day(2), lastUsed(t, s, key.Digest), "the outer touch commits, the nested one does not")
	assertImage(t, s, jpegImage("u1"), "the outer image commits, the nested one does not")
	assertImage(t, s, jpegImage("u2"), "the nested delete is undone")
}
