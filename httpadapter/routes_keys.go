package httpadapter

import (
	"net/http"
	"time"

	"github.com/gousers/users"
)

// The API-key routes: the caller's own under /user/keys, anyone's the policy lets the caller
// manage (users.ActionManageKeys) under /users/{id}/keys. A key authenticates wherever a
// bearer token does, until it expires, is deleted or rotated, or its user is disabled.

// self returns the caller, after checking with the policy that they may do action to
// themself (any active user may read themself and manage their own keys and image).
func self(r *http.Request, action users.Action) (*users.User, error) {
	u := callerFrom(r).user
	if err := users.Authorize(u, action, u); err != nil {
		return nil, err
	}
	return u, nil
}

// listOwnKeys serves GET /user/keys → 200 the caller's API keys, without their keys.
func (h *handler) listOwnKeys(w http.ResponseWriter, r *http.Request) error {
	u, err := self(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.listKeys(w, r, u)
}

// createOwnKey serves POST /user/keys: {name, expires?} → 201 the API key, with its key
// shown this once.
func (h *handler) createOwnKey(w http.ResponseWriter, r *http.Request) error {
	u, err := self(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.createKey(w, r, u)
}

// deleteOwnKey serves DELETE /user/keys/{id} → 204: the key stops working.
func (h *handler) deleteOwnKey(w http.ResponseWriter, r *http.Request) error {
	u, err := self(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.deleteKey(w, r, u, r.PathValue("id"))
}

// rotateOwnKey serves POST /user/keys/{id}/rotate → 200 the API key with a new key, shown
// this once; the old key stops working.
func (h *handler) rotateOwnKey(w http.ResponseWriter, r *http.Request) error {
	u, err := self(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.rotateKey(w, r, u, r.PathValue("id"))
}

// listUserKeys serves GET /users/{id}/keys → 200 the user's API keys, without their keys.
func (h *handler) listUserKeys(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.listKeys(w, r, u)
}

// createUserKey serves POST /users/{id}/keys: {name, expires?} → 201 the API key, with its
// key shown this once.
func (h *handler) createUserKey(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.createKey(w, r, u)
}

// deleteUserKey serves DELETE /users/{id}/keys/{keyId} → 204.
func (h *handler) deleteUserKey(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.deleteKey(w, r, u, r.PathValue("keyId"))
}

// rotateUserKey serves POST /users/{id}/keys/{keyId}/rotate → 200 the API key with a new
// key, shown this once.
func (h *handler) rotateUserKey(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionManageKeys)
	if err != nil {
		return err
	}
	return h.rotateKey(w, r, u, r.PathValue("keyId"))
}

func (h *handler) listKeys(w http.ResponseWriter, r *http.Request, u *users.User) error {
	keys, err := h.svc.APIKeys(r.Context(), u.ID)
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []*users.APIKey{} // [], not null
	}
	return writeJSON(w, http.StatusOK, keys)
}

func (h *handler) createKey(w http.ResponseWriter, r *http.Request, u *users.User) error {
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
	k, err := h.svc.CreateAPIKey(r.Context(), u.ID, in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, k)
}

func (h *handler) deleteKey(w http.ResponseWriter, r *http.Request, u *users.User, keyID string) error {
	if err := h.svc.DeleteAPIKey(r.Context(), u.ID, keyID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (h *handler) rotateKey(w http.ResponseWriter, r *http.Request, u *users.User, keyID string) error {
	k, err := h.svc.RotateAPIKey(r.Context(), u.ID, keyID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, k)
}
