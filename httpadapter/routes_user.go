package httpadapter

import (
	"context"
	"net/http"

	"github.com/gousers/users"
)

// The routes under /user: the caller's own account, and the password flows.

// signIn serves POST /user/auth: {username, password} → 200 {token, user, expires}.
func (h *handler) signIn(w http.ResponseWriter, r *http.Request) error {
	var in struct{ username, password string }
	if err := h.decode(w, r, fields{"username": &in.username, "password": &in.password}); err != nil {
		return err
	}
	if err := required("username", in.username, "password", in.password); err != nil {
		return err
	}
	s, err := h.svc.SignIn(r.Context(), in.username, in.password)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, s)
}

// signUp serves POST /user: {username, email, password, metadata} → 201 {token, user,
// expires}. The new user has the default scope and status: nothing else can be set here.
func (h *handler) signUp(w http.ResponseWriter, r *http.Request) error {
	var in users.NewUser
	err := h.decode(w, r, fields{
		"username": &in.Username, "email": &in.Email, "password": &in.Password, "metadata": &in.Metadata,
	})
	if err != nil {
		return err
	}
	if err := required("password", in.Password); err != nil {
		return err
	}
	u, err := h.svc.Create(r.Context(), in)
	if err != nil {
		return err
	}
	s, err := h.svc.NewSession(r.Context(), u.ID)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, s)
}

// currentUser serves GET /user: the signed-in user.
func (h *handler) currentUser(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, callerFrom(r).user)
}

// changePassword serves POST /user/change-password: {oldPassword, newPassword} → 200 {}.
// The caller's other sessions are revoked; the one making the request stays.
func (h *handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ oldPassword, newPassword string }
	if err := h.decode(w, r, fields{"oldPassword": &in.oldPassword, "newPassword": &in.newPassword}); err != nil {
		return err
	}
	if err := required("oldPassword", in.oldPassword, "newPassword", in.newPassword); err != nil {
		return err
	}
	c := callerFrom(r)
	err := h.svc.ChangePassword(r.Context(), users.PasswordChange{
		UserID: c.user.ID, OldPassword: in.oldPassword, NewPassword: in.newPassword, KeepToken: c.token,
	})
	if err != nil {
		return renameField(err, "password", "newPassword")
	}
	return writeJSON(w, http.StatusOK, empty)
}

// resetPassword serves POST /user/reset-password: {email, password} → 200 {}, an
// administrator setting the password of the user with that e-mail address.
func (h *handler) resetPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ email, password string }
	if err := h.decode(w, r, fields{"email": &in.email, "password": &in.password}); err != nil {
		return err
	}
	if err := required("email", in.email, "password", in.password); err != nil {
		return err
	}
	u, err := h.userByEmail(r.Context(), in.email)
	if u, err = authorizeTarget(callerFrom(r).user, users.ActionSetPassword, u, err); err != nil {
		return err
	}
	if err := h.svc.SetPassword(r.Context(), u.ID, in.password); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// userByEmail returns the user with this e-mail address, or ErrNotFound.
func (h *handler) userByEmail(ctx context.Context, email string) (*users.User, error) {
	email, err := users.NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	found, _, err := h.svc.List(ctx, users.Query{
		Conditions: []users.Condition{{Field: "email", Op: users.OpEq, Value: email}},
		Limit:      1,
	})
	if err != nil {
		return nil, err
	}
	if len(found) == 0 {
		return nil, users.NotFoundError("user")
	}
	return found[0], nil
}

// forgotPassword serves POST /user/forgot-password: {email} → 200 {}, the same answer in the
// same time whether or not the address is a user's (the Service mails in the background).
func (h *handler) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ email string }
	if err := h.decode(w, r, fields{"email": &in.email}); err != nil {
		return err
	}
	if err := required("email", in.email); err != nil {
		return err
	}
	if err := h.svc.ForgotPassword(r.Context(), in.email); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// resetForgottenPassword serves POST /user/forgot-password/reset: {code, password} → 200 {}.
func (h *handler) resetForgottenPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ code, password string }
	if err := h.decode(w, r, fields{"code": &in.code, "password": &in.password}); err != nil {
		return err
	}
	if err := required("code", in.code, "password", in.password); err != nil {
		return err
	}
	if err := h.svc.ResetPassword(r.Context(), in.code, in.password); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// signOut serves POST /user/sign-out → 204: the caller's token stops working.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.SignOut(r.Context(), callerFrom(r).token); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
