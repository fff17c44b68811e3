package httpadapter

import (
	"errors"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/gousers/users"
)

// The routes under /users: managing users, as the policy allows (an administrator; a
// delegated administrator holding read or write on users; an organization administrator
// within their organization; a user acting on themself where the policy lets them).

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

// listQuery reads the query of GET /users and GET /users/count, limited to the caller's
// organization when the policy says so (users.ListOrg): the condition orgId eq <org> is
// ANDed to the caller's. Query has no nesting, so a query of several conditions joined by
// OR cannot be so limited: it is 400 naming lop for such a caller.
func listQuery(r *http.Request) (users.Query, error) {
	q, err := parseQuery(r.URL.Query())
	if err != nil {
		return q, err
	}
	org, limited := users.ListOrg(callerFrom(r).user)
	if !limited {
		return q, nil
	}
	if q.Or && len(q.Conditions) > 1 {
		return q, invalid("lop", "OR is not available to an organization administrator, whose queries are limited to their organization")
	}
	q.Or = false
	q.Conditions = append(q.Conditions, users.Condition{Field: "orgId", Op: users.OpEq, Value: org})
	return q, nil
}

// listUsers serves GET /users: the page of users the query selects, as a JSON array, with
// the total in X-Total-Count.
func (h *handler) listUsers(w http.ResponseWriter, r *http.Request) error {
	if err := authorize(r, users.ActionList); err != nil {
		return err
	}
	q, err := listQuery(r)
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
	q, err := listQuery(r)
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

// createUser serves POST /users: a user with a full profile → 201 the user. The policy
// decides on the user as it would be created: a delegated administrator may not create a
// user holding a role or permission they do not hold, nor an organization administrator one
// in another organization. An organization administrator's user is in their organization
// unless the body names one.
func (h *handler) createUser(w http.ResponseWriter, r *http.Request) error {
	actor := callerFrom(r).user
	if err := users.Authorize(actor, users.ActionCreate, nil); err != nil {
		return err
	}
	var in users.NewUser
	var resetAllowed *bool
	err := h.decode(w, r, fields{
		"username": &in.Username, "email": &in.Email, "password": &in.Password, "name": &in.Name,
		"scope": &in.Scope, "plan": &in.Plan, "vendor": (*stringList)(&in.Vendor),
		"allowedPrivateComponents": &in.AllowedPrivateComponents, "orgId": &in.OrgID,
		"status": &in.Status, "metadata": &in.Metadata, "permissions": &in.Permissions,
		"passwordResetAllowed": &resetAllowed,
	})
	if err != nil {
		return err
	}
	if resetAllowed != nil {
		in.PasswordResetDisallowed = !*resetAllowed
	}
	if org, limited := users.ListOrg(actor); limited && strings.TrimSpace(in.OrgID) == "" {
		in.OrgID = org
	}
	draft := draftOf(in)
	if err := draft.NormalizeWith(users.NameRulesOf(h.svc)); err != nil {
		return err
	}
	if err := users.Authorize(actor, users.ActionCreate, draft); err != nil {
		return err
	}
	u, err := h.svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, u)
}

// draftOf returns the user in would create, before normalisation, for the policy to decide
// on: the fields it reads (scope, permissions, organization) and those Normalize needs.
func draftOf(in users.NewUser) *users.User {
	return &users.User{
		Username: in.Username, Email: in.Email, Name: in.Name, Plan: in.Plan, OrgID: in.OrgID, Status: in.Status,
		Scope: slices.Clone(in.Scope), Vendor: slices.Clone(in.Vendor), AllowedPrivateComponents: slices.Clone(in.AllowedPrivateComponents),
		Metadata: in.Metadata, Permissions: maps.Clone(in.Permissions),
	}
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
		"permissions": &p.Permissions, "passwordResetAllowed": &p.PasswordResetAllowed,
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
// that is how a deletion ends; the policy then decides as for a user it does not know.
func (h *handler) pathTicket(r *http.Request) (*users.Ticket, error) {
	actor := callerFrom(r).user
	u, err := h.svc.Get(r.Context(), r.PathValue("id"))
	switch {
	case errors.Is(err, users.ErrNotFound):
		u = nil
	case err != nil:
		return nil, err
	}
	if err := users.Authorize(actor, users.ActionDelete, u); err != nil {
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
// stops working; with ?keys=true every API key and outstanding code as well (Tyk's reset of a
// user's session and API credentials).
func (h *handler) revokeSessions(w http.ResponseWriter, r *http.Request) error {
	keys, err := boolParam(r.URL.Query(), "keys")
	if err != nil {
		return err
	}
	u, err := h.pathUser(r, users.ActionRevokeSessions)
	if err != nil {
		return err
	}
	if keys {
		err = h.svc.RevokeCredentials(r.Context(), u.ID)
	} else {
		err = h.svc.RevokeSessions(r.Context(), u.ID)
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
	u, err := h.pathUser(r, users.ActionApprove)
	if err != nil {
		return err
	}
	if u, err = h.svc.Approve(r.Context(), u.ID); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}

// setUserPassword serves PUT /users/{id}/password: {password} → 200 {}, the password set
// without the current one (Tyk's set password, for a user created without one too); the
// user's sessions and codes are revoked.
func (h *handler) setUserPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionSetPassword)
	if err != nil {
		return err
	}
	var in struct{ password string }
	if err := h.decode(w, r, fields{"password": &in.password}); err != nil {
		return err
	}
	if err := required("password", in.password); err != nil {
		return err
	}
	if err := h.svc.SetPassword(r.Context(), u.ID, in.password); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// generateUserPassword serves POST /users/{id}/reset-password → 200 {password}: a strong
// generated password, shown this once (Amadis's backend-generated reset). The user must
// change it (mustChangePassword), and their sessions and codes are revoked.
func (h *handler) generateUserPassword(w http.ResponseWriter, r *http.Request) error {
	u, err := h.pathUser(r, users.ActionSetPassword)
	if err != nil {
		return err
	}
	password, err := h.svc.GeneratePassword(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, struct {
		Password string `json:"password"`
	}{password})
}
