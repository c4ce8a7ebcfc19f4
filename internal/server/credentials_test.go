package server

import (
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/console"
	"github.com/keyshift/keyshift/internal/store"
)

// TestCredentialChecks_InvalidClient_SaysWhetherDisabledOrSecret: the
// console's "test these credentials" looks the client up when the token
// endpoint answers invalid_client, and says which cause it is. The checks
// reach a real server (over loopback) through the handler they are given.
func TestCredentialChecks_InvalidClient_SaysWhetherDisabledOrSecret(t *testing.T) {
	ctx := t.Context()
	ts := startServer(t, testServerOptions{})
	base, op, st := ts.base, ts.op, ts.st
	u, _ := url.Parse(base)
	checks := credentialChecks{issuer: base, oauth: httputil.NewSingleHostReverseProxy(u), store: st}
	token := func(secret string) console.CheckResult {
		t.Helper()
		for _, c := range checks.TestCredentials(ctx, op.ClientID, secret, "") {
			if c.Name == "token" {
				return c
			}
		}
		t.Fatal("no token check")
		return console.CheckResult{}
	}

	if c := token(op.ClientSecret); c.Status != "ok" {
		t.Fatalf("good credentials: %+v", c)
	}
	if c := token("kss_not_the_secret"); c.Status != "fail" || !strings.Contains(c.Detail, "secret is at fault") {
		t.Errorf("wrong secret of an active client: %+v", c)
	}
	if err := st.Tx(ctx, func(tx store.Tx) error {
		return tx.UpdateClient(ctx, op.ClientID, func(c store.Client) (store.Client, error) {
			c.Status = store.StatusDisabled
			return c, nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	var c console.CheckResult
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if c = token(op.ClientSecret); c.Status == "fail" {
			break
		}
	}
	if c.Status != "fail" || !strings.Contains(c.Detail, "is disabled") || !strings.Contains(c.Fix, "enable the client") {
		t.Errorf("disabled client: %+v", c)
	}
}
