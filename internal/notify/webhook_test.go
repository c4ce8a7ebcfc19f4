package notify

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/signing"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/weburl"
)

func TestSetWebhook_SecretShownOnce_SealedAtRest(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	url := "https://hooks.example.com/services/T000/B000/tok_secretpath"
	secret := e.setWebhook(t, "acme", url)
	if !credential.Valid(SecretPrefix, secret) {
		t.Fatalf("secret %q is not a %s credential", secret, SecretPrefix)
	}
	raw, err := e.st.GetSetting(context.Background(), "webhook:acme")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(secret)) || bytes.Contains(raw, []byte("tok_secretpath")) {
		t.Errorf("stored setting %s shows the secret or the URL", raw)
	}
	got, err := GetWebhook(context.Background(), e.st, e.sealer, "acme")
	if err != nil {
		t.Fatal(err)
	}
	want := Webhook{Tenant: "acme", URL: url, SecretHint: credential.Hint(secret), CreatedAt: testStart}
	if got != want {
		t.Errorf("GetWebhook = %+v, want %+v", got, want)
	}
}

func TestGetWebhook_Operator_EmptyAndPlatformAreTheSame(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setWebhook(t, "", "https://ops.example.com/hook")
	for _, tenant := range []string{"", store.PlatformTenant} {
		got, err := GetWebhook(context.Background(), e.st, e.sealer, tenant)
		if err != nil || got.URL != "https://ops.example.com/hook" || got.Tenant != store.PlatformTenant {
			t.Errorf("GetWebhook(%q) = %+v, %v", tenant, got, err)
		}
	}
}

func TestGetWebhook_None_ErrNoWebhook(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if _, err := GetWebhook(context.Background(), e.st, e.sealer, "acme"); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("GetWebhook without webhook: %v, want ErrNoWebhook", err)
	}
	e.setWebhook(t, "acme", "https://a.example.com/")
	e.tx(t, func(tx store.Tx) error { return DeleteWebhook(context.Background(), tx, "acme") })
	if _, err := GetWebhook(context.Background(), e.st, e.sealer, "acme"); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("GetWebhook after delete: %v, want ErrNoWebhook", err)
	}
	e.tx(t, func(tx store.Tx) error { return DeleteWebhook(context.Background(), tx, "globex") })
}

func TestSetWebhook_Refused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, tenant, url string
		want              string
	}{
		{"plain http", "acme", "http://hooks.example.com/", "must use https"},
		{"relative", "acme", "/hooks", "absolute"},
		{"no host", "acme", "https:///path", "absolute"},
		{"credentials in URL", "acme", "https://user:pw@hooks.example.com/", "credentials"},
		{"fragment", "acme", "https://hooks.example.com/#x", "fragment"},
		{"other scheme", "acme", "ftp://hooks.example.com/", "must use https"},
		{"too long", "acme", "https://hooks.example.com/" + strings.Repeat("a", weburl.MaxLen), "too long"},
		{"unknown tenant", "initech", "https://hooks.example.com/", "not found"},
	}
	e := newEnv(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := e.st.Tx(context.Background(), func(tx store.Tx) error {
				_, err := SetWebhook(context.Background(), tx, e.sealer, tt.tenant, tt.url, e.clock.Now())
				return err
			})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("SetWebhook(%q) = %v, want an error about %q", tt.url, err, tt.want)
			}
			if _, err := e.st.GetSetting(context.Background(), "webhook:"+tt.tenant); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a refused webhook was stored: %v", err)
			}
		})
	}
}

func TestCheckURL_Accepted(t *testing.T) {
	t.Parallel()
	for _, u := range []string{
		"https://hooks.example.com/keyshift", "https://hooks.example.com:8443/a?b=c",
		"http://localhost:8080/hook", "http://127.0.0.1:9/hook", "http://[::1]:9/hook",
	} {
		if err := CheckURL(u); err != nil {
			t.Errorf("CheckURL(%q) = %v", u, err)
		}
	}
}

func TestSetWebhook_Replace_PreviousSecretSignsDuringOverlap(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	old := e.setWebhook(t, "acme", rcv.URL)
	e.clock.Add(time.Hour)
	current := e.setWebhook(t, "acme", rcv.URL)
	if old == current {
		t.Fatal("replacing a webhook kept its secret")
	}
	n := e.notifier(t, Config{})
	send := func() received {
		t.Helper()
		e.enqueue(t, "acme", TopicKeyDisabled, nil)
		deliverDue(t, n)
		reqs := rcv.requests()
		return reqs[len(reqs)-1]
	}

	r := send()
	for name, s := range map[string]string{"old": old, "new": current} {
		if err := Verify(s, r.header.Get(HeaderSignature), r.body, e.clock.Now(), 0); err != nil {
			t.Errorf("during the overlap, the %s secret does not verify: %v", name, err)
		}
	}
	e.clock.Add(RotationOverlap)
	r = send()
	if err := Verify(old, r.header.Get(HeaderSignature), r.body, e.clock.Now(), 0); !errors.Is(err, ErrSignatureMismatch) {
		t.Errorf("after the overlap, the old secret still verifies: %v", err)
	}
	if err := Verify(current, r.header.Get(HeaderSignature), r.body, e.clock.Now(), 0); err != nil {
		t.Errorf("after the overlap, the new secret does not verify: %v", err)
	}
	w, err := GetWebhook(context.Background(), e.st, e.sealer, "acme")
	if err != nil || !w.PreviousUntil.Equal(testStart.Add(time.Hour+RotationOverlap)) {
		t.Errorf("GetWebhook = %+v, %v; want the overlap end shown", w, err)
	}
}

func TestWebhook_SettingCopiedToAnotherTenant_DoesNotOpen(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.setWebhook(t, "acme", "https://acme.example.com/")
	raw, err := e.st.GetSetting(context.Background(), "webhook:acme")
	if err != nil {
		t.Fatal(err)
	}
	e.tx(t, func(tx store.Tx) error { return tx.PutSetting(context.Background(), "webhook:globex", raw) })
	_, err = GetWebhook(context.Background(), e.st, e.sealer, "globex")
	if !errors.Is(err, signing.ErrOpen) {
		t.Errorf("GetWebhook of a copied setting = %v, want signing.ErrOpen", err)
	}
}

func TestDeliver_UnopenableWebhook_RetriedWithoutSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	other, err := signing.NewSealer(bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	n, err := New(e.st, other, Config{Now: e.clock.Now, AllowPrivateNetworks: true})
	if err != nil {
		t.Fatal(err)
	}
	deliverDue(t, n)
	m := e.message(t, id)
	if m.DeliveredAt != nil || m.Attempts != 1 || !strings.HasPrefix(m.LastError, "cannot load webhook") {
		t.Errorf("message = %+v; want a failed attempt about the webhook", m)
	}
	if len(rcv.requests()) != 0 {
		t.Error("a request was sent without a usable secret")
	}
}

func TestWebhook_TenantRecreatedUnderSameID_DoesNotInherit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	rcv := newReceiver(t, e.clock.Now)
	e.setWebhook(t, "acme", rcv.URL)
	ctx := context.Background()
	e.tx(t, func(tx store.Tx) error { return tx.DeleteTenant(ctx, "acme") })
	e.clock.Add(time.Hour)
	e.tx(t, func(tx store.Tx) error {
		return tx.CreateTenant(ctx, store.Tenant{ID: "acme", Name: "Another Acme", Status: store.StatusActive})
	})
	if _, err := GetWebhook(ctx, e.st, e.sealer, "acme"); !errors.Is(err, ErrNoWebhook) {
		t.Errorf("GetWebhook for the new acme = %v, want ErrNoWebhook", err)
	}
	id := e.enqueue(t, "acme", TopicKeyDisabled, nil)
	deliverDue(t, e.notifier(t, Config{}))
	if m := e.message(t, id); m.LastError != noWebhookMessage || len(rcv.requests()) != 0 {
		t.Errorf("message for the new acme = %+v, %d requests to the old webhook", m, len(rcv.requests()))
	}
}
