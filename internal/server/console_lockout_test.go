package server

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/authz/authztest"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// TestConsole_CredentialTestsWithWrongSecrets_DoNotLockOutSignIn: the
// console's "Test these credentials" runs in process; wrong secrets
// tested there again and again must not throttle sign-ins from loopback
// (where operators of a single-host installation sign in), nor the
// right secret.
func TestConsole_CredentialTestsWithWrongSecrets_DoNotLockOutSignIn(t *testing.T) {
	hs := startHostileServer(t, "")
	oauth := http.NewServeMux()
	hs.srv.Authz.Register(oauth)
	checks := credentialChecks{issuer: hs.base, oauth: oauth, store: hs.srv.Store}
	for range 12 {
		checks.TestCredentials(context.Background(), hs.demo.ClientID, credential.New(credential.PrefixClientSecret), "")
	}
	for _, r := range checks.TestCredentials(context.Background(), hs.demo.ClientID, hs.demo.ClientSecret, "") {
		if strings.Contains(strings.ToLower(r.Detail), "too many") {
			t.Fatalf("the right secret, tested in the console after wrong ones: %+v", r)
		}
	}
	b := authztest.NewBrowserFrom(t, hs.base, "127.0.0.1")
	p := b.Get(hs.base + "/console/")
	p = b.SignIn(p, store.PlatformTenant, "operator", "demo-operator-pass")
	if p.Status != http.StatusOK || !strings.HasPrefix(p.URL.Path, "/console/") {
		t.Fatalf("operator sign-in from loopback after console credential tests: %d at %s\n%.500s", p.Status, p.URL, p.Body)
	}
}
