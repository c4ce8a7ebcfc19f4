package admincli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/admintest"
	"github.com/keyshift/keyshift/internal/apikey"
)

// seedKeys adds tenant acme and two catalogue scopes to the stack.
func seedKeys(t *testing.T, s *admintest.Stack) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.API.CreateTenant(ctx, admin.SystemPrincipal(), admin.CreateTenantRequest{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	for name, perm := range map[string]string{"core.invoice.read": "invoices:read", "core.invoice.write": "invoices:write"} {
		if _, err := s.API.PutScope(ctx, admin.SystemPrincipal(), name, admin.PutScopeRequest{Description: name, Permissions: []string{perm}}); err != nil {
			t.Fatal(err)
		}
	}
}

func decodeOut(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %q: %v", out, err)
	}
}

func TestKeysCLI_CreateListDisableConvert(t *testing.T) {
	s := setup(t)
	seedKeys(t, s)
	var created admin.CreateKeyResponse
	decodeOut(t, mustRun(t, "keys", "create", "acme", "--name", "ERP", "--permission", "invoices:read",
		"--permission", "invoices:write", "--expires", "2099-01-01", "--login", "jdoe", "-o", "json"), &created)
	if apikey.Recognize(created.Key) != apikey.FormatKeyshift || created.ExpiresAt == nil {
		t.Fatalf("created = %+v", created)
	}
	table := mustRun(t, "keys", "create", "acme", "--name", "Other")
	if !strings.Contains(table, "ksk_") || !strings.Contains(table, "not shown again") {
		t.Errorf("create table:\n%s", table)
	}
	list := mustRun(t, "keys", "list", "acme")
	if !strings.Contains(list, created.ID) || strings.Contains(list, created.Key) || !strings.Contains(list, "(all APIs)") {
		t.Errorf("list:\n%s", list)
	}
	if r := run(t, "", "keys", "create", "acme", "--name", "dup", "--login", "JDOE"); r.err == nil ||
		!strings.Contains(r.err.Error(), "Login has already been taken") {
		t.Errorf("duplicate login: %v", r.err)
	}
	var conv admin.ConvertKeyResponse
	decodeOut(t, mustRun(t, "keys", "convert", "acme", created.ID, "--disable-key-at", "2099-01-01", "-o", "json"), &conv)
	if conv.ClientSecret == "" || len(conv.Scopes) != 2 {
		t.Fatalf("convert = %+v", conv)
	}
	if r := run(t, "", "keys", "convert", "acme", created.ID); r.err == nil || !strings.Contains(r.err.Error(), "already converted") {
		t.Errorf("second convert: %v", r.err)
	}
	if out := mustRun(t, "keys", "disable", "acme", created.ID); !strings.Contains(out, "disabled") {
		t.Errorf("disable:\n%s", out)
	}
	if r := run(t, "", "keys", "revoke", "acme", created.ID); r.err == nil || !strings.Contains(r.err.Error(), "--yes") {
		t.Errorf("revoke without --yes: %v", r.err)
	}
	mustRun(t, "keys", "revoke", "acme", created.ID, "--yes")
	var shown admin.KeyView
	decodeOut(t, mustRun(t, "keys", "show", "acme", created.ID, "-o", "json"), &shown)
	if shown.Status != "revoked" || shown.ConvertedToClient != conv.ClientID {
		t.Errorf("show = %+v", shown)
	}
}

func TestKeysCLI_ImportWithProgressAndRowErrors(t *testing.T) {
	s := setup(t)
	seedKeys(t, s)
	dir := t.TempDir()
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "{\"key\":\"LEGACY%034d\",\"permissions\":[\"invoices:read\"]}\n", i)
	}
	b.WriteString(`{"key_sha256":"not-hex"}` + "\n")
	path := filepath.Join(dir, "keys.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	dry := run(t, "", "keys", "import", "acme", path, "--dry-run")
	if dry.err == nil || !strings.Contains(dry.stdout, "created 50") || !strings.Contains(dry.stdout, "dry run") ||
		!strings.Contains(dry.stdout, "key_sha256") {
		t.Fatalf("dry run: %v\n%s", dry.err, dry.stdout)
	}
	if ks, _ := s.API.ListKeys(context.Background(), admin.SystemPrincipal(), "acme", admin.KeyQuery{}); len(ks.Keys) != 0 {
		t.Fatalf("dry run stored %d keys", len(ks.Keys))
	}
	r := run(t, "", "keys", "import", "acme", path, "-o", "json")
	var res admin.ImportResult
	decodeOut(t, r.stdout, &res)
	if r.err == nil || res.Created != 50 || res.Failed != 1 || res.Errors[0].Line != 51 {
		t.Fatalf("import: %v %+v", r.err, res)
	}
	if !strings.Contains(r.stderr, "sending keys.jsonl") {
		t.Errorf("no progress bar on stderr: %q", r.stderr)
	}
	csvPath := filepath.Join(dir, "keys.csv")
	csvBody := "key,name,permissions\nLEGACY0000000000000000000000000000000000,renamed,invoices:read\n"
	if err := os.WriteFile(csvPath, []byte(csvBody), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := mustRun(t, "keys", "import", "acme", csvPath); !strings.Contains(out, "updated 1") {
		t.Errorf("csv import:\n%s", out)
	}
	if r := run(t, "", "keys", "import", "acme", csvPath, "--format", "xml"); r.err == nil {
		t.Error("unknown format accepted")
	}
	if r := run(t, "", "keys", "import", "acme", filepath.Join(dir, "missing.jsonl")); r.err == nil {
		t.Error("missing file accepted")
	}
}
