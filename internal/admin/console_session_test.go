package admin

import (
	"context"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestConsolePrincipal_RightsFollowRoles(t *testing.T) {
	tests := []struct {
		name             string
		u                store.User
		operator, tenant bool
	}{
		{"tenant admin", store.User{Tenant: "acme", Roles: []string{store.RoleAdmin}}, false, true},
		{"tenant user", store.User{Tenant: "acme"}, false, false},
		{"platform admin is an operator", store.User{Tenant: store.PlatformTenant, Roles: []string{store.RoleAdmin}}, true, true},
		{"platform user", store.User{Tenant: store.PlatformTenant}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := ConsolePrincipal(tt.u, "127.0.0.1")
			if p.IsOperator() != tt.operator || p.IsTenantAdmin() != tt.tenant {
				t.Fatalf("operator %v tenant admin %v, want %v %v", p.IsOperator(), p.IsTenantAdmin(), tt.operator, tt.tenant)
			}
		})
	}
}

// TestConsoleSession_CheckedLive: a console session lasts while it is
// unexpired and its user and tenant stay active; signing out ends it.
func TestConsoleSession_CheckedLive(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	u, err := e.api.CreateUser(ctx, acmeAdmin, "acme", CreateUserRequest{Login: "ann", Roles: []string{store.RoleAdmin}})
	if err != nil {
		t.Fatal(err)
	}
	value, su, err := e.api.StartConsoleSession(ctx, u.ID, time.Hour)
	if err != nil || su.ID != u.ID {
		t.Fatalf("start = %v, %v", su, err)
	}
	v, err := e.api.ConsoleSession(ctx, value, "192.0.2.1:5000")
	if err != nil || v == nil {
		t.Fatalf("session = %v, %v", v, err)
	}
	if v.User.ID != u.ID || !v.Principal.IsTenantAdmin() || v.Principal.IsOperator() || v.Principal.Tenant != "acme" || v.Principal.RemoteAddr != "192.0.2.1:5000" {
		t.Fatalf("visit = %+v", v)
	}
	if v, err := e.api.ConsoleSession(ctx, value+"x", ""); v != nil || err != nil {
		t.Fatalf("unknown cookie = %v, %v", v, err)
	}

	disabled, active := store.StatusDisabled, store.StatusActive
	if _, err := e.api.UpdateTenant(ctx, operator, "acme", UpdateTenantRequest{Status: &disabled}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.api.ConsoleSession(ctx, value, ""); v != nil || err != nil {
		t.Fatalf("tenant disabled: %v, %v", v, err)
	}
	if _, err := e.api.UpdateTenant(ctx, operator, "acme", UpdateTenantRequest{Status: &active}); err != nil {
		t.Fatal(err)
	}
	if v, err := e.api.ConsoleSession(ctx, value, ""); v == nil || err != nil {
		t.Fatalf("tenant enabled again: %v, %v", v, err)
	}

	e.clock.Add(time.Hour)
	if v, err := e.api.ConsoleSession(ctx, value, ""); v != nil || err != nil {
		t.Fatalf("expired: %v, %v", v, err)
	}
	e.clock.Add(-time.Hour)
	if err := e.api.EndConsoleSession(ctx, v.Session.Hash); err != nil {
		t.Fatal(err)
	}
	if v, err := e.api.ConsoleSession(ctx, value, ""); v != nil || err != nil {
		t.Fatalf("signed out: %v, %v", v, err)
	}
	if err := e.api.EndConsoleSession(ctx, v.Session.Hash); err != nil {
		t.Fatalf("ending a session already gone: %v", err)
	}
}
