package authz

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/redact"
	"github.com/keyshift/keyshift/internal/store"
)

// Bounds of the login form's fields.
const (
	maxLoginLen    = 256
	maxPasswordLen = 1024
)

// loginURL is where an authorization (or device, or console) request sends
// a person who must sign in; after sign-in the browser returns to ret.
func loginURL(tenant, ret, hint string) string {
	v := url.Values{}
	if tenant != "" {
		v.Set("tenant", tenant)
	}
	v.Set("return", ret)
	if hint != "" {
		v.Set("login_hint", hint)
	}
	return oauth.PathLogin + "?" + v.Encode()
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		s.showLogin(w, r)
	case http.MethodPost:
		s.postLogin(w, r)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Server) showLogin(w http.ResponseWriter, r *http.Request) {
	q, e := parseAuthorizeParams(r.URL.RawQuery)
	if e != nil {
		s.showError(w, http.StatusBadRequest, e.code, e.description)
		return
	}
	ret := q.get("return")
	if !safeReturn(ret) {
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "the sign-in link is incomplete; start again from the application")
		return
	}
	hint := q.get("login_hint")
	if len(hint) > maxLoginLen {
		hint = ""
	}
	d := s.loginPage(q.get("tenant"), hint, ret)
	d.CSRF = s.csrfToken(w, r)
	s.renderPage(w, http.StatusOK, "login", d)
}

// loginPage fills the login form: the organisation is asked for only when
// the request does not name one (the console, a platform client).
func (s *Server) loginPage(tenant, login, ret string) *pageData {
	d := &pageData{Title: "Sign in", Tenant: tenant, AskTenant: tenant == "", Login: login, Return: ret}
	if p, _, ok := strings.Cut(ret, "?"); ok && p == oauth.PathAuthorize {
		if f, e := parseAuthorizeParams(ret[len(p)+1:]); e == nil {
			if c, _ := s.clients.lookup(f.get("client_id")); c != nil {
				d.ClientName = c.Name
			}
		}
	}
	return d
}

func (s *Server) postLogin(w http.ResponseWriter, r *http.Request) {
	f, ok := s.readPageForm(w, r)
	if !ok {
		return
	}
	tenant, login, pw, ret := strings.TrimSpace(f.get("tenant")), strings.TrimSpace(f.get("login")), f.get("password"), f.get("return")
	if !safeReturn(ret) {
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "the sign-in link is incomplete; start again from the application")
		return
	}
	d := s.loginPage(tenant, login, ret)
	d.AskTenant = d.AskTenant || f.get("ask_tenant") != ""
	if !s.checkCSRF(r, f) {
		d.CSRF = s.csrfToken(w, r)
		d.Error = "This form expired or did not come from this site. Please sign in again."
		s.renderPage(w, http.StatusForbidden, "login", d)
		return
	}
	d.CSRF = s.csrfToken(w, r)
	if tenant == "" || login == "" || pw == "" || len(login) > maxLoginLen || len(pw) > maxPasswordLen || len(tenant) > maxLoginLen {
		d.AskTenant = d.AskTenant || tenant == ""
		d.Error = "Enter your organisation, login and password."
		s.renderPage(w, http.StatusBadRequest, "login", d)
		return
	}
	u, err := s.checkPassword(r, tenant, login, pw)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			d.Error = e.Description
			status := http.StatusBadRequest
			if e.Status == http.StatusTooManyRequests {
				status = http.StatusTooManyRequests
				setRetryAfter(w, e.RetryAfter)
			}
			s.renderPage(w, status, "login", d)
			return
		}
		s.log.Log(r.Context(), store.LogLevel(err), "sign-in failed", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, "Signing in is not possible right now; please try again shortly.")
		return
	}
	if err := s.startSession(r.Context(), w, r, u); err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "start session", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, "Signing in is not possible right now; please try again shortly.")
		return
	}
	s.metrics.logins.WithLabelValues("success").Inc()
	s.log.Info("user signed in", "tenant", u.Tenant, "user_id", u.ID, "remote_addr", remoteAddr(r))
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, ret, http.StatusSeeOther)
}

// errBadLogin is the one answer to every failed sign-in, so the page does
// not tell which logins exist.
var errBadLogin = &Error{Code: oauth.CodeAccessDenied, Description: "Wrong organisation, login or password.", Status: http.StatusBadRequest}

// checkPassword checks a sign-in against the throttles (per address and per
// account, shared between instances like client failures) and the user's
// argon2id hash. Unknown, disabled and wrong cost the same hashing time.
//
// Unlike client secrets, passwords can be guessed, so a throttled address
// or account is refused before the password is checked: answering a
// correct password there would tell the guesser it is correct. The
// address is clientip's (the client behind a trusted proxy); in-process
// callers have none. What people typed is logged only when it names a
// real tenant or user: a password typed into the login field must not
// reach the log.
func (s *Server) checkPassword(r *http.Request, tenant, login, pw string) (store.User, error) {
	now := s.cfg.Now()
	addr := clientip.LimitKey(r)
	account := accountKey(tenant, login)
	wait, limited := s.addrLimiter.blocked(addr, now)
	if w2, l := s.accountLimiter.blocked(account, now); l {
		wait, limited = max(wait, w2), true
	}
	if limited {
		s.metrics.logins.WithLabelValues("throttled").Inc()
		s.log.Warn("sign-in throttled", "tenant", s.logTenant(tenant), "login", redact.Value(login), "remote_addr", remoteAddr(r))
		return store.User{}, &Error{Code: oauth.CodeAccessDenied, Description: "Too many failed attempts. Wait a minute and try again.", Status: http.StatusTooManyRequests, RetryAfter: wait}
	}
	u, err := s.st.GetUserByLogin(r.Context(), tenant, login)
	who := []any{"tenant", s.logTenant(tenant), "login", redact.Value(login)}
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.passwords.Dummy(pw)
	case err != nil:
		return store.User{}, fmt.Errorf("find user: %w", err)
	default:
		ok, rehash, verr := s.passwords.Verify(u.PasswordHash, pw)
		if verr != nil {
			s.log.Error("stored password hash unusable", "tenant", u.Tenant, "user_id", u.ID, "err", verr)
		}
		if ok && s.userActive(u) {
			if rehash {
				s.rehash(r.Context(), u.ID, pw)
			}
			return u, nil
		}
		who = []any{"tenant", u.Tenant, "user_id", u.ID, "login", u.Login}
	}
	s.addrLimiter.fail(addr, now)
	s.accountLimiter.fail(account, now)
	s.metrics.logins.WithLabelValues("failure").Inc()
	s.log.Info("sign-in failed", append(who, "remote_addr", remoteAddr(r))...)
	return store.User{}, errBadLogin
}

// accountKey is the throttle key of a sign-in account: a hash, since what
// was typed may be a password and the key is shared through the store.
func accountKey(tenant, login string) string {
	h := sha256.Sum256([]byte(tenant + "/" + strings.ToLower(login)))
	return hex.EncodeToString(h[:16])
}

// logTenant is a typed tenant for the log: as typed when such a tenant
// exists, else described only.
func (s *Server) logTenant(tenant string) string {
	if s.clients.tenantActive(tenant) {
		return tenant
	}
	return redact.Value(tenant)
}

// rehash upgrades a password hash made with older parameters; failing to
// is harmless, so it is only logged.
func (s *Server) rehash(ctx context.Context, userID, pw string) {
	h, err := s.passwords.Hash(pw)
	if err == nil {
		err = s.st.Tx(ctx, func(tx store.Tx) error {
			return tx.UpdateUser(ctx, userID, func(u store.User) (store.User, error) {
				u.PasswordHash = h
				return u, nil
			})
		})
	}
	if err != nil {
		s.log.Warn("password rehash failed", "user_id", userID, "err", err)
	}
}

func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	if d > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(d.Seconds()))))
	}
}
