package storetest

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/gousers/users"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var imageChecks = []check{
	{"PutGetImage", testPutGetImage},
	{"PutImageReplaces", testPutImageReplaces},
	{"PutImageUserNotFound", testPutImageUserNotFound},
	{"GetImageNotFound", testGetImageNotFound},
	{"DeleteImage", testDeleteImage},
	{"DeleteImageNotFound", testDeleteImageNotFound},
	{"DeleteUserRemovesImage", testDeleteUserRemovesImage},
	{"CopiesOfImages", testImageCopies},
	{"ConcurrentPutImage", testConcurrentPutImage},
	{"ConcurrentPutImageAndDeleteUser", testConcurrentPutImageDeleteUser},
}

// pngImage returns a small PNG image of the user's. The store checks none of its fields: the
// data is binary, with a zero byte and bytes over 0x7f, and the ETag is any quoted string.
func pngImage(userID string) *users.Image {
	return &users.Image{
		UserID:      userID,
		ContentType: "image/png",
		Data:        []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x40\x00\x00\x00\x20\xff"),
		Width:       64,
		Height:      32,
		ETag:        `"png-of-` + userID + `"`,
		Updated:     day(1),
	}
}

// jpegImage returns a small JPEG image of the user's, unlike pngImage in every field.
func jpegImage(userID string) *users.Image {
	return &users.Image{
		UserID:      userID,
		ContentType: "image/jpeg",
		Data:        []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\xff\xd9"),
		Width:       640,
		Height:      480,
		ETag:        `"jpeg-of-` + userID + `"`,
		Updated:     day(2),
	}
}

// assertImage checks that GetImage returns want for its user.
func assertImage(t *testing.T, s users.Store, want *users.Image, msgAndArgs ...any) {
	t.Helper()
	got, err := s.GetImage(t.Context(), want.UserID)
	if assert.NoError(t, err, msgAndArgs...) {
		assert.Equal(t, want, got, msgAndArgs...)
	}
}

// assertNoImage checks that GetImage finds no image of the user's.
func assertNoImage(t *testing.T, s users.Store, userID string, msgAndArgs ...any) {
	t.Helper()
	_, err := s.GetImage(t.Context(), userID)
	assert.ErrorIs(t, err, users.ErrNotFound, msgAndArgs...)
}

func testPutGetImage(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2", "u3")
	require.NoError(t, s.PutImage(ctx, pngImage("u1")))
	require.NoError(t, s.PutImage(ctx, jpegImage("u2")))
	// Half a megabyte holding every byte value, as the Service's largest images may.
	large := pngImage("u3")
	large.Data = bytes.Repeat([]byte("\x00\x01\x7f\x80\xfe\xff"), 512<<10/6)
	require.NoError(t, s.PutImage(ctx, large))

	assertImage(t, s, &users.Image{
		UserID: "u1", ContentType: "image/png",
		Data:  []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x40\x00\x00\x00\x20\xff"),
		Width: 64, Height: 32, ETag: `"png-of-u1"`, Updated: day(1),
	})
	assertImage(t, s, &users.Image{
		UserID: "u2", ContentType: "image/jpeg",
		Data:  []byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\xff\xd9"),
		Width: 640, Height: 480, ETag: `"jpeg-of-u2"`, Updated: day(2),
	})
	got, err := s.GetImage(ctx, "u3")
	require.NoError(t, err)
	assert.Len(t, got.Data, 524286)
	assert.True(t, bytes.Equal(large.Data, got.Data), "a large image's data comes back byte for byte")
}

func testPutImageReplaces(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(ctx, pngImage("u1")))
	require.NoError(t, s.PutImage(ctx, pngImage("u2")))

	require.NoError(t, s.PutImage(ctx, jpegImage("u1")), "a second image replaces the first")
	assertImage(t, s, jpegImage("u1"), "every field is the new image's")
	assertImage(t, s, pngImage("u2"), "another user's image stays")

	require.NoError(t, s.DeleteImage(ctx, "u1"))
	assertNoImage(t, s, "u1", "a user has one image: nothing of the replaced one is left")
}

func testPutImageUserNotFound(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	assert.ErrorIs(t, s.PutImage(ctx, pngImage("u2")), users.ErrNotFound)
	assertNoImage(t, s, "u2", "an image of no user is not stored")
	withUsers(t, s, "u2")
	assertNoImage(t, s, "u2", "a user created later does not find it")
}

func testGetImageNotFound(t *testing.T, s users.Store) {
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(t.Context(), pngImage("u2")))
	assertNoImage(t, s, "u1", "a user without an image")
	assertNoImage(t, s, "nobody", "an unknown user")
	assertNoImage(t, s, "U2", "user IDs are compared exactly")
}

func testDeleteImage(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(ctx, pngImage("u1")))
	require.NoError(t, s.PutImage(ctx, jpegImage("u2")))

	require.NoError(t, s.DeleteImage(ctx, "u1"))
	assertNoImage(t, s, "u1")
	assert.ErrorIs(t, s.DeleteImage(ctx, "u1"), users.ErrNotFound, "the second delete")
	assertImage(t, s, jpegImage("u2"), "another user's image stays")
	assertUser(t, s, stored(newUser("u1", "u1@example.com"), 1))

	require.NoError(t, s.PutImage(ctx, jpegImage("u1")), "a user may have an image again")
	assertImage(t, s, jpegImage("u1"))
}

func testDeleteImageNotFound(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	assert.ErrorIs(t, s.DeleteImage(t.Context(), "u1"), users.ErrNotFound, "a user without an image")
	assert.ErrorIs(t, s.DeleteImage(t.Context(), "nobody"), users.ErrNotFound, "an unknown user")
}

func testDeleteUserRemovesImage(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1", "u2")
	require.NoError(t, s.PutImage(ctx, pngImage("u1")))
	require.NoError(t, s.PutImage(ctx, pngImage("u2")))

	require.NoError(t, s.DeleteUser(ctx, "u1"))
	assertNoImage(t, s, "u1", "the deleted user's image")
	assert.ErrorIs(t, s.DeleteImage(ctx, "u1"), users.ErrNotFound, "the image is gone, not only hidden")
	assertImage(t, s, pngImage("u2"), "another user's image stays")

	withUsers(t, s, "u1")
	assertNoImage(t, s, "u1", "a new user under a deleted user's ID inherits no image")

	withUsers(t, s, "u3")
	require.NoError(t, s.DeleteUser(ctx, "u3"), "a user without an image is deleted too")
}

func testImageCopies(t *testing.T, s users.Store) {
	ctx := t.Context()
	withUsers(t, s, "u1")
	mutate := func(img *users.Image) {
		img.Data[0] = 'X'
		img.Data = append(img.Data, "appended"...)
		img.ETag, img.Width = `"mutated"`, 1
	}

	img := pngImage("u1")
	require.NoError(t, s.PutImage(ctx, img))
	mutate(img)
	assertImage(t, s, pngImage("u1"), "after the image passed to PutImage changed")

	got, err := s.GetImage(ctx, "u1")
	require.NoError(t, err)
	mutate(got)
	assertImage(t, s, pngImage("u1"), "after an image GetImage returned changed")

	img = jpegImage("u1")
	require.NoError(t, s.PutImage(ctx, img))
	mutate(img)
	assertImage(t, s, jpegImage("u1"), "after the image that replaced another changed")
}

func testConcurrentPutImage(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	const n = 20
	// Image i differs from the others in every field but the user and the content type.
	image := func(i int) *users.Image {
		return &users.Image{
			UserID: "u1", ContentType: "image/png",
			Data:  bytes.Repeat([]byte{byte(i)}, 100+i),
			Width: 10 + i, Height: 20 + i, ETag: fmt.Sprintf(`"%02d"`, i), Updated: day(i),
		}
	}
	errs := make([]error, n)
	concurrently(t, n, func(i int) { errs[i] = s.PutImage(t.Context(), image(i)) })
	for i, err := range errs {
		assert.NoError(t, err, "goroutine %d", i)
	}

	got, err := s.GetImage(t.Context(), "u1")
	require.NoError(t, err)
	var i int
	_, err = fmt.Sscanf(got.ETag, `"%02d"`, &i)
	require.NoError(t, err, "the ETag %s is one of those put", got.ETag)
	assert.Equal(t, image(i), got, "the stored image is one of those put, whole: no field of another")
}

func testConcurrentPutImageDeleteUser(t *testing.T, s users.Store) {
	withUsers(t, s, "u1")
	const n = 20
	errs := make([]error, n)
	concurrently(t, n, func(i int) {
		if i == n/2 {
			errs[i] = s.DeleteUser(t.Context(), "u1")
			return
		}
		errs[i] = s.PutImage(t.Context(), pngImage("u1"))
	})
	for i, err := range errs {
		if i == n/2 {
			assert.NoError(t, err, "DeleteUser")
		} else if err != nil {
			assert.ErrorIs(t, err, users.ErrNotFound, "PutImage %d may only fail for the user being gone", i)
		}
	}

	assertNoImage(t, s, "u1", "no image outlives its user")
	withUsers(t, s, "u1")
	assertNoImage(t, s, "u1", "nor reappears for a new user under the same ID")
}
