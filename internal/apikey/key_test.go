package apikey

import (
	"strings"
	"testing"
	"time"
)

func TestMidnightUTC_KeepsTheCalendarDate(t *testing.T) {
	la := time.FixedZone("PST", -8*3600)
	tests := []struct {
		in   time.Time
		want string
	}{
		{at("2026-03-01T00:00:00Z"), "2026-03-01T00:00:00Z"},
		{at("2026-03-01T23:59:59.999999999Z"), "2026-03-01T00:00:00Z"},
		{time.Date(2026, 3, 1, 18, 0, 0, 0, la), "2026-03-01T00:00:00Z"},
	}
	for _, tt := range tests {
		if got := MidnightUTC(tt.in).Format(time.RFC3339); got != tt.want {
			t.Errorf("MidnightUTC(%s) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestParseDate(t *testing.T) {
	for in, want := range map[string]string{
		"2026-03-01":                "2026-03-01T00:00:00Z",
		"2026-03-01T00:00:00Z":      "2026-03-01T00:00:00Z",
		"2026-03-01T18:30:00-08:00": "2026-03-01T00:00:00Z",
	} {
		got, err := ParseDate(in)
		if err != nil || got.Format(time.RFC3339) != want {
			t.Errorf("ParseDate(%q) = %s, %v; want %s", in, got, err, want)
		}
	}
	for _, in := range []string{"", "01/03/2026", "2026-13-01"} {
		if _, err := ParseDate(in); err == nil {
			t.Errorf("ParseDate(%q) accepted", in)
		}
	}
}

func TestValidatePermission(t *testing.T) {
	for _, ok := range []string{"invoices:read", "purchase_orders:approve", "supplier-sites:write", "v2:x"} {
		if err := ValidatePermission(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "invoices", ":read", "invoices:", "invoices:read:all", "Invoices:read", "invoices: read", "core.invoice.read"} {
		if err := ValidatePermission(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestKeyAllows(t *testing.T) {
	all := Key{}
	some := Key{Permissions: []string{"invoices:read", "suppliers:read"}}
	tests := []struct {
		name     string
		key      Key
		required []string
		want     bool
	}{
		{"no permissions means all APIs", all, []string{"invoices:write"}, true},
		{"every required permission held", some, []string{"invoices:read", "suppliers:read"}, true},
		{"nothing required", some, nil, true},
		{"one missing", some, []string{"invoices:read", "invoices:write"}, false},
	}
	for _, tt := range tests {
		if got := tt.key.Allows(tt.required); got != tt.want {
			t.Errorf("%s: Allows = %v", tt.name, got)
		}
	}
}

func TestKeyValidate(t *testing.T) {
	good := tenantKey("acme")
	good.ExpiresAt = ptr(at("2027-01-01T00:00:00Z"))
	good.Contact = Contact{Login: "erp", FirstName: "Ada", LastName: "Lovelace", Email: "ada@example.com"}
	if err := good.Validate(); err != nil {
		t.Fatalf("valid key: %v", err)
	}
	if err := platformKey("acme").Validate(); err != nil {
		t.Fatalf("valid platform key: %v", err)
	}
	tests := []struct {
		name string
		edit func(*Key)
		want string
	}{
		{"no tenant", func(k *Key) { k.Tenant = "" }, "tenant is required"},
		{"no name", func(k *Key) { k.Name = "" }, "name is required"},
		{"bad owner", func(k *Key) { k.Owner = "customer" }, `owner "customer"`},
		{"platform key without purpose", func(k *Key) { k.Owner = OwnerPlatform; k.Purpose = "" }, "purpose is required"},
		{"bad status", func(k *Key) { k.Status = "paused" }, `status "paused"`},
		{"bad permission", func(k *Key) { k.Permissions = []string{"invoices"} }, `permission "invoices"`},
		{"duplicate permission", func(k *Key) { k.Permissions = []string{"invoices:read", "invoices:read"} }, "listed twice"},
		{"expiry not at midnight", func(k *Key) { k.ExpiresAt = ptr(at("2027-01-01T12:00:00Z")) }, "want midnight UTC"},
		{"bad email", func(k *Key) { k.Contact.Email = "Ada <ada@example.com>" }, "not a plain address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := good
			tt.edit(&k)
			err := k.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Validate = %v, want %q", err, tt.want)
			}
		})
	}
}
