package authz

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// handleLogout is RP-initiated logout (OpenID Connect RP-Initiated Logout
// 1.0): it ends the person's session at keyshift and returns to a
// registered post_logout_redirect_uri. A request whose id_token_hint proves
// it comes from the signed-in person's client signs out at once; anything
// else asks the person first, so a hostile page cannot sign people out.
func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	var f form
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		q, e := parseAuthorizeParams(r.URL.RawQuery)
		if e != nil {
			s.showError(w, http.StatusBadRequest, e.code, e.description)
			return
		}
		f = q
	case http.MethodPost:
		var ok bool
		if f, ok = s.readPageForm(w, r); !ok {
			return
		}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	hint, hintOK := s.parseIDTokenHint(f.get("id_token_hint"))
	if f.has("id_token_hint") && !hintOK {
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "id_token_hint is not an ID token issued here")
		return
	}
	clientID := f.get("client_id")
	if hintOK {
		if clientID != "" && clientID != hint.Audience {
			s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "client_id does not match the id_token_hint")
			return
		}
		clientID = hint.Audience
	}
	redirect := f.get("post_logout_redirect_uri")
	var clientName string
	if clientID != "" {
		c, tenantActive := s.clients.lookup(clientID)
		if c == nil || !tenantActive || c.Status != store.StatusActive {
			s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "the client is unknown")
			return
		}
		clientName = c.Name
		if redirect != "" && !slices.Contains(c.PostLogoutRedirectURIs, redirect) {
			s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "post_logout_redirect_uri is not registered for this client")
			return
		}
	} else if redirect != "" {
		s.showError(w, http.StatusBadRequest, oauth.CodeInvalidRequest, "post_logout_redirect_uri needs id_token_hint or client_id")
		return
	}
	who, err := s.currentSession(ctx, r)
	if err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "logout: load session", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, "Signing out is not possible right now; please try again shortly.")
		return
	}
	confirmed := f.get("decision") == "logout"
	if confirmed && !s.checkCSRF(r, f) {
		s.showError(w, http.StatusForbidden, oauth.CodeAccessDenied, "This form expired or did not come from this site. Please try again.")
		return
	}
	proven := hintOK && who != nil && hint.Subject == who.user.ID
	if who != nil && !confirmed && !proven {
		d := &pageData{Title: "Sign out?", UserName: displayName(who.user), ClientName: clientName, CSRF: s.csrfToken(w, r)}
		for _, k := range []string{"id_token_hint", "post_logout_redirect_uri", "state", "client_id"} {
			if v := f.get(k); v != "" {
				d.Hidden = append(d.Hidden, hiddenField{Name: k, Value: v})
			}
		}
		s.renderPage(w, http.StatusOK, "logout", d)
		return
	}
	if err := s.endSession(ctx, w, r); err != nil {
		s.log.Log(r.Context(), store.LogLevel(err), "logout: end session", "err", err)
		s.showError(w, http.StatusServiceUnavailable, oauth.CodeTemporarilyUnavailable, "Signing out is not possible right now; please try again shortly.")
		return
	}
	if who != nil {
		s.log.Info("user signed out", "tenant", who.user.Tenant, "user_id", who.user.ID, "client_id", clientID)
	}
	if redirect != "" {
		u, err := url.Parse(redirect)
		if err == nil {
			q := u.Query()
			if st := f.get("state"); st != "" && len(st) <= maxStateLen {
				q.Set("state", st)
			}
			u.RawQuery = q.Encode()
			redirectStatus(w, r, u.String())
			return
		}
	}
	s.renderPage(w, http.StatusOK, "message", &pageData{Title: "Signed out", Message: "You are signed out of keyshift."})
}

// idTokenHint is what logout reads of an id_token_hint.
type idTokenHint struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	Audience string `json:"aud"`
}

// parseIDTokenHint verifies an ID token this server issued, expired or not
// (OIDC RP-Initiated Logout §2: an expired hint is still a hint).
func (s *Server) parseIDTokenHint(tok string) (idTokenHint, bool) {
	if tok == "" || len(tok) > maxTokenLen {
		return idTokenHint{}, false
	}
	payload, _, err := s.signer.Verify(tok, "JWT")
	if err != nil {
		return idTokenHint{}, false
	}
	var h idTokenHint
	if json.Unmarshal(payload, &h) != nil || h.Issuer != s.cfg.Issuer || h.Subject == "" || h.Audience == "" {
		return idTokenHint{}, false
	}
	return h, true
}
