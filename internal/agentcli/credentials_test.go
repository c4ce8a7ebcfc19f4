package agentcli

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/agent/agenttest"
	"github.com/keyshift/keyshift/internal/demo"
	"github.com/keyshift/keyshift/internal/store"
)

// disable disables client id and waits until the token endpoint refuses it.
func disable(t *testing.T, k *agenttest.Keyshift, c agenttest.Client) {
	t.Helper()
	st := store.StatusDisabled
	if _, err := k.API.UpdateClient(context.Background(), admin.SystemPrincipal(), demo.Tenant, c.ID, admin.UpdateClientRequest{Status: &st}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		resp, err := http.PostForm(k.TokenURL, url.Values{"grant_type": {"client_credentials"}, "client_id": {c.ID}, "client_secret": {c.Secret}})
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusBadRequest {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the token endpoint still accepts the disabled client")
		}
	}
}

// Without the admin API the CLI cannot tell why invalid_client came back:
// it must name the disabled client as well as the secret.
func TestCredentialsTest_DisabledClient_FixNamesBothCauses(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "")
	disable(t, k, c)
	out, _, err := run(t, context.Background(), "credentials", "test", "--config", cfg)
	if err == nil {
		t.Fatalf("exit 0 for a disabled client:\n%s", out)
	}
	for _, want := range []string{"[FAIL] token", "disabled", "rotated"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
