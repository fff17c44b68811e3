package httpadapter

import (
	"net/http"
	"net/url"
	"strconv"

	"github.com/gousers/users"
)

// The routes under /users: managing users, as the policy allows (an administrator; a
// delegated administrator holding read or write on users; an organization administrator
// within their organization; a user acting on themself where the policy lets them).
//
// Every route passes the request's context, which carries the caller as the actor (see
// users.WithActor), to the Service: the Service decides whether the caller may act, against
// the user as it is in the transaction that changes them. A user the caller may not know of
// is 404 to an administrator and 403 to anyone else.

// authorize checks with the policy that the caller may do an action that has no target,
// before the adapter does costly work for it (reading a large body, say). The Service
// decides again.
func authorize(r *http.Request, action users.Action) error {
	return users.Authorize(callerFrom(r).User, action, nil)
}

// listUsers serves GET /users: the page of users the query selects, as a JSON array, with
// the total in X-Total-Count. An organization administrator's queries are limited to their
// organization: the Service ANDs orgId eq <org> to them, and refuses lop=OR.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	page, total, err := h.svc.List(r.Context(), q)
	if err != nil {
		return renameField(err, "or", "lop")
	}
	if page == nil {
		page = []*users.User{} // [], not null
	}
	w.Header().Set("X-Total-Count", strconv.Itoa(total))
	return writeJSON(w, http.StatusOK, page)
}

// countUsers serves GET /users/count: {count}, the number of users the query selects.
func (h *handler) countUsers(w http.ResponseWriter, r *http.Request) error {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return err
	}
	n, err := h.svc.Count(r.Context(), q)
	if err != nil {
		return renameField(err, "or", "lop")
	}
	return writeJSON(w, http.StatusOK, struct {
		Count int `json:"count"`
	}{n})
}

// createUser serves POST /users: a user with a full profile → 201 the user. The Service
// decides on the user as it would be created: a delegated administrator may not create a
// user holding a role or permission they do not hold, nor an organization administrator one
// in another organization. An organization administrator's user is in their organization
// unless the body names one.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionCreate); err != nil {
		return err
	}
	var in users.NewUser
	var resetAllowed *bool
	err := h.decode(w, r, fields{
		"username": &in.Username, "email": &in.Email, "password": &in.Password, "name": &in.Name,
		"scope": &in.Scope, "plan": &in.Plan, "vendor": (*stringList)(&in.Vendor),
		"allowedPrivateComponents": &in.AllowedPrivateComponents, "orgId": &in.OrgID,
		"status": &in.Status, "metadata": &in.Metadata, "permissions": &in.Permissions,
		"passwordResetAllowed": &resetAllowed, "emailVerified": &in.EmailVerified,
	})
	if err != nil {
		return err
	}
	if resetAllowed != nil {
		in.PasswordResetDisallowed = !*resetAllowed
	}
	u, err := h.svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

// getUser serves GET /users/{id}.
func (h *handler) getUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// updateUser serves PUT /users/{id}: the fields the body has are set, the others left.
// users.AuthorizeUpdate decides on the fields, against the user as they are when the change
// is made; a version in the body must also match. A caller changing their own username,
// e-mail address or password proves their password in currentPassword.
func (h *handler) updateUser(w http.ResponseWriter, r *http.Request) error {
	var p users.Update
	var vendor *stringList
	err := h.decode(w, r, fields{
		"username": &p.Username, "email": &p.Email, "password": &p.Password, "name": &p.Name,
		"scope": &p.Scope, "plan": &p.Plan, "vendor": &vendor,
		"allowedPrivateComponents": &p.AllowedPrivateComponents, "orgId": &p.OrgID,
		"status": &p.Status, "metadata": &p.Metadata, "version": &p.Version,
		"permissions": &p.Permissions, "passwordResetAllowed": &p.PasswordResetAllowed,
		"currentPassword": &p.CurrentPassword, "emailVerified": &p.EmailVerified,
	})
	if err != nil {
		return err
	}
	p.Vendor = (*[]string)(vendor)
	u, err := h.svc.Update(r.Context(), r.PathValue("id"), p)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// deleteUser serves DELETE /users/{id} → 200 the deletion ticket.
func (h *handler) deleteUser(w http.ResponseWriter, r *http.Request) error {
	t, err := h.svc.Delete(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, t)
}

// pathTicket returns the deletion ticket of the path's {ticket}, which must be the ticket of
// the path's {id}. The Service decides whether the caller may see it: whether they may delete
// its user, as the user is or, once gone, as the ticket recorded them.
func (h *handler) pathTicket(r *http.Request) (*users.Ticket, error) {
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
// stops working; with ?keys=true every API key and outstanding code as well (Tyk's reset of a
// user's session and API credentials).
func (h *handler) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	keys, err := boolParam(r.URL.Query(), "keys")
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	if keys {
		err = h.svc.RevokeCredentials(r.Context(), id)
	} else {
		err = h.svc.RevokeSessions(r.Context(), id)
	}
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// boolParam reads the query string of a route whose one parameter is the optional boolean
// name (absent is false); any other parameter is 400.
func boolParam(v url.Values, name string) (bool, error) {
	for p := range v {
		if p != name {
			return false, invalid(p, "is not a parameter of this request")
		}
	}
	switch vs := v[name]; {
	case len(vs) == 0:
		return false, nil
	case len(vs) > 1:
		return false, invalid(name, "must be given once")
	}
	b, err := strconv.ParseBool(v.Get(name))
	if err != nil {
		return false, invalid(name, "must be true or false")
	}
	return b, nil
}

// approveUser serves POST /users/{id}/approve → 200 the user, now active (Axway's approval
// of a pending user). Approving an active user changes nothing; a disabled one is 409.
func (h *handler) approveUser(w http.ResponseWriter, r *http.Request) error {
	u, err := h.svc.Approve(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// setUserPassword serves PUT /users/{id}/password: {password} → 200 {}, the password set
// without the current one (Tyk's set password, for a user created without one too); every
// session, code and API key of the user is revoked.
func (h *handler) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ password string }
	if err := h.decode(w, r, fields{"password": &in.password}); err != nil {
		return err
	}
	if err := required("password", in.password); err != nil {
		return err
	}
	if err := h.svc.SetPassword(r.Context(), r.PathValue("id"), in.password); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// generateUserPassword serves POST /users/{id}/reset-password → 200 {password}: a strong
// generated password, shown this once (Amadis's backend-generated reset). The user must
// change it (mustChangePassword), and every session, code and API key of theirs is revoked.
func (h *handler) generateUserPassword(w http.ResponseWriter, r *http.Request) error {
	password, err := h.svc.GeneratePassword(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Password string `json:"password"`
	}{password})
}
