package credcheck

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

// The console can ask the admin API: it says which cause it is.
func TestClientSecret_InvalidClient_SaysWhichCause(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	status := func(ctx context.Context, id string) (string, error) {
		cl, err := k.Store.GetClient(ctx, id)
		return cl.Status, err
	}
	tokenCheck := func(t *testing.T, id, secret string) Result {
		t.Helper()
		for _, c := range ClientSecret(context.Background(), k.URL, id, secret, nil, nil, status) {
			if c.Name == "token" {
				return c
			}
		}
		t.Fatal("no token check")
		return Result{}
	}

	active := k.NewClient(t, "")
	c := tokenCheck(t, active.ID, "kss_not_the_secret")
	if c.Status != "fail" || c.Code != "invalid_client" || !strings.Contains(c.Detail, "secret is at fault") || strings.Contains(c.Fix, "disabled") {
		t.Errorf("active client, wrong secret: %+v", c)
	}

	off := k.NewClient(t, "")
	disable(t, k, off)
	c = tokenCheck(t, off.ID, off.Secret)
	if c.Status != "fail" || !strings.Contains(c.Detail, "is disabled") || !strings.Contains(c.Fix, "enable the client") {
		t.Errorf("disabled client: %+v", c)
	}
}
