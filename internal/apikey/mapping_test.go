package apikey

import (
	"slices"
	"testing"
)

func TestMapPermissions(t *testing.T) {
	catalogue := []CatalogueScope{
		{Name: "openid"},
		{Name: "keyshift:admin"},
		{Name: "core.invoice.read", Permissions: []string{"invoices:read"}},
		{Name: "core.invoice.write", Permissions: []string{"invoices:write"}},
		{Name: "core.invoice.all", Permissions: []string{"invoices:read", "invoices:write", "invoices:delete"}},
		{Name: "core.supplier.manage", Permissions: []string{"suppliers:read", "suppliers:write"}},
		{Name: "core.invoice.read_alias", Permissions: []string{"invoices:read"}},
	}
	cases := []struct {
		name             string
		perms            []string
		scopes, unmapped []string
	}{
		{"one permission", []string{"invoices:read"}, []string{"core.invoice.read", "core.invoice.read_alias"}, nil},
		{"never more than the key", []string{"invoices:read", "invoices:write"}, []string{"core.invoice.read", "core.invoice.read_alias", "core.invoice.write"}, nil},
		{"scope needing two permissions, key has both", []string{"suppliers:write", "suppliers:read"}, []string{"core.supplier.manage"}, nil},
		{"scope needing two permissions, key has one", []string{"suppliers:read"}, nil, []string{"suppliers:read"}},
		{"unknown permission", []string{"ledgers:read", "invoices:write"}, []string{"core.invoice.write"}, []string{"ledgers:read"}},
		{"all APIs", nil, []string{"core.invoice.all", "core.invoice.read", "core.invoice.read_alias", "core.invoice.write", "core.supplier.manage"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			scopes, unmapped := MapPermissions(tc.perms, catalogue)
			if !slices.Equal(scopes, tc.scopes) || !slices.Equal(unmapped, tc.unmapped) {
				t.Errorf("MapPermissions(%v) = %v, %v; want %v, %v", tc.perms, scopes, unmapped, tc.scopes, tc.unmapped)
			}
		})
	}
	if s, u := MapPermissions(nil, nil); s != nil || u != nil {
		t.Errorf("empty catalogue: %v %v", s, u)
	}
}
