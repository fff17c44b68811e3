package httpadapter

import (
	"net/http"
	"time"

	"github.com/gousers/users"
)

// The API-key routes: the caller's own under /user/keys, anyone's the policy lets the caller
// manage under /users/{id}/keys. A key authenticates wherever a bearer token does, until it
// expires, is deleted or rotated, or its user's password, status, scope, permissions or
// organization changes. A key is its owner's credential: only the owner, with a session, and
// an administrator, with a session, mint one (create or rotate); a delegated administrator may
// list and revoke the keys of the users they manage (with a session), never mint them.

// selfID returns the ID of the caller, for the routes of their own account.
func selfID(r *http.Request) string { return callerFrom(r).User.ID }

// listOwnKeys serves GET /user/keys → 200 the caller's API keys, without their keys.
func (h *handler) listOwnKeys(w http.ResponseWriter, r *http.Request) error {
	return h.listKeys(w, r, selfID(r))
}

// createOwnKey serves POST /user/keys: {name, expires?} → 201 the API key, with its key
// shown this once.
func (h *handler) createOwnKey(w http.ResponseWriter, r *http.Request) error {
	return h.createKey(w, r, selfID(r))
}

// deleteOwnKey serves DELETE /user/keys/{id} → 204: the key stops working.
func (h *handler) deleteOwnKey(w http.ResponseWriter, r *http.Request) error {
	return h.deleteKey(w, r, selfID(r), r.PathValue("id"))
}

// rotateOwnKey serves POST /user/keys/{id}/rotate → 200 the API key with a new key, shown
// this once; the old key stops working.
func (h *handler) rotateOwnKey(w http.ResponseWriter, r *http.Request) error {
	return h.rotateKey(w, r, selfID(r), r.PathValue("id"))
}

// listUserKeys serves GET /users/{id}/keys → 200 the user's API keys, without their keys.
func (h *handler) listUserKeys(w http.ResponseWriter, r *http.Request) error {
	return h.listKeys(w, r, r.PathValue("id"))
}

// createUserKey serves POST /users/{id}/keys: {name, expires?} → 201 the API key, with its
// key shown this once. For another user it is an administrator's: the user is mailed about it.
func (h *handler) createUserKey(w http.ResponseWriter, r *http.Request) error {
	return h.createKey(w, r, r.PathValue("id"))
}

// deleteUserKey serves DELETE /users/{id}/keys/{keyId} → 204.
func (h *handler) deleteUserKey(w http.ResponseWriter, r *http.Request) error {
	return h.deleteKey(w, r, r.PathValue("id"), r.PathValue("keyId"))
}

// rotateUserKey serves POST /users/{id}/keys/{keyId}/rotate → 200 the API key with a new
// key, shown this once.
func (h *handler) rotateUserKey(w http.ResponseWriter, r *http.Request) error {
	return h.rotateKey(w, r, r.PathValue("id"), r.PathValue("keyId"))
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request, userID string) error {
	keys, err := h.svc.APIKeys(r.Context(), userID)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*users.APIKey{} // [], not null
	}
	return writeJSON(w, http.StatusOK, keys)
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request, userID string) error {
	var in users.NewAPIKey
	var expires *time.Time
	if err := h.decode(w, r, fields{"name": &in.Name, "expires": &expires}); err != nil {
		return err
	}
	if err := required("name", in.Name); err != nil {
		return err
	}
	if expires != nil {
		in.Expires = *expires
	}
	k, err := h.svc.CreateAPIKey(r.Context(), userID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, k)
}

func (h *handler) deleteKey(w http.ResponseWriter, r *http.Request, userID, keyID string) error {
	if err := h.svc.DeleteAPIKey(r.Context(), userID, keyID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request, userID, keyID string) error {
	k, err := h.svc.RotateAPIKey(r.Context(), userID, keyID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}
