package authz

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// authCodeTTL is the lifetime of an authorization code: RFC 6749 §4.1.2
// recommends at most ten minutes; a client redeems it at once, so keyshift
// allows one.
const authCodeTTL = 60 // seconds

// handleAuthorize is the authorization endpoint (RFC 6749 §3.1, OIDC Core
// §3.1.2), GET or POST.
func (s *Server) handleAuthorize(w http.ResponseWriter, r *http.Request) {
	var raw string
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		raw = r.URL.RawQuery
	case http.MethodPost:
		f, ok := s.readPageForm(w, r)
		if !ok {
			return
		}
		raw = encodeForm(f)
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, e := parseAuthorizeParams(raw)
	if e != nil {
		s.authorizeFail(w, r, nil, e)
		return
	}
	req, c, e := parseAuthorizeRequest(f, s.authorizeClient)
	if e != nil {
		s.authorizeFail(w, r, req, e)
		return
	}
	s.continueAuthorize(w, r, req, c, false)
}

// continueAuthorize takes a valid request on from sign-in to consent to the
// code. approved says the person just approved the consent page.
func (s *Server) continueAuthorize(w http.ResponseWriter, r *http.Request, req *authRequest, c *clientView, approved bool) {
	ctx := r.Context()
	now := s.cfg.Now()
	who, err := s.currentSession(ctx, r)
	if err != nil {
		s.authorizeFail(w, r, req, redirectError(oauth.CodeTemporarilyUnavailable, "sign-in is unavailable; retry shortly"))
		s.log.Log(r.Context(), store.LogLevel(err), "authorize: load session", "err", err)
		return
	}
	if who != nil && !sessionFits(who, c) {
		who = nil
	}
	if who == nil || (req.prompt.login && !approved) || !authTimeOK(who.session.AuthTime, now, req.maxAge) {
		if req.prompt.none {
			s.authorizeFail(w, r, req, redirectError(oauth.CodeLoginRequired, "the user is not signed in"))
			return
		}
		tenant := c.tenant
		if tenant == store.PlatformTenant {
			tenant = "" // a platform client signs in people of any tenant
		}
		http.Redirect(w, r, loginURL(tenant, afterLoginURL(req), req.loginHint), http.StatusFound)
		return
	}
	scopes := entitledScopes(req.scopes, who.user)
	if len(scopes) == 0 {
		s.authorizeFail(w, r, req, redirectError(oauth.CodeAccessDenied, "the user holds none of the requested scopes"))
		return
	}
	if !approved {
		need, err := s.needsConsent(r, req, who, scopes)
		if err != nil {
			s.log.Log(r.Context(), store.LogLevel(err), "authorize: load consent", "err", err)
			s.authorizeFail(w, r, req, redirectError(oauth.CodeTemporarilyUnavailable, "consent is unavailable; retry shortly"))
			return
		}
		if need {
			if req.prompt.none {
				s.authorizeFail(w, r, req, redirectError(oauth.CodeConsentRequired, "the user has not consented to these scopes"))
				return
			}
			s.showConsent(w, r, req, c, who, scopes)
			return
		}
	}
	s.issueCode(w, r, req, c, who, scopes)
}

// sessionFits reports whether a session may serve a client: people sign in
// to their own tenant's clients, and to the platform's (the console).
func sessionFits(who *signedIn, c *clientView) bool {
	return who.user.Tenant == c.tenant || c.tenant == store.PlatformTenant
}

// entitledScopes drops the administration scopes the person does not hold:
// keyshift:tenant-admin needs the admin role, keyshift:admin an admin of
// the platform tenant. RFC 6749 §3.3 lets the server grant fewer scopes
// than asked; the token response says which.
func entitledScopes(scopes []string, u store.User) []string {
	admin := slices.Contains(u.Roles, store.RoleAdmin)
	out := make([]string, 0, len(scopes))
	for _, sc := range scopes {
		switch sc {
		case oauth.ScopeTenantAdmin:
			if !admin {
				continue
			}
		case oauth.ScopeAdmin:
			if !admin || u.Tenant != store.PlatformTenant {
				continue
			}
		}
		out = append(out, sc)
	}
	return out
}

// afterLoginURL is the request to come back to after signing in, without
// what sign-in satisfies (prompt=login, max_age), so it does not loop.
func afterLoginURL(req *authRequest) string {
	f := form{}
	for k, v := range req.params {
		f[k] = v
	}
	delete(f, "max_age")
	if p := f.get("prompt"); p != "" {
		var keep []string
		for v := range strings.SplitSeq(p, " ") {
			if v != "login" {
				keep = append(keep, v)
			}
		}
		if len(keep) == 0 {
			delete(f, "prompt")
		} else {
			f["prompt"] = strings.Join(keep, " ")
		}
	}
	return oauth.PathAuthorize + "?" + encodeForm(f)
}

// encodeForm encodes a form in key order.
func encodeForm(f form) string {
	v := url.Values{}
	for k, val := range f {
		v.Set(k, val)
	}
	return v.Encode()
}

// authorizeClient is the authorization endpoint's view of a client: nil
// unless the client and its tenant are active.
func (s *Server) authorizeClient(id string) *clientView {
	c, tenantActive := s.clients.lookup(id)
	if c == nil || !tenantActive || c.Status != store.StatusActive {
		return nil
	}
	return &clientView{id: c.ID, tenant: c.Tenant, name: c.Name, grantTypes: c.GrantTypes, scopes: allowedScopes(c), redirectURIs: c.RedirectURIs}
}

// authorizeFail answers a refused authorization request: on a page until
// the redirect URI is confirmed, at the redirect URI after.
func (s *Server) authorizeFail(w http.ResponseWriter, r *http.Request, req *authRequest, e *authError) {
	s.metrics.authorizations.WithLabelValues(e.code).Inc()
	if !e.redirect || req == nil {
		s.showError(w, http.StatusBadRequest, e.code, e.description)
		return
	}
	to, err := errorRedirect(req.redirectURI, req.state, s.cfg.Issuer, e)
	if err != nil {
		s.showError(w, http.StatusBadRequest, e.code, e.description)
		return
	}
	s.log.Info("authorization refused", "client_id", req.clientID, "error", e.code, "remote_addr", remoteAddr(r))
	redirectStatus(w, r, to)
}

// redirectStatus redirects the browser back to the client: 303 after a
// POST so the browser does not repost the form to the client (RFC 9700
// §4.12), 302 otherwise.
func redirectStatus(w http.ResponseWriter, r *http.Request, to string) {
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther
	}
	pageSecurityHeaders(w.Header())
	http.Redirect(w, r, to, status)
}

// needsConsent reports whether the person must see the consent page: on
// prompt=consent, or when a requested scope is not in their remembered
// consent to this client.
func (s *Server) needsConsent(r *http.Request, req *authRequest, who *signedIn, scopes []string) (bool, error) {
	if req.prompt.consent {
		return true, nil
	}
	if slices.Contains(s.cfg.FirstPartyClients, req.clientID) {
		return false, nil
	}
	con, err := s.st.GetConsent(r.Context(), who.user.Tenant, who.user.ID, req.clientID)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, err
	}
	return len(outside(scopes, con.Scopes)) > 0, nil
}

func (s *Server) showConsent(w http.ResponseWriter, r *http.Request, req *authRequest, c *clientView, who *signedIn, scopes []string) {
	d := &pageData{
		Title: "Allow access?", ClientName: c.name, UserName: displayName(who.user),
		Tenant: who.user.Tenant, Action: oauth.PathConsent, CSRF: s.csrfToken(w, r),
	}
	for _, sc := range scopes {
		d.Scopes = append(d.Scopes, scopeView{Name: sc, Description: s.scopeDescription(sc)})
	}
	keys := make([]string, 0, len(req.params))
	for k := range req.params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		d.Hidden = append(d.Hidden, hiddenField{Name: k, Value: req.params[k]})
	}
	s.renderPage(w, http.StatusOK, "consent", d)
}

func displayName(u store.User) string {
	if u.Name != "" {
		return u.Name
	}
	return u.Login
}

// handleConsent takes the consent page's answer.
func (s *Server) handleConsent(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	f, ok := s.readPageForm(w, r)
	if !ok {
		return
	}
	if !s.checkCSRF(r, f) {
		s.metrics.authorizations.WithLabelValues("csrf").Inc()
		s.showError(w, http.StatusForbidden, oauth.CodeAccessDenied, "This form expired or did not come from this site. Go back to the application and start again.")
		return
	}
	decision := f.get("decision")
	delete(f, "csrf_token")
	delete(f, "decision")
	req, c, e := parseAuthorizeRequest(f, s.authorizeClient)
	if e != nil {
		s.authorizeFail(w, r, req, e)
		return
	}
	switch decision {
	case "approve":
		who, err := s.currentSession(r.Context(), r)
		if err != nil || who == nil || !sessionFits(who, c) {
			// Signed out in between: start over, through sign-in.
			s.continueAuthorize(w, r, req, c, false)
			return
		}
		scopes := entitledScopes(req.scopes, who.user)
		if err := s.rememberConsent(r, who, req.clientID, scopes); err != nil {
			s.log.Log(r.Context(), store.LogLevel(err), "store consent", "err", err)
			s.authorizeFail(w, r, req, redirectError(oauth.CodeTemporarilyUnavailable, "consent could not be saved; retry shortly"))
			return
		}
		s.continueAuthorize(w, r, req, c, true)
	case "deny":
		s.authorizeFail(w, r, req, redirectError(oauth.CodeAccessDenied, "the user denied the request"))
	default:
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "the consent form was incomplete")
	}
}

// rememberConsent adds scopes to the person's consent to the client.
func (s *Server) rememberConsent(r *http.Request, who *signedIn, clientID string, scopes []string) error {
	ctx := r.Context()
	now := s.cfg.Now()
	return s.st.Tx(ctx, func(tx store.Tx) error {
		con, err := tx.GetConsent(ctx, who.user.Tenant, who.user.ID, clientID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			con = store.Consent{Tenant: who.user.Tenant, UserID: who.user.ID, ClientID: clientID, CreatedAt: now}
		case err != nil:
			return err
		}
		for _, sc := range scopes {
			if !slices.Contains(con.Scopes, sc) {
				con.Scopes = append(con.Scopes, sc)
			}
		}
		con.UpdatedAt = now
		return tx.PutConsent(ctx, con)
	})
}

// issueCode stores a one-time code for the approved request and sends the
// browser back to the client with it (RFC 6749 §4.1.2, RFC 9207 iss).
func (s *Server) issueCode(w http.ResponseWriter, r *http.Request, req *authRequest, c *clientView, who *signedIn, scopes []string) {
	ctx := r.Context()
	now := s.cfg.Now()
	code := "ksa_" + rand.Text() + rand.Text()
	h := credential.Hash(code)
	ac := store.AuthCode{
		Hash: h[:], Tenant: who.user.Tenant, ClientID: c.id, UserID: who.user.ID, SessionID: who.session.ID,
		RedirectURI: req.redirectURI, Scopes: scopes, Nonce: req.nonce, CodeChallenge: req.codeChallenge,
		AuthTime: who.session.AuthTime, CreatedAt: now, ExpiresAt: now.Add(authCodeTTL * 1e9),
	}
	if err := s.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateAuthCode(ctx, ac) }); err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "store authorization code", "err", err)
		s.authorizeFail(w, r, req, redirectError(oauth.CodeTemporarilyUnavailable, "the code could not be issued; retry shortly"))
		return
	}
	to, err := addQuery(req.redirectURI, url.Values{"code": {code}}, req.state, s.cfg.Issuer)
	if err != nil {
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, fmt.Sprintf("redirect URI unusable: %v", err))
		return
	}
	s.metrics.authorizations.WithLabelValues("code").Inc()
	s.log.Info("authorization code issued", "client_id", c.id, "tenant", who.user.Tenant, "user_id", who.user.ID, "scope", joinScopes(scopes))
	redirectStatus(w, r, to)
}
