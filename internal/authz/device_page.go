package authz

import (
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// The verification page of the device flow (RFC 8628 §3.3): a signed-in
// person types the user code, sees which application asks for which
// rights, and approves or denies. The code is a short secret, so every
// wrong one counts against the address like a failed sign-in.

// Answers of the device page that the person reads.
const (
	msgDeviceCodeWrong   = "That code is wrong or has expired. Check the code your device shows, or start again on the device."
	msgDeviceCodeFormat  = "Enter the code as your device shows it: eight letters, such as BCDF-GHJK."
	msgDeviceThrottled   = "Too many wrong codes. Wait a minute and try again."
	msgDeviceUnavailable = "Connecting a device is not possible right now; please try again shortly."
)

// handleDevice serves the verification page: GET shows the code form,
// POST takes the code and then the decision.
func (s *Server) handleDevice(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.showDevice(w, r)
	case http.MethodPost:
		s.postDevice(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) showDevice(w http.ResponseWriter, r *http.Request) {
	q, e := parseAuthorizeParams(r.URL.RawQuery)
	if e != nil {
		s.showError(w, http.StatusBadRequest, e.code, e.description)
		return
	}
	code := q.get("user_code")
	if len(code) > maxUserCodeInput {
		code = ""
	}
	who, err := s.currentSession(r.Context(), r)
	if err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "device page: load session", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, msgDeviceUnavailable)
		return
	}
	if who == nil {
		// The organisation is asked for at sign-in: the code is not looked
		// up before it, so the page tells nobody whether a code exists.
		http.Redirect(w, r, loginURL("", deviceReturn(code), ""), http.StatusFound)
		return
	}
	s.renderPage(w, http.StatusOK, "device", s.deviceEntry(w, r, who, code))
}

// deviceReturn is the device page with the code typed so far, to come back
// to after signing in.
func deviceReturn(code string) string {
	if code == "" || len(code) > maxUserCodeInput {
		return oauth.PathDevice
	}
	return oauth.PathDevice + "?" + url.Values{"user_code": {code}}.Encode()
}

// deviceEntry is the page asking for the user code.
func (s *Server) deviceEntry(w http.ResponseWriter, r *http.Request, who *signedIn, code string) *pageData {
	d := &pageData{Title: "Connect a device", Action: oauth.PathDevice, UserCode: code, CSRF: s.csrfToken(w, r)}
	if who != nil {
		d.UserName, d.Tenant = displayName(who.user), who.user.Tenant
	}
	return d
}

func (s *Server) postDevice(w http.ResponseWriter, r *http.Request) {
	f, ok := s.readPageForm(w, r)
	if !ok {
		return
	}
	code := f.get("user_code")
	if len(code) > maxUserCodeInput {
		code = ""
	}
	if !s.checkCSRF(r, f) {
		s.metrics.authorizations.WithLabelValues("csrf").Inc()
		d := s.deviceEntry(w, r, nil, code)
		d.Error = "This form expired or did not come from this site. Enter the code again."
		s.renderPage(w, http.StatusForbidden, "device", d)
		return
	}
	who, err := s.currentSession(r.Context(), r)
	if err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "device page: load session", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, msgDeviceUnavailable)
		return
	}
	if who == nil {
		http.Redirect(w, r, loginURL("", deviceReturn(code), ""), http.StatusSeeOther)
		return
	}
	dc, c, fail := s.findDeviceCode(r, code)
	if fail != nil {
		d := s.deviceEntry(w, r, who, code)
		d.Error = fail.Description
		setRetryAfter(w, fail.RetryAfter)
		s.renderPage(w, fail.Status, "device", d)
		return
	}
	if !sessionFits(who, c) {
		norm, _ := normaliseUserCode(code)
		s.renderPage(w, http.StatusForbidden, "message", &pageData{
			Title:    "Sign in with another account",
			Error:    "This device asks for access to " + c.tenant + ", and you are signed in to " + who.user.Tenant + ".",
			LinkURL:  loginURL(c.tenant, deviceReturn(formatUserCode(norm)), ""),
			LinkText: "Sign in to " + c.tenant,
		})
		return
	}
	scopes := entitledScopes(intersect(dc.Scopes, authorizableScopes(c)), who.user)
	decision := f.get("decision")
	if len(scopes) == 0 && decision != "deny" {
		// As at the authorization endpoint: nothing to grant is a denial,
		// and the device learns it at its next poll.
		s.decideDevice(w, r, dc, c, who, store.DeviceDenied, "You hold none of the rights this device asks for, so it was not connected.")
		return
	}
	switch decision {
	case "":
		s.showDeviceConfirm(w, r, code, c, who, scopes)
	case "approve":
		s.decideDevice(w, r, dc, c, who, store.DeviceApproved, "")
	case "deny":
		s.decideDevice(w, r, dc, c, who, store.DeviceDenied, "")
	default:
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "the form was incomplete")
	}
}

// findDeviceCode finds the pending, unexpired device code of a typed user
// code and its client. A well-formed code that finds none is a failure of
// the address, as a wrong password is: 34.5 bits resist guessing only
// while guesses are few.
func (s *Server) findDeviceCode(r *http.Request, typed string) (store.DeviceCode, *clientView, *Error) {
	now := s.cfg.Now()
	// User codes can be guessed, so a throttled address is refused before
	// the code is looked up (see checkPassword).
	addr := clientip.LimitKey(r)
	if wait, limited := s.addrLimiter.blocked(addr, now); limited {
		s.metrics.authorizations.WithLabelValues("user_code_throttled").Inc()
		s.log.Warn("device user code throttled", "remote_addr", remoteAddr(r))
		return store.DeviceCode{}, nil, &Error{Code: oauth.CodeAccessDenied, Description: msgDeviceThrottled, Status: http.StatusTooManyRequests, RetryAfter: wait}
	}
	norm, ok := normaliseUserCode(typed)
	if !ok {
		// A typo, not a guess: guesses come well-formed.
		return store.DeviceCode{}, nil, &Error{Code: oauth.CodeInvalidRequest, Description: msgDeviceCodeFormat, Status: http.StatusBadRequest}
	}
	h := credential.Hash(norm)
	dc, err := s.st.GetDeviceCodeByUserCode(r.Context(), h[:])
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.log.Log(r.Context(), store.LogLevel(err), "device page: find user code", "err", err)
		return store.DeviceCode{}, nil, &Error{Code: oauth.CodeTemporarilyUnavailable, Description: msgDeviceUnavailable, Status: http.StatusServiceUnavailable}
	}
	if err != nil || dc.Status != store.DevicePending || !now.Before(dc.ExpiresAt) {
		s.addrLimiter.fail(addr, now)
		s.metrics.authorizations.WithLabelValues("user_code_wrong").Inc()
		s.log.Info("device user code wrong or expired", "remote_addr", remoteAddr(r))
		return store.DeviceCode{}, nil, &Error{Code: oauth.CodeInvalidGrant, Description: msgDeviceCodeWrong, Status: http.StatusBadRequest}
	}
	c := s.authorizeClient(dc.ClientID)
	if c == nil || !slices.Contains(c.grantTypes, oauth.GrantDeviceCode) {
		return store.DeviceCode{}, nil, &Error{Code: oauth.CodeInvalidRequest, Description: "The application that asked for this code is no longer available.", Status: http.StatusBadRequest}
	}
	return dc, c, nil
}

// showDeviceConfirm asks the person to approve the device's request.
func (s *Server) showDeviceConfirm(w http.ResponseWriter, r *http.Request, code string, c *clientView, who *signedIn, scopes []string) {
	norm, _ := normaliseUserCode(code)
	d := &pageData{
		Title: "Allow this device?", ClientName: c.name, UserName: displayName(who.user),
		Tenant: who.user.Tenant, Action: oauth.PathDevice, CSRF: s.csrfToken(w, r), UserCode: formatUserCode(norm),
	}
	for _, sc := range scopes {
		d.Scopes = append(d.Scopes, scopeView{Name: sc, Description: s.scopeDescription(sc)})
	}
	s.renderPage(w, http.StatusOK, "device", d)
}

// errDeviceGone reports a device code decided, or expired, while the
// person looked at the confirmation.
var errDeviceGone = errors.New("device code no longer pending")

// decideDevice records the person's decision on a pending device code and
// tells them what happens next. notice, when set, replaces the usual one.
func (s *Server) decideDevice(w http.ResponseWriter, r *http.Request, dc store.DeviceCode, c *clientView, who *signedIn, status, notice string) {
	ctx := r.Context()
	now := s.cfg.Now()
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateDeviceCode(ctx, dc.Hash, func(cur store.DeviceCode) (store.DeviceCode, error) {
			if cur.Status != store.DevicePending || !now.Before(cur.ExpiresAt) {
				return cur, errDeviceGone
			}
			cur.Status = status
			cur.UserID, cur.SessionID, cur.AuthTime = who.user.ID, who.session.ID, who.session.AuthTime
			return cur, nil
		})
	})
	switch {
	case errors.Is(err, errDeviceGone), errors.Is(err, store.ErrNotFound):
		d := s.deviceEntry(w, r, who, "")
		d.Error = msgDeviceCodeWrong
		s.renderPage(w, http.StatusBadRequest, "device", d)
		return
	case err != nil:
		s.log.Log(r.Context(), store.LogLevel(err), "device page: record decision", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, msgDeviceUnavailable)
		return
	}
	s.metrics.authorizations.WithLabelValues("device_" + status).Inc()
	s.log.Info("device code "+status, "client_id", c.id, "tenant", who.user.Tenant, "user_id", who.user.ID, "remote_addr", remoteAddr(r))
	d := &pageData{Title: "Device connected", Notice: c.name + " can now act for you. Return to your device; it continues on its own."}
	if status == store.DeviceDenied {
		d = &pageData{Title: "Request denied", Notice: c.name + " was not connected. You can close this page."}
	}
	if notice != "" {
		d.Notice = notice
	}
	s.renderPage(w, http.StatusOK, "message", d)
}
