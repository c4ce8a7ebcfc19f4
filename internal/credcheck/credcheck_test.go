package credcheck

import (
	"context"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

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
	k.DisableClient(t, off)
	c = tokenCheck(t, off.ID, off.Secret)
	if c.Status != "fail" || !strings.Contains(c.Detail, "is disabled") || !strings.Contains(c.Fix, "enable the client") {
		t.Errorf("disabled client: %+v", c)
	}
}
