package admin

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

func TestRotateSecret_DefaultOverlap_PreviousKeptOneDay(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	e.clock.Add(time.Hour)
	r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients/"+c.ClientID+"/secrets", nil)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	var got RotateSecretResponse
	r.decode(t, &got)
	if !credential.Valid(credential.PrefixClientSecret, got.ClientSecret) || got.ClientSecret == c.ClientSecret {
		t.Fatalf("new secret invalid or unchanged")
	}
	wantExp := e.clock.Now().Add(DefaultSecretOverlap)
	if got.PreviousExpiresAt == nil || !got.PreviousExpiresAt.Equal(wantExp) {
		t.Errorf("previous_expires_at = %v, want %v", got.PreviousExpiresAt, wantExp)
	}
	stored, _ := e.st.GetClient(context.Background(), c.ClientID)
	if len(stored.Secrets) != 2 {
		t.Fatalf("live secrets = %d, want 2", len(stored.Secrets))
	}
	if !hasSecret(stored, got.ClientSecret) || !hasSecret(stored, c.ClientSecret) {
		t.Error("old or new secret not stored")
	}
	if n := e.auditCount(t, "client.secret.rotate", c.ClientID); n != 1 {
		t.Errorf("audit events = %d", n)
	}
}

func TestRotateSecret_ThirdRotation_DropsOldest(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	ctx := context.Background()
	e.clock.Add(time.Minute)
	second, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Minute)
	third, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.st.GetClient(ctx, c.ClientID)
	if len(stored.Secrets) != 2 || hasSecret(stored, c.ClientSecret) || !hasSecret(stored, second.ClientSecret) || !hasSecret(stored, third.ClientSecret) {
		t.Errorf("secrets after two rotations: %+v", stored.Secrets)
	}
}

func TestRotateSecret_NeverExtendsPreviousExpiry(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	ctx := context.Background()
	soon := e.clock.Now().Add(time.Hour)
	if _, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{PreviousExpiresAt: &soon}); err != nil {
		t.Fatal(err)
	}
	// The second rotation keeps the second secret; the first is dropped.
	e.clock.Add(time.Minute)
	resp, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp.PreviousExpiresAt == nil || !resp.PreviousExpiresAt.Equal(e.clock.Now().Add(DefaultSecretOverlap)) {
		t.Errorf("previous_expires_at = %v", resp.PreviousExpiresAt)
	}
}

func TestRotateSecret_RevokePrevious_OnlyNewLive(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients/"+c.ClientID+"/secrets", `{"revoke_previous":true}`)
	if r.status != http.StatusCreated {
		t.Fatalf("status = %d: %s", r.status, r.body)
	}
	var got RotateSecretResponse
	r.decode(t, &got)
	stored, _ := e.st.GetClient(context.Background(), c.ClientID)
	if len(stored.Secrets) != 1 || !hasSecret(stored, got.ClientSecret) || got.PreviousExpiresAt != nil {
		t.Errorf("secrets = %+v, answer %+v", stored.Secrets, got)
	}
}

func TestRotateSecret_ExpiredPreviousNotKept(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	ctx := context.Background()
	if _, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{}); err != nil {
		t.Fatal(err)
	}
	// Two days later both the original (expired) and the second secret
	// exist; only the second is live and kept.
	e.clock.Add(48 * time.Hour)
	third, err := e.api.RotateClientSecret(ctx, acmeAdmin, "acme", c.ClientID, RotateSecretRequest{})
	if err != nil {
		t.Fatal(err)
	}
	stored, _ := e.st.GetClient(ctx, c.ClientID)
	if len(stored.Secrets) != 2 || hasSecret(stored, c.ClientSecret) || !hasSecret(stored, third.ClientSecret) {
		t.Errorf("secrets = %+v", stored.Secrets)
	}
}

func TestRotateSecret_BadExpiry_400AndUnchanged(t *testing.T) {
	tests := []struct {
		name string
		body string
	}{
		{"in the past", `{"previous_expires_at":"2026-11-27T05:00:00Z"}`},
		{"now", `{"previous_expires_at":"2026-11-27T06:00:00Z"}`},
		{"beyond 30 days", `{"previous_expires_at":"2026-12-27T06:00:01Z"}`},
		{"with revoke", `{"previous_expires_at":"2026-11-28T06:00:00Z","revoke_previous":true}`},
		{"not a time", `{"previous_expires_at":"tomorrow"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			c := e.mustCreateClient(t, "acme", CreateClientRequest{})
			r := e.call(t, tokAcme, http.MethodPost, "/admin/v1/tenants/acme/clients/"+c.ClientID+"/secrets", tt.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status = %d: %s", r.status, r.body)
			}
			r.problem(t)
			stored, _ := e.st.GetClient(context.Background(), c.ClientID)
			if len(stored.Secrets) != 1 || !hasSecret(stored, c.ClientSecret) {
				t.Error("secrets changed")
			}
			if n := e.auditCount(t, "client.secret.rotate", ""); n != 0 {
				t.Errorf("audit events = %d", n)
			}
		})
	}
}

func TestRotateSecret_ThirtyDaysExactly_Accepted(t *testing.T) {
	e := newEnv(t)
	c := e.mustCreateClient(t, "acme", CreateClientRequest{})
	exp := e.clock.Now().Add(MaxSecretOverlap)
	resp, err := e.api.RotateClientSecret(context.Background(), acmeAdmin, "acme", c.ClientID, RotateSecretRequest{PreviousExpiresAt: &exp})
	if err != nil || !resp.PreviousExpiresAt.Equal(exp) {
		t.Fatalf("rotate: %v, %+v", err, resp)
	}
	ids := []string{}
	for _, s := range resp.Secrets {
		ids = append(ids, s.ID)
	}
	if len(ids) != 2 || !slices.Contains(ids, resp.SecretID) {
		t.Errorf("secrets = %v", ids)
	}
}

func hasSecret(c store.Client, secret string) bool {
	h := credential.Hash(secret)
	for _, s := range c.Secrets {
		if credential.Equal(s.Hash, h[:]) {
			return true
		}
	}
	return false
}
