package httpadapter

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gousers/users"
)

// The profile-image routes (Axway's GET and POST /users/{id}/image): the caller's own under
// /user/image, anyone's the policy allows under /users/{id}/image. Reading needs
// users.ActionRead, replacing and removing users.ActionSetImage: the Service decides.
//
// The body of PUT (or POST) is the image itself, JPEG or PNG. Its type is sniffed from its
// bytes by the Service; the request's Content-Type is not read. 413 over
// Options.MaxImageBytes (or the Service's own limit), 415 for anything but a JPEG or a PNG,
// 400 for an image whose header cannot be read or whose sides are over the Service's limit.

// DefaultMaxImageBytes is the default of Options.MaxImageBytes.
const DefaultMaxImageBytes = 1 << 20

var errImageTooLarge = &users.Error{Code: CodeTooLarge, Field: "image", Message: "the image is larger than the limit of profile images"}

// imageInfo is the answer to an image upload: what the Service found the image to be.
type imageInfo struct {
	ContentType string    `json:"contentType"`
	Width       int       `json:"width"`
	Height      int       `json:"height"`
	Size        int       `json:"size"`
	ETag        string    `json:"etag"`
	Updated     time.Time `json:"updated"`
}

// getOwnImage serves GET /user/image → 200 the caller's image, 304, or 404 when none.
func (h *handler) getOwnImage(w http.ResponseWriter, r *http.Request) error {
	return h.getImage(w, r, selfID(r))
}

// putOwnImage serves PUT /user/image: the image → 200 {contentType, width, height, ...}.
func (h *handler) putOwnImage(w http.ResponseWriter, r *http.Request) error {
	return h.putImage(w, r, selfID(r))
}

// deleteOwnImage serves DELETE /user/image → 204, or 404 when there is none.
func (h *handler) deleteOwnImage(w http.ResponseWriter, r *http.Request) error {
	return h.deleteImage(w, r, selfID(r))
}

// getUserImage serves GET /users/{id}/image.
func (h *handler) getUserImage(w http.ResponseWriter, r *http.Request) error {
	return h.getImage(w, r, r.PathValue("id"))
}

// putUserImage serves PUT and POST /users/{id}/image.
func (h *handler) putUserImage(w http.ResponseWriter, r *http.Request) error {
	return h.putImage(w, r, r.PathValue("id"))
}

// deleteUserImage serves DELETE /users/{id}/image.
func (h *handler) deleteUserImage(w http.ResponseWriter, r *http.Request) error {
	return h.deleteImage(w, r, r.PathValue("id"))
}

// getImage writes u's image with its type and entity tag, or 304 Not Modified when the
// request's If-None-Match names the tag. The image is private (Cache-Control: private,
// no-cache: a cache revalidates it each time) and is never sniffed as another type.
func (h *handler) getImage(w http.ResponseWriter, r *http.Request, userID string) error {
	img, err := h.svc.Image(r.Context(), userID)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("ETag", img.ETag)
	hd.Set("Cache-Control", "private, no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	if etagMatches(r.Header.Values("If-None-Match"), img.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return nil
	}
	hd.Set("Content-Type", img.ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(img.Data)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(img.Data)
	return nil
}

// etagMatches reports whether an If-None-Match header (its lines) names etag, by the weak
// comparison RFC 9110 (section 13.1.2) asks for: W/ is ignored, and * matches any.
func etagMatches(lines []string, etag string) bool {
	for _, line := range lines {
		for tag := range strings.SplitSeq(line, ",") {
			tag = strings.TrimPrefix(strings.TrimSpace(tag), "W/")
			if tag == "*" || tag == strings.TrimPrefix(etag, "W/") {
				return true
			}
		}
	}
	return false
}

// putImage stores the request body as u's image: at most Options.MaxImageBytes, read before
// the Service sniffs its type.
func (h *handler) putImage(w http.ResponseWriter, r *http.Request, userID string) error {
	data, err := readLimited(w, r, h.maxImage, errImageTooLarge)
	if err != nil {
		return err
	}
	img, err := h.svc.SetImage(r.Context(), userID, data)
	if err != nil {
		return err
	}
	w.Header().Set("ETag", img.ETag)
	return writeJSON(w, http.StatusOK, imageInfo{
		ContentType: img.ContentType, Width: img.Width, Height: img.Height, Size: len(img.Data),
		ETag: img.ETag, Updated: img.Updated,
	})
}

func (h *handler) deleteImage(w http.ResponseWriter, r *http.Request, userID string) error {
	if err := h.svc.DeleteImage(r.Context(), userID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
