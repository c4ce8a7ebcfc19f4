package authz

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// oidcClient is a relying party built from two independent libraries:
// go-oidc for discovery and ID token verification, x/oauth2 for the code
// exchange with PKCE and refresh.
type oidcClient struct {
	provider *oidc.Provider
	conf     *oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func (e *env) oidcClient(ctx context.Context, c testClient, redirect string, scopes ...string) oidcClient {
	e.t.Helper()
	p, err := oidc.NewProvider(ctx, e.ts.URL)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return oidcClient{
		provider: p,
		conf: &oauth2.Config{
			ClientID: c.ID, ClientSecret: c.Secret, RedirectURL: redirect,
			Endpoint: oauth2.Endpoint{AuthURL: p.Endpoint().AuthURL, TokenURL: p.Endpoint().TokenURL, AuthStyle: oauth2.AuthStyleInHeader}, Scopes: scopes,
		},
		verifier: p.Verifier(&oidc.Config{ClientID: c.ID, Now: e.clock.Now}),
	}
}

func TestOIDC_CodeFlowWithRealClients(t *testing.T) { codeFlowWithRealClients(t, newOIDCEnv(t)) }

// TestOIDC_CodeFlowOnPostgres runs the same flow on PostgreSQL, where the
// code's redemption, the refresh rotation and the sessions take row locks.
func TestOIDC_CodeFlowOnPostgres(t *testing.T) {
	e := newEnvOn(t, func(_ context.Context, clock *testClock, log *slog.Logger) store.Store {
		return pgtest.Open(t, postgres.Options{Now: clock.Now, Logger: log})
	}, func(c *Config) { c.Passwords = cheapPasswords(t) })
	e.tenant("acme", store.StatusActive)
	e.user("acme", "alice", alicePassword, nil)
	codeFlowWithRealClients(t, e)
}

func codeFlowWithRealClients(t *testing.T, e *env) {
	const redirect = "https://app.example/callback"
	c := e.webClient("acme", redirect)
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	rp := e.oidcClient(ctx, c, redirect, oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess, "core.invoice.read")

	state, nonce, verifier := randomState(), randomState(), oauth2.GenerateVerifier()
	b := newBrowser(t, e.ts.URL)
	login := b.get(rp.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)))
	consent := b.signIn(login, "", "alice", alicePassword)
	if !strings.Contains(consent.body, "core.invoice.read") {
		t.Fatalf("consent page does not list the scopes:\n%s", consent.body)
	}
	b.decide(consent, "approve")
	cb := b.callback()
	if cb.Get("state") != state {
		t.Fatalf("state = %q, want %q", cb.Get("state"), state)
	}
	if cb.Get("iss") != e.ts.URL {
		t.Fatalf("iss = %q, want the issuer (RFC 9207)", cb.Get("iss"))
	}

	tok, err := rp.conf.Exchange(ctx, cb.Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	rawID, _ := tok.Extra("id_token").(string)
	idt, err := rp.verifier.Verify(ctx, rawID)
	if err != nil {
		t.Fatalf("verify ID token: %v", err)
	}
	if idt.Nonce != nonce {
		t.Fatalf("nonce = %q, want %q", idt.Nonce, nonce)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Fatalf("at_hash: %v", err)
	}
	var claims struct {
		AuthTime int64  `json:"auth_time"`
		Tenant   string `json:"tenant"`
		Email    string `json:"email"`
	}
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.AuthTime == 0 || claims.Tenant != "acme" || claims.Email != "alice@acme.example" {
		t.Fatalf("ID token claims = %+v", claims)
	}
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token despite offline_access")
	}

	ui, err := rp.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Subject != idt.Subject || ui.Email != "alice@acme.example" {
		t.Fatalf("userinfo = %+v, want subject %s", ui, idt.Subject)
	}

	// Refresh through the library: an expired token makes it use the
	// refresh token, which rotates.
	old := *tok
	old.Expiry = time.Now().Add(-time.Minute)
	fresh, err := rp.conf.TokenSource(ctx, &old).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == tok.AccessToken || fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Fatalf("refresh did not rotate: %+v", fresh)
	}
	if _, err := rp.verifier.Verify(ctx, fresh.Extra("id_token").(string)); err != nil {
		t.Fatalf("verify refreshed ID token: %v", err)
	}
}

// TestOIDC_RefreshReuseRevokesFamily: once the grace has passed, the
// replaced refresh token used again revokes the family, so the current
// token and its access token stop working too (RFC 9700 §4.14.2).
func TestOIDC_RefreshReuseRevokesFamily(t *testing.T) {
	e := newOIDCEnv(t)
	const redirect = "https://app.example/callback"
	c := e.webClient("acme", redirect)
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	rp := e.oidcClient(ctx, c, redirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	tok := e.codeFlow(ctx, rp, "alice", alicePassword)

	refresh := func(rt string) (*oauth2.Token, error) {
		return rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Minute)}).Token()
	}
	second, err := refresh(tok.RefreshToken)
	if err != nil {
		t.Fatalf("first rotation: %v", err)
	}
	// Within the grace the replaced token answers with the same current one.
	twin, err := refresh(tok.RefreshToken)
	if err != nil || twin.RefreshToken != second.RefreshToken {
		t.Fatalf("concurrent use within grace: err %v, token equal %v", err, twin != nil && twin.RefreshToken == second.RefreshToken)
	}
	e.clock.Advance(e.srv.cfg.RefreshReuseGrace + time.Second)
	_, err = refresh(tok.RefreshToken)
	assertOAuthError(t, err, oauth.CodeInvalidGrant)
	// The family is gone: the current token fails, its access token is revoked.
	_, err = refresh(second.RefreshToken)
	assertOAuthError(t, err, oauth.CodeInvalidGrant)
	e.waitFor(func() bool { return e.srv.revoked.revoked(jtiOf(t, twin.AccessToken)) })
}

// TestOIDC_CodeReplayRevokesTokens: a code redeemed twice fails the second
// time and revokes what the first redemption issued (RFC 6749 §4.1.2).
func TestOIDC_CodeReplayRevokesTokens(t *testing.T) {
	e := newOIDCEnv(t)
	const redirect = "https://app.example/callback"
	c := e.webClient("acme", redirect)
	ctx := oidc.ClientContext(e.ctx, e.ts.Client())
	rp := e.oidcClient(ctx, c, redirect, oidc.ScopeOpenID, oidc.ScopeOfflineAccess)
	code, verifier := e.authorize(rp, "alice", alicePassword)
	tok, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("first exchange: %v", err)
	}
	_, err = rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	assertOAuthError(t, err, oauth.CodeInvalidGrant)
	e.waitFor(func() bool { return e.srv.revoked.revoked(jtiOf(t, tok.AccessToken)) })
	_, err = rp.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: tok.RefreshToken, Expiry: time.Now().Add(-time.Minute)}).Token()
	assertOAuthError(t, err, oauth.CodeInvalidGrant)
}

// authorize runs the browser part of the code flow and returns the code
// and its PKCE verifier.
func (e *env) authorize(rp oidcClient, login, pw string) (code, verifier string) {
	e.t.Helper()
	verifier = oauth2.GenerateVerifier()
	b := newBrowser(e.t, e.ts.URL)
	p := b.signIn(b.get(rp.conf.AuthCodeURL(randomState(), oidc.Nonce(randomState()), oauth2.S256ChallengeOption(verifier))), "", login, pw)
	b.decide(p, "approve")
	return b.callback().Get("code"), verifier
}

// codeFlow runs the whole code flow and returns the tokens.
func (e *env) codeFlow(ctx context.Context, rp oidcClient, login, pw string) *oauth2.Token {
	e.t.Helper()
	code, verifier := e.authorize(rp, login, pw)
	tok, err := rp.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		e.t.Fatalf("exchange: %v", err)
	}
	return tok
}

// assertOAuthError checks that err is an RFC 6749 §5.2 error with code.
func assertOAuthError(t testing.TB, err error, code string) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("error = %v, want OAuth error %s", err, code)
	}
	if re.ErrorCode != code {
		t.Fatalf("error code = %q (%s), want %q", re.ErrorCode, re.ErrorDescription, code)
	}
	if re.Response.StatusCode != http.StatusBadRequest && code == oauth.CodeInvalidGrant {
		t.Fatalf("status = %d, want 400", re.Response.StatusCode)
	}
}
