package admin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// legacyKey returns the i-th 40-character legacy key of a test file.
func legacyKey(i int) string { return fmt.Sprintf("LEGACY%034d", i) }

func (e *env) importBody(t *testing.T, token, tenant, ct, body, query string) response {
	t.Helper()
	req, err := http.NewRequest("POST", e.srv.URL+"/admin/v1/tenants/"+tenant+"/keys/import"+query, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	return e.send(t, req)
}

func hashHex(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// mixedFile has three good rows and one of each kind of bad row.
func mixedFile() string {
	lines := []string{
		fmt.Sprintf(`{"key":%q,"name":"ERP","permissions":["invoices:read"],"contact_login":"jdoe","created_at":"2021-05-01T10:00:00Z","last_used_at":"2026-11-20"}`, legacyKey(1)),
		fmt.Sprintf(`{"key_sha256":%q,"name":"hash only","permissions":"invoices:read invoices:write","expires_at":"2027-01-01"}`, hashHex(legacyKey(2))),
		fmt.Sprintf(`{"key":%q,"owner":"platform","purpose":"sftp-loader"}`, legacyKey(3)),
		`{"key_sha256":"abc123","name":"bad hash"}`,
		fmt.Sprintf(`{"key":%q,"owner":"robot"}`, legacyKey(5)),
		fmt.Sprintf(`{"key":%q,"permissions":["Invoices"]}`, legacyKey(6)),
		fmt.Sprintf(`{"key":%q,"permissions":["ledgers:read"]}`, legacyKey(7)),
		fmt.Sprintf(`{"key":%q,"name":"again"}`, legacyKey(1)),
		`{"key": "short"}`,
		`{not json`,
		fmt.Sprintf(`{"key":%q,"colour":"red"}`, legacyKey(11)),
		fmt.Sprintf(`{"key":%q,"contact_login":"JDOE"}`, legacyKey(12)),
		"",
	}
	return strings.Join(lines, "\n")
}

func TestImport_MalformedRowsReported_RestImported(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.importBody(t, tokOperator, "acme", "application/x-ndjson", mixedFile(), "")
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.body)
	}
	var res ImportResult
	r.decode(t, &res)
	if res.Created != 3 || res.Updated != 0 || res.Failed != 9 {
		t.Fatalf("result = %+v", res)
	}
	wantLines := map[int]string{4: "key_sha256", 5: "owner", 6: "permissions", 7: "permissions", 8: "key",
		9: "key", 10: "", 11: "colour", 12: "contact_login"}
	got := map[int]string{}
	for _, fe := range res.Errors {
		got[fe.Line] = fe.Field
		if strings.Contains(fe.Message, legacyKey(1)) || fe.Message == "" {
			t.Errorf("line %d: message %q", fe.Line, fe.Message)
		}
	}
	for line, field := range wantLines {
		if f, ok := got[line]; !ok || f != field {
			t.Errorf("line %d: field %q (reported %v), want %q", line, f, ok, field)
		}
	}
	if res.ErrorsTotal != len(res.Errors) {
		t.Errorf("errors_total %d != %d", res.ErrorsTotal, len(res.Errors))
	}
	h := apikey.Hash(legacyKey(1))
	k, err := e.st.GetAPIKeyByHash(context.Background(), h[:])
	if err != nil || !k.Imported || k.Name != "ERP" || k.Hint != legacyKey(1)[36:] || k.CreatedAt.Year() != 2021 ||
		k.LastUsedAt == nil || k.Contact.Login != "jdoe" {
		t.Errorf("imported key = %+v, %v", k, err)
	}
	if n := e.keyCount(t, "acme"); n != 3 {
		t.Errorf("stored keys = %d, want 3", n)
	}
	if n := e.auditCount(t, "api_key.import", "acme"); n != 1 {
		t.Errorf("audit events = %d, want 1", n)
	}
}

func TestImport_ReimportIsIdempotent_ChangesUpdate(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	// The mixed file without its repeated row: a consistent source.
	file := strings.Replace(mixedFile(), fmt.Sprintf(`{"key":%q,"name":"again"}`, legacyKey(1)), "", 1)
	var res ImportResult
	e.importBody(t, tokOperator, "acme", "application/x-ndjson", file, "").decode(t, &res)
	if res.Created != 3 || res.Failed != 8 {
		t.Fatalf("first import = %+v", res)
	}
	for range 2 {
		// Each run stamps what it writes with its start time; runs are apart.
		e.clock.Add(time.Second)
		e.importBody(t, tokOperator, "acme", "application/x-ndjson", file, "").decode(t, &res)
		if res.Created != 0 || res.Updated != 0 || res.Unchanged != 3 || res.Failed != 8 {
			t.Fatalf("re-import = %+v", res)
		}
	}
	if n := e.keyCount(t, "acme"); n != 3 {
		t.Errorf("stored keys = %d after three imports, want 3", n)
	}
	changed := fmt.Sprintf(`{"key":%q,"name":"ERP v2","permissions":["invoices:read"],"contact_login":"jdoe","status":"disabled"}`, legacyKey(1))
	e.importBody(t, tokOperator, "acme", "application/x-ndjson", changed, "").decode(t, &res)
	if res.Updated != 1 {
		t.Fatalf("change = %+v", res)
	}
	h := apikey.Hash(legacyKey(1))
	k, _ := e.st.GetAPIKeyByHash(context.Background(), h[:])
	if k.Name != "ERP v2" || k.Status != "disabled" || k.CreatedAt.Year() != 2021 || k.LastUsedAt == nil {
		t.Errorf("updated key = %+v", k)
	}
}

func TestImport_CSV_DryRun(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	csvBody := "\ufeffkey,name,permissions,contact_email,owner,expires_at\n" +
		legacyKey(1) + ",ERP,invoices:read;suppliers:read,jdoe@acme.example,tenant,2027-01-01\n" +
		legacyKey(2) + ",\"Quoted, name\",,,platform,\n" + // platform without purpose
		legacyKey(3) + ",Loader,invoices:read invoices:write,,,\n" +
		legacyKey(4) + ",too,many,fields,here,x,y\n" +
		legacyKey(3) + ",Loader again,,,,\n"
	var res ImportResult
	r := e.importBody(t, tokOperator, "acme", "text/csv; charset=utf-8", csvBody, "?dry_run=true")
	r.decode(t, &res)
	if r.status != http.StatusOK || !res.DryRun || res.Created != 2 || res.Failed != 3 {
		t.Fatalf("dry run: %d %+v", r.status, res)
	}
	if n := e.keyCount(t, "acme"); n != 0 {
		t.Fatalf("dry run stored %d keys", n)
	}
	if n := e.auditCount(t, "api_key.import", "acme"); n != 0 {
		t.Errorf("dry run wrote %d audit events", n)
	}
	e.importBody(t, tokOperator, "acme", "text/csv", csvBody, "").decode(t, &res)
	if res.DryRun || res.Created != 2 || res.Failed != 3 {
		t.Fatalf("real run: %+v", res)
	}
	lines := map[int]bool{}
	for _, fe := range res.Errors {
		lines[fe.Line] = true
	}
	if !lines[3] || !lines[5] || !lines[6] {
		t.Errorf("errors %+v, want lines 3, 5 and 6", res.Errors)
	}
}

func TestImport_WholeRequestRefusals(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cases := []struct {
		name, token, tenant, ct, body, query string
		want                                 int
	}{
		{"other tenant", tokAcme, "globex", "text/csv", "key\n" + legacyKey(1) + "\n", "", http.StatusNotFound},
		{"json content type", tokOperator, "acme", "application/json", "{}", "", http.StatusUnsupportedMediaType},
		{"csv without key column", tokOperator, "acme", "text/csv", "name\nx\n", "", http.StatusBadRequest},
		{"csv unknown column", tokOperator, "acme", "text/csv", "key,colour\n", "", http.StatusBadRequest},
		{"bad dry_run", tokOperator, "acme", "text/csv", "key\n", "?dry_run=maybe", http.StatusBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.importBody(t, tc.token, tc.tenant, tc.ct, tc.body, tc.query)
			if r.status != tc.want {
				t.Fatalf("status %d, want %d: %s", r.status, tc.want, r.body)
			}
			r.problem(t)
		})
	}
	if n := e.keyCount(t, "acme") + e.keyCount(t, "globex"); n != 0 {
		t.Errorf("%d keys stored", n)
	}
}

func TestImport_TenantAdminRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	plat := fmt.Sprintf(`{"key":%q,"owner":"platform","purpose":"mobile"}`, legacyKey(1))
	e.importBody(t, tokOperator, "acme", "application/x-ndjson", plat, "")
	globexKey := fmt.Sprintf(`{"key":%q}`, legacyKey(2))
	e.importBody(t, tokOperator, "globex", "application/x-ndjson", globexKey, "")
	file := strings.Join([]string{
		fmt.Sprintf(`{"key":%q,"owner":"platform","purpose":"mobile","status":"disabled"}`, legacyKey(1)), // platform key of acme
		globexKey, // a key of another tenant
		fmt.Sprintf(`{"key":%q,"owner":"platform","purpose":"x"}`, legacyKey(3)), // new platform key
		fmt.Sprintf(`{"key":%q}`, legacyKey(4)),
	}, "\n")
	var res ImportResult
	e.importBody(t, tokAcme, "acme", "application/x-ndjson", file, "").decode(t, &res)
	if res.Created != 1 || res.Failed != 3 {
		t.Fatalf("result = %+v", res)
	}
	h := apikey.Hash(legacyKey(1))
	if k, _ := e.st.GetAPIKeyByHash(context.Background(), h[:]); k.Status != store.StatusActive {
		t.Errorf("tenant admin changed a platform key: %+v", k)
	}
	h = apikey.Hash(legacyKey(2))
	if k, _ := e.st.GetAPIKeyByHash(context.Background(), h[:]); k.Tenant != "globex" {
		t.Errorf("key moved: %+v", k)
	}
}

func TestImport_Batches_OneAuditEventEach(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	opts := ImportOptions{BatchSize: 10} // the real size, 1000, runs in TestImport1M
	var b strings.Builder
	for i := range 25 {
		fmt.Fprintf(&b, "{\"key\":%q,\"permissions\":[\"invoices:read\"]}\n", legacyKey(i))
	}
	res, err := e.api.ImportKeys(context.Background(), operator, "acme", strings.NewReader(b.String()), apikey.ImportJSONL, opts)
	if err != nil || res.Created != 25 {
		t.Fatalf("import = %+v, %v", res, err)
	}
	if n := e.auditCount(t, "api_key.import", "acme"); n != 3 {
		t.Errorf("audit events = %d, want 3", n)
	}
	// A row repeated in a later batch is reported, not applied twice.
	dup := b.String() + fmt.Sprintf("{\"key\":%q,\"name\":\"dup\"}\n", legacyKey(0))
	e.clock.Add(time.Second)
	res, err = e.api.ImportKeys(context.Background(), operator, "acme", strings.NewReader(fmt.Sprintf("{\"key\":%q,\"name\":\"x\"}\n", legacyKey(0))+dup), apikey.ImportJSONL, opts)
	if err != nil || res.Failed != 2 || res.Updated != 1 {
		t.Fatalf("duplicates = %+v, %v", res, err)
	}
	// A dry run keeps no batch, yet still tells a repeat in a later batch.
	var fresh strings.Builder
	for i := range 15 {
		fmt.Fprintf(&fresh, "{\"key\":%q}\n", legacyKey(1000+i))
	}
	fresh.WriteString(fmt.Sprintf("{\"key\":%q}\n", legacyKey(1000)))
	res, err = e.api.ImportKeys(context.Background(), operator, "acme", strings.NewReader(fresh.String()), apikey.ImportJSONL,
		ImportOptions{BatchSize: 10, DryRun: true})
	if err != nil || res.Created != 15 || res.Failed != 1 || res.Errors[0].Line != 16 {
		t.Fatalf("dry run with a repeat = %+v, %v", res, err)
	}
}

func TestImport_ErrorListCapped(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := strings.Repeat("{\"key\":\"short\"}\n", MaxImportErrors+5)
	res, err := e.api.ImportKeys(context.Background(), operator, "acme", strings.NewReader(body), apikey.ImportJSONL, ImportOptions{})
	if err != nil || len(res.Errors) != MaxImportErrors || res.ErrorsTotal != MaxImportErrors+5 || res.Failed != MaxImportErrors+5 {
		t.Fatalf("errors = %d, total %d, failed %d, %v", len(res.Errors), res.ErrorsTotal, res.Failed, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestImport_ReadFailure_KeepsWholeRowsBeforeIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	body := io.MultiReader(strings.NewReader(fmt.Sprintf("{\"key\":%q}\n{\"key\":%q}\n", legacyKey(1), legacyKey(2))), failingReader{})
	res, err := e.api.ImportKeys(context.Background(), operator, "acme", body, apikey.ImportJSONL, ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), "connection reset") || res.Created != 2 {
		t.Fatalf("import = %+v, %v", res, err)
	}
	if n := e.keyCount(t, "acme"); n != 2 {
		t.Errorf("stored keys = %d, want 2", n)
	}
}
