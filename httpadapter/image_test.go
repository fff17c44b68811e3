package httpadapter_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/gousers/users/internal/testutil"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// imageInfo is the answer to an upload.
type imageInfo struct {
	ContentType string `json:"contentType"`
	Width       int    `json:"width"`
	Height      int    `json:"height"`
	Size        int    `json:"size"`
	ETag        string `json:"etag"`
}

// Axway API Manager Users API (seed 002): GET and POST /users/{id}/image, "Set the jpeg image
// to be associated with a user". Here a user sets their own with PUT /user/image, and whoever
// may manage a user with PUT or POST /users/{id}/image; the body is the image, JPEG or PNG,
// whose type is sniffed and never taken from the Content-Type header.
func TestProfileImage(t *testing.T) {
	f := newFixture(t)
	f.do(t, request{method: "GET", path: "/user/image", token: f.alice.token}).want(t, http.StatusNotFound)

	pic := pngImage(t, 40, 30)
	var info imageInfo
	res := f.do(t, request{method: "PUT", path: "/user/image", token: f.alice.token, body: pic, header: imageHeader("image/png")}).
		want(t, http.StatusOK)
	res.decode(t, &info)
	assert.Equal(t, imageInfo{ContentType: "image/png", Width: 40, Height: 30, Size: len(pic), ETag: info.ETag}, info)
	assert.Equal(t, info.ETag, res.header.Get("ETag"))

	res = f.do(t, request{method: "GET", path: "/user/image", token: f.alice.token}).want(t, http.StatusOK)
	assert.Equal(t, pic, string(res.body))
	assert.Equal(t, "image/png", res.header.Get("Content-Type"))
	assert.Equal(t, info.ETag, res.header.Get("ETag"))
	assert.Equal(t, "private, no-cache", res.header.Get("Cache-Control"))
	assert.Equal(t, "nosniff", res.header.Get("X-Content-Type-Options"))
	other := f.do(t, request{method: "GET", path: "/users/" + f.alice.ID + "/image", token: f.admin.token}).want(t, http.StatusOK)
	assert.Equal(t, res.body, other.body)

	t.Run("a JPEG, by Axway's POST, as an administrator", func(t *testing.T) {
		jpg := jpegImage(t, 64, 48)
		f.do(t, request{method: "POST", path: "/users/" + f.bob.ID + "/image", token: f.admin.token, body: jpg, header: imageHeader("image/jpeg")}).
			want(t, http.StatusOK).decode(t, &info)
		assert.Equal(t, "image/jpeg", info.ContentType)
		assert.Equal(t, 64, info.Width)
		res := f.do(t, request{method: "GET", path: "/users/" + f.bob.ID + "/image", token: f.bob.token}).want(t, http.StatusOK)
		assert.Equal(t, "image/jpeg", res.header.Get("Content-Type"))
		assert.Equal(t, jpg, string(res.body))
	})
	t.Run("the Content-Type header is not read", func(t *testing.T) {
		req := request{method: "PUT", path: "/users/" + f.bob.ID + "/image", token: f.admin.token, body: pic, header: imageHeader("image/gif")}
		res := serve(f.handler, req)
		require.Equal(t, http.StatusOK, res.status, "body: %s", res.body)
		validateResponse(t, newRequest(req), res)
		assert.Contains(t, string(res.body), `"contentType":"image/png"`)
	})

	res = f.do(t, request{method: "DELETE", path: "/user/image", token: f.alice.token}).want(t, http.StatusNoContent)
	assert.Empty(t, res.body)
	f.do(t, request{method: "GET", path: "/user/image", token: f.alice.token}).want(t, http.StatusNotFound)
	f.do(t, request{method: "DELETE", path: "/user/image", token: f.alice.token}).want(t, http.StatusNotFound)
	f.do(t, request{method: "DELETE", path: "/users/" + f.bob.ID + "/image", token: f.admin.token}).want(t, http.StatusNoContent)
}

// GET answers 304 Not Modified to an If-None-Match naming the image's current entity tag.
func TestProfileImageETag(t *testing.T) {
	f := newFixture(t)
	put := func(body string) string {
		res := f.do(t, request{method: "PUT", path: "/user/image", token: f.alice.token, body: body, header: imageHeader("image/png")}).
			want(t, http.StatusOK)
		return res.header.Get("ETag")
	}
	get := func(ifNoneMatch string) *response {
		return f.do(t, request{method: "GET", path: "/user/image", token: f.alice.token, header: http.Header{"If-None-Match": {ifNoneMatch}}})
	}
	etag := put(pngImage(t, 10, 10))
	require.True(t, strings.HasPrefix(etag, `"`) && strings.HasSuffix(etag, `"`), etag)

	for _, match := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
		res := get(match).want(t, http.StatusNotModified)
		assert.Empty(t, res.body, match)
		assert.Equal(t, etag, res.header.Get("ETag"))
		assert.Equal(t, "private, no-cache", res.header.Get("Cache-Control"))
	}
	get(`"other"`).want(t, http.StatusOK)

	newer := put(pngImage(t, 11, 10))
	assert.NotEqual(t, etag, newer)
	res := get(etag).want(t, http.StatusOK)
	assert.Equal(t, newer, res.header.Get("ETag"), "a new image, a new tag")
	get(newer).want(t, http.StatusNotModified)
	assert.Equal(t, etag, put(pngImage(t, 10, 10)), "the tag is the content's")
}

// Every body that is not a JPEG or a PNG of acceptable size is refused, with a status that
// says why: 415 for another type (a GIF, text, nothing), 413 over the size limit (the
// handler's, declared or not, and the Service's), 400 for a header claiming huge sides.
func TestProfileImageRefused(t *testing.T) {
	f := newFixture(t, func(s *setup) {
		s.opts.MaxImageBytes = 4 << 10
		s.cfg.MaxImageBytes = 2 << 10
	})
	gifImage := string(testutil.GIF(t, 8, 8))
	large := noisyPNG(t, 64, 64) // noise does not compress: 16 KiB of pixels
	require.Greater(t, len(large), 4<<10)
	medium := noisyPNG(t, 24, 24)
	require.Greater(t, len(medium), 2<<10)
	require.Less(t, len(medium), 4<<10)

	tests := []struct {
		name   string
		body   string
		status int
		code   string
	}{
		{"a GIF", gifImage, http.StatusUnsupportedMediaType, "unsupported_media"},
		{"a text file", "hello, this is not an image\n", http.StatusUnsupportedMediaType, "unsupported_media"},
		{"HTML", "<html><script>alert(1)</script></html>", http.StatusUnsupportedMediaType, "unsupported_media"},
		{"nothing", "", http.StatusUnsupportedMediaType, "unsupported_media"},
		{"over the handler's limit", large, http.StatusRequestEntityTooLarge, "too_large"},
		{"over the Service's limit", medium, http.StatusRequestEntityTooLarge, "too_large"},
		{"a PNG header claiming 100000×100000", pngHeader(100000, 100000), http.StatusBadRequest, "invalid"},
		{"a truncated PNG", pngImage(t, 8, 8)[:20], http.StatusBadRequest, "invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, path := range []string{"/user/image", "/users/" + f.alice.ID + "/image"} {
				req := request{method: "PUT", path: path, token: f.alice.token, body: tt.body, header: imageHeader("image/png")}
				p := f.do(t, req).want(t, tt.status).problem(t)
				assert.Equal(t, tt.code, p.Code)
			}
		})
	}
	t.Run("over the limit, length not declared", func(t *testing.T) {
		r := newRequest(request{method: "PUT", path: "/user/image", token: f.alice.token, body: large, header: imageHeader("image/png")})
		r.ContentLength = -1
		res := serveRequest(f.handler, r)
		assert.Equal(t, http.StatusRequestEntityTooLarge, res.status, "body: %s", res.body)
	})
	f.do(t, request{method: "GET", path: "/user/image", token: f.alice.token}).want(t, http.StatusNotFound)
	f.do(t, request{method: "PUT", path: "/user/image", token: f.alice.token, body: pngImage(t, 8, 8), header: imageHeader("image/png")}).
		want(t, http.StatusOK)
}

// noisyPNG returns a w×h PNG of random pixels, which do not compress, so that its size is
// about 4×w×h bytes.
func noisyPNG(t testing.TB, w, h int) string { return string(testutil.NoisyPNG(t, w, h)) }

// pngHeader returns the start of a PNG, its signature and a valid IHDR chunk, claiming a
// w×h RGBA image: enough for its dimensions to be read, and nothing to decode.
func pngHeader(w, h uint32) string { return string(testutil.PNGHeader(w, h, false)) }
