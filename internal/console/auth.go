package console

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/clientip"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/webcookie"
)

// Cookie names; with an https issuer they take the __Host- prefix, which
// pins them to this host and path "/".
const (
	sessionCookie = "keyshift_console"
	flowCookie    = "keyshift_console_flow"
	flowTTL       = 10 * time.Minute
)

func (c *Console) jar() webcookie.Jar { return webcookie.Jar{Secure: c.secure} }

func (c *Console) setCookie(w http.ResponseWriter, base, value string, maxAge int) {
	c.jar().Set(w, base, value, maxAge)
}

func (c *Console) cookie(r *http.Request, base string) string { return c.jar().Get(r, base, 4096) }

// visit loads the request's console session and its user through the admin
// service, which checks both live; nil when the person must sign in.
func (c *Console) visit(r *http.Request) (*visit, error) {
	v := c.cookie(r, sessionCookie)
	if v == "" {
		return nil, nil
	}
	cv, err := c.api.ConsoleSession(r.Context(), v, clientip.From(r))
	if err != nil || cv == nil {
		return nil, err
	}
	return &visit{user: cv.User, principal: cv.Principal, session: cv.Session, csrf: c.csrfFor(cv.Session.ID)}, nil
}

func (c *Console) csrfFor(sessionID string) string {
	m := hmac.New(sha256.New, c.secrets.csrf)
	m.Write([]byte(sessionID))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// signInFlow is the state of one sign-in between the redirect to the
// authorization endpoint and the callback, kept encrypted in a cookie.
type signInFlow struct {
	State    string `json:"s"`
	Nonce    string `json:"n"`
	Verifier string `json:"v"`
	Return   string `json:"r"`
	Expires  int64  `json:"e"`
}

func (c *Console) oauthConfig() *oauth2.Config {
	return &oauth2.Config{
		ClientID:    admin.ConsoleClientID,
		RedirectURL: c.cfg.Issuer + admin.ConsoleRedirectPath,
		Endpoint: oauth2.Endpoint{
			AuthURL:   c.cfg.Issuer + oauth.PathAuthorize,
			TokenURL:  c.cfg.Issuer + oauth.PathToken,
			AuthStyle: oauth2.AuthStyleInParams,
		},
		Scopes: []string{oauth.ScopeOpenID, oauth.ScopeProfile, oauth.ScopeTenantAdmin, oauth.ScopeAdmin},
	}
}

// startSignIn sends the browser to keyshift's authorization endpoint with
// a fresh state, nonce and PKCE verifier, and comes back to the page it
// was on.
func (c *Console) startSignIn(w http.ResponseWriter, r *http.Request) {
	ret := r.URL.Path
	if r.Method != http.MethodGet || !strings.HasPrefix(ret, "/console/") || ret == "/console/callback" {
		ret = "/console/"
	}
	f := signInFlow{State: rand.Text(), Nonce: rand.Text(), Verifier: oauth2.GenerateVerifier(), Return: ret, Expires: c.now().Add(flowTTL).Unix()}
	sealed, err := c.seal(flowCookie, f)
	if err != nil {
		c.fail(w, r, nil, err)
		return
	}
	c.setCookie(w, flowCookie, sealed, int(flowTTL/time.Second))
	to := c.oauthConfig().AuthCodeURL(f.State, oauth2.S256ChallengeOption(f.Verifier), oauth2.SetAuthURLParam("nonce", f.Nonce))
	// Relative to this server, so the console works whatever host name
	// the browser used to reach the issuer's listener.
	if u, err := url.Parse(to); err == nil {
		to = u.RequestURI()
	}
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// callback finishes a sign-in: it checks state and issuer (RFC 9207),
// redeems the code in process with the PKCE verifier, verifies the ID
// token and its nonce, and starts a console session.
func (c *Console) callback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f, ok := c.openFlow(r)
	c.setCookie(w, flowCookie, "", -1)
	switch {
	case !ok:
		c.renderError(w, r, nil, http.StatusBadRequest, "This sign-in link expired or was opened in another browser. Open the console again to sign in.")
		return
	case !hmac.Equal([]byte(q.Get("state")), []byte(f.State)):
		c.renderError(w, r, nil, http.StatusBadRequest, "The sign-in answer does not belong to this browser. Open the console again to sign in.")
		return
	case q.Get("iss") != c.cfg.Issuer:
		c.renderError(w, r, nil, http.StatusBadRequest, "The sign-in answer came from an unexpected issuer.")
		return
	case q.Get("error") != "":
		c.renderError(w, r, nil, http.StatusForbidden, "Sign-in was not completed: "+q.Get("error_description"))
		return
	}
	ctx := context.WithValue(r.Context(), oauth2.HTTPClient, &http.Client{Transport: inProcess{c.cfg.OAuth}, Timeout: 10 * time.Second})
	tok, err := c.oauthConfig().Exchange(ctx, q.Get("code"), oauth2.VerifierOption(f.Verifier))
	if err != nil {
		c.log.Warn("console: code exchange failed", "err", err)
		c.renderError(w, r, nil, http.StatusBadRequest, "Sign-in could not be completed. Open the console again to sign in.")
		return
	}
	raw, _ := tok.Extra("id_token").(string)
	userID, err := c.checkIDToken(raw, f.Nonce)
	if err != nil {
		c.log.Warn("console: ID token refused", "err", err)
		c.renderError(w, r, nil, http.StatusBadRequest, "Sign-in could not be completed. Open the console again to sign in.")
		return
	}
	if err := c.startSession(r.Context(), w, userID); err != nil {
		c.fail(w, r, nil, err)
		return
	}
	http.Redirect(w, r, f.Return, http.StatusSeeOther)
}

// checkIDToken verifies an ID token for the console and returns its
// subject (OIDC Core §3.1.3.7).
func (c *Console) checkIDToken(raw, nonce string) (string, error) {
	payload, _, err := c.cfg.Tokens.Verify(raw, "JWT")
	if err != nil {
		return "", fmt.Errorf("verify: %w", err)
	}
	var cl struct {
		Iss   string `json:"iss"`
		Sub   string `json:"sub"`
		Aud   string `json:"aud"`
		Exp   int64  `json:"exp"`
		Nonce string `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &cl); err != nil {
		return "", fmt.Errorf("claims: %w", err)
	}
	switch {
	case cl.Iss != c.cfg.Issuer:
		return "", errors.New("wrong issuer")
	case cl.Aud != admin.ConsoleClientID:
		return "", errors.New("wrong audience")
	case c.now().Unix() > cl.Exp:
		return "", errors.New("expired")
	case !hmac.Equal([]byte(cl.Nonce), []byte(nonce)):
		return "", errors.New("nonce mismatch")
	case cl.Sub == "":
		return "", errors.New("no subject")
	}
	return cl.Sub, nil
}

func (c *Console) startSession(ctx context.Context, w http.ResponseWriter, userID string) error {
	value, u, err := c.api.StartConsoleSession(ctx, userID, c.cfg.SessionTTL)
	if err != nil {
		return err
	}
	c.setCookie(w, sessionCookie, value, 0)
	c.log.Info("console sign-in", "tenant", u.Tenant, "user_id", u.ID)
	return nil
}

// logout ends the console session, then keyshift's own sign-in.
func (c *Console) logout(w http.ResponseWriter, r *http.Request, v *visit) error {
	if err := c.api.EndConsoleSession(r.Context(), v.session.Hash); err != nil {
		return err
	}
	c.setCookie(w, sessionCookie, "", -1)
	q := url.Values{"client_id": {admin.ConsoleClientID}, "post_logout_redirect_uri": {c.cfg.Issuer + "/console/"}}
	http.Redirect(w, r, oauth.PathLogout+"?"+q.Encode(), http.StatusSeeOther)
	return nil
}

// inProcess is an http.RoundTripper that serves requests with a handler
// of this process: the console talks OAuth to keyshift exactly as any
// client does, minus the network.
type inProcess struct{ h http.Handler }

// InProcess returns a RoundTripper that serves every request with h.
func InProcess(h http.Handler) http.RoundTripper { return inProcess{h} }

func (t inProcess) RoundTrip(req *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	// In process is no address: the request shares no failure bucket
	// with remote callers (see clientip).
	req = req.Clone(clientip.WithInProcess(req.Context()))
	req.RemoteAddr = "127.0.0.1:0"
	req.RequestURI = req.URL.RequestURI()
	t.h.ServeHTTP(rec, req)
	return rec.Result(), nil
}

func (c *Console) gcm() (cipher.AEAD, error) {
	b, err := aes.NewCipher(c.secrets.flow)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(b)
}

// seal encrypts and authenticates v as a cookie value for cookie name, so
// that a value sealed for one cookie cannot be replayed as another.
func (c *Console) seal(name string, v any) (string, error) {
	plain, err := json.Marshal(v)
	if err != nil {
		return "", err
	}
	g, err := c.gcm()
	if err != nil {
		return "", err
	}
	nonce := make([]byte, g.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(g.Seal(nonce, nonce, plain, []byte(name))), nil
}

// unseal reads the sealed cookie name of r into v; false when it is
// missing, forged or sealed for another cookie.
func (c *Console) unseal(r *http.Request, name string, v any) bool {
	raw, err := base64.RawURLEncoding.DecodeString(c.cookie(r, name))
	if err != nil {
		return false
	}
	g, err := c.gcm()
	if err != nil || len(raw) < g.NonceSize() {
		return false
	}
	plain, err := g.Open(nil, raw[:g.NonceSize()], raw[g.NonceSize():], []byte(name))
	if err != nil {
		return false
	}
	return json.Unmarshal(plain, v) == nil
}

func (c *Console) openFlow(r *http.Request) (signInFlow, bool) {
	var f signInFlow
	if !c.unseal(r, flowCookie, &f) || c.now().Unix() > f.Expires || !strings.HasPrefix(f.Return, "/console/") {
		return signInFlow{}, false
	}
	return f, true
}
