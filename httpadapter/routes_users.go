package httpadapter

import (
	"errors"
	"net/http"
	"strconv"

	"github.com/gousers/users"
)

// The routes under /users: managing users other than oneself, as the policy allows (an
// administrator; a user may read, update and sign out themself).

// authorizeTarget checks with the policy that actor may do action to the user a look-up
// returned (u, err), and returns the user. A user who does not exist is ErrNotFound to an
// actor the policy lets act on users it does not know (an administrator), and ErrForbidden
// to any other, who so learns nothing about who exists.
func authorizeTarget(actor *users.User, action users.Action, u *users.User, err error) (*users.User, error) {
	if errors.Is(err, users.ErrNotFound) {
		if err := users.Authorize(actor, action, nil); err != nil {
			return nil, err
		}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	if err := users.Authorize(actor, action, u); err != nil {
		return nil, err
	}
	return u, nil
}

// pathUser returns the user of the path's {id}, after checking the caller may do action to
// them (see authorizeTarget).
func (h *handler) pathUser(r *http.Request, action users.Action) (*users.User, error) {
	u, err := h.svc.Get(r.Context(), r.PathValue("id"))
	return authorizeTarget(callerFrom(r).user, action, u, err)
}

// authorize checks with the policy that the caller may do an action that has no target.
func authorize(r *http.Request, action users.Action) error {
	return users.Authorize(callerFrom(r).user, action, nil)
}

// listUsers serves GET /users: the page of users the query selects, as a JSON array, with
// the total in X-Total-Count.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionList); err != nil {
		return err
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page, total, err := h.svc.List(r.Context(), q)
	if err != nil {
		return err
	}
	if page == nil {
		page = []*users.User{} // [], not null
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	return writeJSON(w, http.StatusOK, page)
}

// countUsers serves GET /users/count: {count}, the number of users the query selects.
func (h *handler) countUsers(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionList); err != nil {
		return err
	}
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	n, err := h.svc.Count(r.Context(), q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Count int `json:"count"`
	}{n})
}

// createUser serves POST /users: a user with a full profile → 201 the user.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionCreate); err != nil {
		return err
	}
	var in users.NewUser
	err := h.decode(w, r, fields{
		"username": &in.Username, "email": &in.Email, "password": &in.Password, "name": &in.Name,
		"scope": &in.Scope, "plan": &in.Plan, "vendor": (*stringList)(&in.Vendor),
		"allowedPrivateComponents": &in.AllowedPrivateComponents, "orgId": &in.OrgID,
		"status": &in.Status, "metadata": &in.Metadata,
	})
	if err != nil {
		return err
	}
	u, err := h.svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

// getUser serves GET /users/{id}.
func (h *handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionRead)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// updateUser serves PUT /users/{id}: the fields the body has are set, the others left.
// AuthorizeUpdate decides on the fields; the update applies only to the version of the user
// it decided on (409 if the user changed meanwhile), unless the body names a version itself.
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionUpdate)
	if err != nil {
		return err
	}
	var p users.Update
	var vendor *stringList
	err = h.decode(w, r, fields{
		"username": &p.Username, "email": &p.Email, "password": &p.Password, "name": &p.Name,
		"scope": &p.Scope, "plan": &p.Plan, "vendor": &vendor,
		"allowedPrivateComponents": &p.AllowedPrivateComponents, "orgId": &p.OrgID,
		"status": &p.Status, "metadata": &p.Metadata, "version": &p.Version,
	})
	if err != nil {
		return err
	}
	p.Vendor = (*[]string)(vendor)
	if err := users.AuthorizeUpdate(callerFrom(r).user, u, p); err != nil {
		return err
	}
	if p.Version == nil {
		p.Version = &u.Version
	}
	if u, err = h.svc.Update(r.Context(), u.ID, p); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// deleteUser serves DELETE /users/{id} → 200 the deletion ticket.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionDelete)
	if err != nil {
		return err
	}
	t, err := h.svc.Delete(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// pathTicket returns the deletion ticket of the path's {ticket}, which must be the ticket of
// the path's {id}, after checking the caller may delete that user. The user may be gone:
// that is how a deletion ends.
func (h *handler) pathTicket(r *http.Request) (*users.Ticket, error) {
	if _, err := h.pathUser(r, users.ActionDelete); err != nil && !errors.Is(err, users.ErrNotFound) {
		return nil, err
	}
	t, err := h.svc.Ticket(r.Context(), r.PathValue("ticket"))
	if err != nil {
		return nil, err
	}
	if t.UserID != r.PathValue("id") {
		return nil, users.NotFoundError("ticket")
	}
	return t, nil
}

// deletionStatus serves GET /users/{id}/delete-status/{ticket} → 200 the ticket.
func (h *handler) deletionStatus(w http.ResponseWriter, r *http.Request) error {
	t, err := h.pathTicket(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// cancelDeletion serves POST /users/{id}/delete-status/{ticket}/cancel → 200 the ticket,
// or 409 once the deletion has ended.
func (h *handler) cancelDeletion(w http.ResponseWriter, r *http.Request) error {
	t, err := h.pathTicket(r)
	if err != nil {
		return err
	}
	if t, err = h.svc.CancelDeletion(r.Context(), t.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// revokeSessions serves POST /users/{id}/sessions/revoke → 204: every session of the user
// stops working.
func (h *handler) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionRevokeSessions)
	if err != nil {
		return err
	}
	if err := h.svc.RevokeSessions(r.Context(), u.ID); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
