package httpadapter

import (
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
	h.setSessionCookie(w, s)
	return writeJSON(w, http.StatusOK, s)
}

// signUp serves POST /user: {username, email, password, metadata}. The new user has the
// default scope and status: nothing else can be set here. What it answers depends on
// Options.SignUp: 202 {} and a verification mail (SignUpVerify, the default: the same answer
// whether or not the address has an account), or 201 {token, user, expires} (SignUpOpen, and
// SignUpAdmin for an administrator), unless the Service requires a verified address or
// approval first, when it registers the user as SignUpVerify does (202).
func (h *handler) signUp(w http.ResponseWriter, r *http.Request) error {
	var in users.Registration
	err := h.decode(w, r, fields{
		"username": &in.Username, "email": &in.Email, "password": &in.Password, "metadata": &in.Metadata,
	})
	if err != nil {
		return err
	}
	if err := required("password", in.Password); err != nil {
		return err
	}
	var s *users.Session
	if h.signUpMode == SignUpVerify {
		err = h.svc.Register(r.Context(), in)
	} else {
		s, err = h.svc.SignUp(r.Context(), in)
	}
	if err != nil {
		return err
	}
	if s == nil {
		return writeJSON(w, http.StatusAccepted, empty)
	}
	h.setSessionCookie(w, s)
	return writeJSON(w, http.StatusCreated, s)
}

// currentUser serves GET /user: the signed-in user.
func (h *handler) currentUser(w http.ResponseWriter, r *http.Request) error {
	return writeJSON(w, http.StatusOK, callerFrom(r).User)
}

// changePassword serves POST /user/change-password → 200 {}. With a bearer token it takes
// {oldPassword, newPassword}, JSON, and changes the caller's password; the caller's other
// sessions are revoked, the one making the request stays. Without an Authorization header it
// takes {email, oldPassword, newPassword}, JSON or form-encoded (Amadis's change by e-mail):
// a wrong password and an unknown address get the same 400 (users.ErrWrongPassword), and
// every session of the user is revoked.
func (h *handler) changePassword(w http.ResponseWriter, r *http.Request) error {
	c := callerFrom(r)
	var in struct{ email, oldPassword, newPassword string }
	into := fields{"oldPassword": &in.oldPassword, "newPassword": &in.newPassword}
	var err error
	if c != nil {
		err = h.decode(w, r, into)
	} else {
		into["email"] = &in.email
		err = h.decodeForm(w, r, into)
	}
	if err != nil {
		return err
	}
	if c == nil {
		if err := required("email", in.email); err != nil {
			return err
		}
	}
	if err := required("oldPassword", in.oldPassword, "newPassword", in.newPassword); err != nil {
		return err
	}
	change := users.PasswordChange{Email: in.email, OldPassword: in.oldPassword, NewPassword: in.newPassword}
	if c != nil {
		change.UserID = c.User.ID // the caller's own session stays: it is the actor's
	}
	if err := h.svc.ChangePassword(r.Context(), change); err != nil {
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
	if err := h.svc.SetPasswordByEmail(r.Context(), in.email, in.password); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, empty)
}

// forgotPassword serves POST /user/forgot-password: {email}, JSON or form-encoded → 200 {},
// the same answer in the same time whether or not the address is a user's (the Service mails
// in the background).
func (h *handler) forgotPassword(w http.ResponseWriter, r *http.Request) error {
	var in struct{ email string }
	if err := h.decodeForm(w, r, fields{"email": &in.email}); err != nil {
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

// signOut serves POST /user/sign-out → 204: the caller's token stops working. Signing out
// with an API key revokes the key.
func (h *handler) signOut(w http.ResponseWriter, r *http.Request) error {
	if err := h.svc.SignOut(r.Context(), callerFrom(r).token); err != nil {
		return err
	}
	h.clearSessionCookie(w)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// register serves POST /user/register: {username or email, name, password}, JSON or
// form-encoded → 202 {}. The Service answers alike whether or not the username or e-mail is
// taken: it creates the user and mails them a verification code, or mails the owner of the
// address that someone tried to register with it.
func (h *handler) register(w http.ResponseWriter, r *http.Request) error {
	var in users.Registration
	err := h.decodeForm(w, r, fields{
		"username": &in.Username, "email": &in.Email, "name": &in.Name, "password": &in.Password,
	})
	if err != nil {
		return err
	}
	if err := required("password", in.Password); err != nil {
		return err
	}
	if err := h.svc.Register(r.Context(), in); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, empty)
}

// resendVerification serves POST /user/register/resend: {email}, JSON or form-encoded → 202
// {}, the same answer whether or not a verification code is mailed.
func (h *handler) resendVerification(w http.ResponseWriter, r *http.Request) error {
	var in struct{ email string }
	if err := h.decodeForm(w, r, fields{"email": &in.email}); err != nil {
		return err
	}
	if err := required("email", in.email); err != nil {
		return err
	}
	if err := h.svc.ResendVerification(r.Context(), in.email); err != nil {
		return err
	}
	return writeJSON(w, http.StatusAccepted, empty)
}

// verifyEmail serves POST /user/verify: {code}, JSON or form-encoded → 200 the user, whose
// e-mail address is now verified (and who is active, unless approval is required). An
// unknown, used or expired code is 400 naming code.
func (h *handler) verifyEmail(w http.ResponseWriter, r *http.Request) error {
	var in struct{ code string }
	if err := h.decodeForm(w, r, fields{"code": &in.code}); err != nil {
		return err
	}
	if err := required("code", in.code); err != nil {
		return err
	}
	u, err := h.svc.VerifyEmail(r.Context(), in.code)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, u)
}
