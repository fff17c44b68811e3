package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gousers/users"
	"github.com/gousers/users/sqlite"
)

func newImage(userID string, data []byte) *users.Image {
	return &users.Image{
		UserID: userID, ContentType: "image/png", Data: data, Width: 640, Height: 480,
		ETag: fmt.Sprintf(`"etag of %s, %d bytes"`, userID, len(data)), Updated: t0,
	}
}

// imageRows counts the rows of user_images, read by hand from the file.
func imageRows(t *testing.T, path string) int {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	require.NoError(t, err)
	defer db.Close()
	var n int
	require.NoError(t, db.QueryRow("SELECT count(*) FROM user_images").Scan(&n))
	return n
}

// TestImages checks what is particular to keeping images in SQLite: bytes come back exactly,
// however many and whatever their values, an image goes with its user, and a failed
// transaction or a batch of concurrent writes leaves each image as it should.
func TestImages(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	for i := range 3 {
		require.NoError(t, s.CreateUser(ctx, newUser(fmt.Sprint("u", i), fmt.Sprintf("img%d@example.com", i))))
	}

	t.Run("BlobRoundTrip", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for _, size := range []int{1, 256, 4096, 3 << 20} { // one byte to many overflow pages
			data := make([]byte, size)
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if size == 256 {
				for i := range data {
					data[i] = byte(i) // every byte value, NUL included
				}
			}
			img := newImage("u0", data)
			want := img.Clone()
			require.NoError(t, s.PutImage(ctx, img))
			img.Data[0] ^= 0xff // the store kept its own copy
			got, err := s.GetImage(ctx, "u0")
			require.NoError(t, err)
			require.Equal(t, want, got, "%d bytes", size)
			got.Data[0] ^= 0xff // and handed out the caller's own
			again, err := s.GetImage(ctx, "u0")
			require.NoError(t, err)
			require.Equal(t, want.Data, again.Data)
		}
		assert.Equal(t, 1, imageRows(t, path), "a replaced image left a row behind")
	})

	t.Run("CascadeOnDeleteUser", func(t *testing.T) {
		require.NoError(t, s.PutImage(ctx, newImage("u2", []byte("u2's image"))))
		require.Equal(t, 2, imageRows(t, path))
		require.NoError(t, s.DeleteUser(ctx, "u2"))
		assert.Equal(t, 1, imageRows(t, path), "the image outlived its user")
		_, err := s.GetImage(ctx, "u2")
		assert.ErrorIs(t, err, users.ErrNotFound)
		// u2 was the newest row of users: a user created now takes its row number (seq), and
		// must not find the image of the user who had it.
		require.NoError(t, s.CreateUser(ctx, newUser("u2", "img2@example.com")))
		_, err = s.GetImage(ctx, "u2")
		assert.ErrorIs(t, err, users.ErrNotFound)
		_, err = s.GetImage(ctx, "u0")
		assert.NoError(t, err, "another user's image went too")
	})

	t.Run("UnknownUser", func(t *testing.T) {
		assert.ErrorIs(t, s.PutImage(ctx, newImage("nobody", []byte("x"))), users.ErrNotFound)
		_, err := s.GetImage(ctx, "nobody")
		assert.ErrorIs(t, err, users.ErrNotFound)
		assert.ErrorIs(t, s.DeleteImage(ctx, "nobody"), users.ErrNotFound)
		assert.ErrorIs(t, s.DeleteImage(ctx, "u1"), users.ErrNotFound, "u1 has no image")
		assert.Equal(t, 1, imageRows(t, path))
	})

	t.Run("RolledBack", func(t *testing.T) {
		rollback := errors.New("roll back")
		err := s.Atomic(ctx, func(ctx context.Context, tx users.Store) error {
			require.NoError(t, tx.PutImage(ctx, newImage("u1", []byte("new"))))
			require.NoError(t, tx.DeleteImage(ctx, "u0"))
			got, err := tx.GetImage(ctx, "u1")
			require.NoError(t, err, "the transaction sees its own image")
			assert.Equal(t, []byte("new"), got.Data)
			_, err = s.GetImage(ctx, "u1")
			assert.ErrorIs(t, err, users.ErrNotFound, "a read outside sees the committed state")
			return rollback
		})
		require.ErrorIs(t, err, rollback)
		_, err = s.GetImage(ctx, "u1")
		assert.ErrorIs(t, err, users.ErrNotFound)
		_, err = s.GetImage(ctx, "u0")
		assert.NoError(t, err)
	})

	// Concurrent writes are committed together (see group.go): a write refused for an
	// unknown user must not undo the others of its batch, nor be undone itself.
	t.Run("GroupCommit", func(t *testing.T) {
		const n = 64
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			if i%2 == 0 {
				require.NoError(t, s.CreateUser(ctx, newUser(fmt.Sprint("g", i), fmt.Sprintf("g%d@example.com", i))))
			}
		}
		for i := range n {
			wg.Go(func() {
				errs[i] = s.PutImage(ctx, newImage(fmt.Sprint("g", i), []byte(fmt.Sprint("image ", i))))
			})
		}
		wg.Wait()
		for i, err := range errs {
			_, getErr := s.GetImage(ctx, fmt.Sprint("g", i))
			if i%2 == 0 {
				assert.NoError(t, err, "g%d", i)
				assert.NoError(t, getErr, "g%d", i)
			} else {
				assert.ErrorIs(t, err, users.ErrNotFound, "g%d", i)
				assert.ErrorIs(t, getErr, users.ErrNotFound, "g%d", i)
			}
		}
		for i := range n {
			wg.Go(func() { errs[i] = s.DeleteImage(ctx, fmt.Sprint("g", i)) })
		}
		wg.Wait()
		for i, err := range errs {
			if i%2 == 0 {
				assert.NoError(t, err, "g%d", i)
			} else {
				assert.ErrorIs(t, err, users.ErrNotFound, "g%d", i)
			}
		}
		assert.Equal(t, 1, imageRows(t, path), "only u0's image is left")
	})
}

// TestImageSurvivesReopen checks that an image is kept in the file.
func TestImageSurvivesReopen(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t, nil)
	require.NoError(t, s.CreateUser(ctx, newUser("u1", "reopen@example.com")))
	img := newImage("u1", []byte{0x89, 'P', 'N', 'G', 0, 0, 0xff})
	require.NoError(t, s.PutImage(ctx, img))
	require.NoError(t, s.Close())

	s, err := sqlite.Open(ctx, path, nil)
	require.NoError(t, err)
	defer s.Close()
	got, err := s.GetImage(ctx, "u1")
	require.NoError(t, err)
	assert.Equal(t, img, got)
}
