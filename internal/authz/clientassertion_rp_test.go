package authz

import (
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net/url"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client"
	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"golang.org/x/oauth2"

	"github.com/keyshift/keyshift/internal/store"
)

// TestPrivateKeyJWT_ZitadelRP_OneHourAssertion_AcceptedOnce: the assertions
// of github.com/zitadel/oidc/v3 (iat now, exp in one hour, aud the issuer)
// authenticate a client_credentials request and a revocation, and one used
// 50 minutes earlier is still refused: the jti is kept for the assertion's
// whole lifetime, through the store's garbage collection.
func TestPrivateKeyJWT_ZitadelRP_OneHourAssertion_AcceptedOnce(t *testing.T) {
	e := newEnv(t)
	e.tenant("acme", store.StatusActive)
	k := genKeys(t)["rs256"]
	id := e.jwtClient(func(c *store.Client) { c.JWKS = jwksOf(t, k) })
	key := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k.priv.(*rsa.PrivateKey))})

	ctx := context.Background()
	party, err := rp.NewRelyingPartyOIDC(ctx, e.ts.URL, id, "", "", []string{"core.invoice.read"},
		rp.WithJWTProfile(rp.SignerFromKeyAndKeyID(key, k.kid)), rp.WithHTTPClient(e.ts.Client()),
		rp.WithAuthStyle(oauth2.AuthStyleInParams))
	if err != nil {
		t.Fatalf("zitadel discovery: %v", err)
	}
	// The library's own assertion, made as its relying party makes it for
	// the code exchange and revocation.
	assertion, err := client.SignedJWTProfileAssertion(id, []string{e.ts.URL}, time.Hour, party.Signer())
	if err != nil {
		t.Fatal(err)
	}
	params := url.Values{"client_assertion": {assertion}, "client_assertion_type": {oidc.ClientAssertionTypeJWTAssertion}}
	tok, err := rp.ClientCredentials(ctx, party, params)
	if err != nil {
		t.Fatalf("client_credentials with a zitadel assertion: %v", err)
	}
	if sub := jwtClaims(t, tok.AccessToken)["sub"]; sub != id {
		t.Fatalf("token sub = %v, want %s", sub, id)
	}

	e.clock.Advance(50 * time.Minute)
	if err := e.st.Tx(ctx, func(tx store.Tx) error {
		_, err := tx.DeleteExpiredGrants(ctx, e.clock.Now())
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := rp.ClientCredentials(ctx, party, params); err == nil {
		t.Fatal("the same assertion was accepted again 50 minutes later")
	}
	// Refused for its jti alone: a new assertion of the same client passes.
	fresh, err := client.SignedJWTProfileAssertion(id, []string{e.ts.URL}, time.Hour, party.Signer())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rp.ClientCredentials(ctx, party, url.Values{"client_assertion": {fresh}, "client_assertion_type": {oidc.ClientAssertionTypeJWTAssertion}}); err != nil {
		t.Fatalf("a fresh assertion after the replay: %v", err)
	}

	// Revocation authenticates with a fresh one-hour assertion of the RP.
	if err := rp.RevokeToken(ctx, party, tok.AccessToken, "access_token"); err != nil {
		t.Fatalf("revoke with a zitadel assertion: %v", err)
	}
	if _, err := e.srv.Authenticate(ctx, tok.AccessToken); err == nil {
		t.Error("the token is still valid after the RP revoked it")
	}
}
