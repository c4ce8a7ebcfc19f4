package authz

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// userinfo is the UserInfo response (OIDC Core §5.3.2).
type userinfo struct {
	Subject           string   `json:"sub"`
	Tenant            string   `json:"tenant"`
	Name              string   `json:"name,omitempty"`
	PreferredUsername string   `json:"preferred_username,omitempty"`
	UpdatedAt         int64    `json:"updated_at,omitempty"`
	Email             string   `json:"email,omitempty"`
	EmailVerified     *bool    `json:"email_verified,omitempty"`
	Roles             []string `json:"roles,omitempty"`
}

// bearerError is an RFC 6750 §3 refusal of a protected resource request.
type bearerError struct {
	status int
	code   string // "" when the request had no token at all (§3.1)
	desc   string
}

func (s *Server) writeBearerError(w http.ResponseWriter, e bearerError) {
	ch := `Bearer realm="keyshift"`
	if e.code != "" {
		ch += fmt.Sprintf(`, error="%s", error_description="%s"`, e.code, sanitizeDescription(e.desc))
	}
	w.Header().Set("WWW-Authenticate", ch)
	if e.code == "" {
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(e.status)
		return
	}
	writeJSON(w, e.status, errorBody{Error: e.code, Description: sanitizeDescription(e.desc)})
}

// handleUserinfo is the UserInfo endpoint (OIDC Core §5.3), GET or POST,
// the token in the Authorization header or (POST) the form body.
func (s *Server) handleUserinfo(w http.ResponseWriter, r *http.Request) {
	tok, e := s.bearerToken(w, r)
	if e != nil {
		s.writeBearerError(w, *e)
		return
	}
	info, err := s.Authenticate(r.Context(), tok)
	if err != nil {
		s.writeBearerError(w, bearerError{http.StatusUnauthorized, oauth.CodeInvalidToken, "the access token is invalid or expired"})
		return
	}
	if !slices.Contains(info.Scopes, oauth.ScopeOpenID) {
		s.writeBearerError(w, bearerError{http.StatusForbidden, oauth.CodeInsufficientScope, "the access token lacks the openid scope"})
		return
	}
	u, err := s.st.GetUser(r.Context(), info.Subject)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (u.Disabled || u.Tenant != info.Tenant)) {
		s.writeBearerError(w, bearerError{http.StatusUnauthorized, oauth.CodeInvalidToken, "the access token is not for an active user"})
		return
	}
	if err != nil {
		writeError(w, s.log, err)
		return
	}
	var cl idClaims
	addUserClaims(&cl, u, info.Scopes)
	out := userinfo{
		Subject: u.ID, Tenant: u.Tenant, Name: cl.Name, PreferredUsername: cl.PreferredUsername,
		Email: cl.Email, EmailVerified: cl.EmailVerified, Roles: cl.Roles,
	}
	if slices.Contains(info.Scopes, oauth.ScopeProfile) {
		out.UpdatedAt = u.UpdatedAt.Unix()
	}
	writeJSON(w, http.StatusOK, out)
}

// bearerToken finds the access token of a resource request (RFC 6750 §2):
// the Authorization header or, on POST, the form body; never both, never
// the query string.
func (s *Server) bearerToken(w http.ResponseWriter, r *http.Request) (string, *bearerError) {
	var fromHeader string
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		scheme, rest, _ := strings.Cut(vals[0], " ")
		if len(vals) > 1 || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(rest) == "" {
			return "", &bearerError{http.StatusBadRequest, oauth.CodeInvalidRequest, "use one Authorization: Bearer header"}
		}
		fromHeader = strings.TrimSpace(rest)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
		if r.URL.Query().Has("access_token") {
			return "", &bearerError{http.StatusBadRequest, oauth.CodeInvalidRequest, "access tokens are not accepted in the query string"}
		}
		if fromHeader == "" {
			return "", &bearerError{status: http.StatusUnauthorized}
		}
		return fromHeader, nil
	case http.MethodPost:
		var fromBody string
		if r.ContentLength != 0 || r.Header.Get("Content-Type") != "" {
			f, e := readForm(w, r, s.cfg.MaxBodyBytes)
			if e != nil {
				return "", &bearerError{http.StatusBadRequest, oauth.CodeInvalidRequest, e.Description}
			}
			fromBody = f.get("access_token")
		}
		switch {
		case fromHeader != "" && fromBody != "":
			return "", &bearerError{http.StatusBadRequest, oauth.CodeInvalidRequest, "send the access token once"}
		case fromHeader != "":
			return fromHeader, nil
		case fromBody != "":
			return fromBody, nil
		}
		return "", &bearerError{status: http.StatusUnauthorized}
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		return "", &bearerError{http.StatusMethodNotAllowed, oauth.CodeInvalidRequest, "use GET or POST"}
	}
}
