package users_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/gousers/users"
	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The images of the tests, shared with the adapter's.
var (
	pngBytes  = testutil.PNG
	jpegBytes = testutil.JPEG
	gifBytes  = testutil.GIF
	noisyPNG  = testutil.NoisyPNG
	pngHeader = testutil.PNGHeader
)

func etagOf(data []byte) string {
	sum := sha256.Sum256(data)
	return `"` + hex.EncodeToString(sum[:]) + `"`
}

func TestSetImage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)

	tests := []struct {
		name        string
		data        []byte
		contentType string
		w, h        int
	}{
		{"png", pngBytes(t, 3, 2), "image/png", 3, 2},
		{"jpeg", jpegBytes(t, 5, 4), "image/jpeg", 5, 4},
		{"largest side", pngBytes(t, users.DefaultMaxImageSide, 1), "image/png", users.DefaultMaxImageSide, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h.clock.Advance(time.Minute)
			data := bytes.Clone(tt.data)
			img, err := h.svc.SetImage(ctx, u.ID, data)
			require.NoError(t, err)
			want := &users.Image{UserID: u.ID, ContentType: tt.contentType, Data: tt.data, Width: tt.w, Height: tt.h,
				ETag: etagOf(tt.data), Updated: users.CanonicalTime(h.clock.Now())}
			assert.Equal(t, want, img)
			assert.Regexp(t, `^"[0-9a-f]{64}"$`, img.ETag)
			data[len(data)-1]++ // the caller's slice is not kept
			got, err := h.svc.Image(ctx, u.ID)
			require.NoError(t, err)
			assert.Equal(t, want, got, "the latest image replaces the earlier one")
		})
	}
	assert.Equal(t, len(tests), h.events.count(users.EventUserUpdated))
}

func TestSetImageRefused(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.MaxImageBytes = 4096 })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	big := noisyPNG(t, 64, 64)
	require.Greater(t, len(big), 4096)

	tests := []struct {
		name     string
		userID   string
		data     []byte
		sentinel error
		code     users.Code
		field    string
	}{
		{"gif", u.ID, gifBytes(t, 3, 2), users.ErrUnsupportedMedia, users.CodeUnsupportedMedia, "image"},
		{"text", u.ID, []byte("<svg xmlns='http://www.w3.org/2000/svg'/> is not a picture we take"), users.ErrUnsupportedMedia, users.CodeUnsupportedMedia, "image"},
		{"empty", u.ID, nil, users.ErrUnsupportedMedia, users.CodeUnsupportedMedia, "image"},
		{"over MaxImageBytes", u.ID, big, users.ErrTooLarge, users.CodeTooLarge, "image"},
		{"over MaxImageBytes, whatever it is", u.ID, bytes.Repeat([]byte("a"), 4097), users.ErrTooLarge, users.CodeTooLarge, "image"},
		{"decompression bomb", u.ID, pngHeader(100_000, 100_000, false), users.ErrInvalid, users.CodeInvalid, "image"},
		{"too wide", u.ID, pngHeader(users.DefaultMaxImageSide+1, 1, false), users.ErrInvalid, users.CodeInvalid, "image"},
		{"too high", u.ID, pngHeader(1, users.DefaultMaxImageSide+1, false), users.ErrInvalid, users.CodeInvalid, "image"},
		{"bad checksum", u.ID, pngHeader(10, 10, true), users.ErrInvalid, users.CodeInvalid, "image"},
		{"png signature only", u.ID, []byte("\x89PNG\r\n\x1a\n"), users.ErrInvalid, users.CodeInvalid, "image"},
		{"jpeg marker then junk", u.ID, append([]byte("\xff\xd8\xff"), bytes.Repeat([]byte{0}, 64)...), users.ErrInvalid, users.CodeInvalid, "image"},
		{"unknown user", uuid.NewString(), pngBytes(t, 3, 2), users.ErrNotFound, users.CodeNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := h.svc.SetImage(ctx, tt.userID, tt.data)
			assert.Nil(t, img)
			assert.ErrorIs(t, err, tt.sentinel)
			assertCode(t, err, tt.code, tt.field)
		})
	}
	_, err := h.svc.Image(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound, "nothing stored")
	assert.Zero(t, h.events.count(users.EventUserUpdated))

	// A header claiming 100000×100000 is refused, but one within the bounds is read from the
	// header alone.
	img, err := h.svc.SetImage(ctx, u.ID, pngHeader(users.DefaultMaxImageSide, users.DefaultMaxImageSide, false))
	require.NoError(t, err)
	assert.Equal(t, users.DefaultMaxImageSide, img.Width)
}

func TestMaxImageSide(t *testing.T) {
	h := newHarness(t, func(c *users.Config) { c.MaxImageSide = 4 })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	for _, data := range [][]byte{pngBytes(t, 4, 4), jpegBytes(t, 1, 4)} {
		_, err := h.svc.SetImage(ctx, u.ID, data)
		assert.NoError(t, err)
	}
	for _, data := range [][]byte{pngBytes(t, 5, 4), jpegBytes(t, 4, 5)} {
		_, err := h.svc.SetImage(ctx, u.ID, data)
		assertCode(t, err, users.CodeInvalid, "image")
	}
}

func TestDeleteImage(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	b := h.create(t, bob, alicePassword)

	_, err := h.svc.Image(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	assert.ErrorIs(t, h.svc.DeleteImage(ctx, u.ID), users.ErrNotFound)
	_, err = h.svc.Image(ctx, uuid.NewString())
	assert.ErrorIs(t, err, users.ErrNotFound)
	assert.ErrorIs(t, h.svc.DeleteImage(ctx, uuid.NewString()), users.ErrNotFound)

	_, err = h.svc.SetImage(ctx, u.ID, pngBytes(t, 2, 2))
	require.NoError(t, err)
	_, err = h.svc.SetImage(ctx, b.ID, jpegBytes(t, 2, 2))
	require.NoError(t, err)
	require.NoError(t, h.svc.DeleteImage(ctx, u.ID))
	_, err = h.svc.Image(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	assert.ErrorIs(t, h.svc.DeleteImage(ctx, u.ID), users.ErrNotFound)
	_, err = h.svc.Image(ctx, b.ID)
	assert.NoError(t, err, "other users' images stay")
}

func TestDeleteUserRemovesImage(t *testing.T) {
	var h *harness
	imageGone := make(chan bool, 1)
	check := users.DeletionStep{Name: "check", Run: func(ctx context.Context, userID string) error {
		_, err := h.store.GetImage(ctx, userID)
		_, userErr := h.store.GetUser(ctx, userID)
		imageGone <- err != nil && userErr == nil
		return nil
	}}
	h = newHarness(t, func(c *users.Config) { c.DeletionSteps = []users.DeletionStep{check} })
	ctx := context.Background()
	u := h.create(t, alice, alicePassword)
	b := h.create(t, bob, alicePassword)
	_, err := h.svc.SetImage(ctx, u.ID, pngBytes(t, 2, 2))
	require.NoError(t, err)
	_, err = h.svc.SetImage(ctx, b.ID, pngBytes(t, 2, 2))
	require.NoError(t, err)

	ticket, err := h.svc.Delete(ctx, u.ID)
	require.NoError(t, err)
	assert.Equal(t, []string{"revoke-credentials", "remove-image", "check", "remove-user"}, ticket.Steps)
	done := waitForTicket(t, h.svc, ticket.ID, ticketDone, "done")
	require.Equal(t, users.TicketCompleted, done.Status)
	assert.True(t, <-imageGone, "the image is removed by its own step, before the user")
	_, err = h.store.GetImage(ctx, u.ID)
	assert.ErrorIs(t, err, users.ErrNotFound)
	_, err = h.store.GetImage(ctx, b.ID)
	assert.NoError(t, err)
	var steps []string
	for _, e := range h.events.ofTicket(ticket.ID) {
		if e.Type == users.EventDeletionStep {
			steps = append(steps, e.Step)
		}
	}
	assert.Equal(t, ticket.Steps, steps)

	// A user without an image is deleted all the same.
	require.NoError(t, h.svc.DeleteImage(ctx, b.ID))
	ticket, err = h.svc.Delete(ctx, b.ID)
	require.NoError(t, err)
	<-imageGone
	assert.Equal(t, users.TicketCompleted, waitForTicket(t, h.svc, ticket.ID, ticketDone, "done").Status)
}
