package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// pgCluster is a fresh PostgreSQL schema initialised with `keyshift init`,
// and what every instance on it needs: the shared master secret file, one
// issuer and the operator's credentials.
type pgCluster struct {
	dsn        string // the test database, without search_path
	schema     string
	db         string // --db URL of the schema
	secretFile string
	issuer     string
	opID       string
	opSecret   string
}

func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	c := &pgCluster{
		dsn: dsn, schema: schema, db: dsn + "&search_path=" + schema,
		secretFile: filepath.Join(t.TempDir(), "keyshift.secret"),
		issuer:     "http://keyshift.test",
	}
	out, err := keyshiftCmd(t, "init", "--db", c.db, "--json", "--secret-file", c.secretFile, "--issuer", c.issuer).Output()
	if err != nil {
		t.Fatalf("keyshift init on postgres: %v", err)
	}
	var creds map[string]string
	if err := json.Unmarshal(out, &creds); err != nil || creds["client_id"] == "" {
		t.Fatalf("init --json printed %q: %v", out, err)
	}
	c.opID, c.opSecret = creds["client_id"], creds["client_secret"]
	return c
}

// serveArgs are the flags of an instance of the cluster on db (the
// cluster's own schema unless a proxy stands in front of it).
func (c *pgCluster) serveArgs(db string, extra ...string) []string {
	return append([]string{"--db", db, "--secret-file", c.secretFile, "--issuer", c.issuer}, extra...)
}

// httpc is the client of every request of these tests.
var httpc = &http.Client{Timeout: 5 * time.Second}

// tokenResp asks url's token endpoint for a client-credentials token.
func tokenResp(ctx context.Context, base, id, secret, scope string) (int, string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	code, body, err := formPost(ctx, base+"/oauth2/token", id, secret, form)
	if err != nil || code != http.StatusOK {
		return code, "", err
	}
	var out struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.AccessToken == "" {
		return code, "", fmt.Errorf("token answer %q: %v", body, err)
	}
	return code, out.AccessToken, nil
}

// mustToken is tokenResp that fails the test on anything but a token.
func mustToken(t *testing.T, base, id, secret, scope string) string {
	t.Helper()
	code, tok, err := tokenResp(context.Background(), base, id, secret, scope)
	if err != nil || code != http.StatusOK {
		t.Fatalf("token from %s for %s: %d %v", base, id, code, err)
	}
	return tok
}

func formPost(ctx context.Context, u, id, secret string, form url.Values) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return do(req)
}

// call sends a JSON admin request (body may be nil).
func call(ctx context.Context, method, u, token string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, nil, err
		}
		r = strings.NewReader(string(b))
	}
	req, err := http.NewRequestWithContext(ctx, method, u, r)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	return do(req)
}

func do(req *http.Request) (int, []byte, error) {
	resp, err := httpc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, data, nil
}

// mustCall is call that fails the test unless the answer has status want,
// and decodes the answer into out (when not nil).
func mustCall(t *testing.T, method, u, token string, body any, want int, out any) {
	t.Helper()
	code, data, err := call(context.Background(), method, u, token, body)
	if err != nil || code != want {
		t.Fatalf("%s %s: %d %s %v; want %d", method, u, code, data, err, want)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, u, data, err)
		}
	}
}

// kidOf returns the kid of a JWT's header.
func kidOf(t *testing.T, jwt string) string {
	t.Helper()
	head, _, _ := strings.Cut(jwt, ".")
	b, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		t.Fatalf("token header: %v", err)
	}
	var h struct {
		Kid string `json:"kid"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Kid == "" {
		t.Fatalf("token header %q: %v", b, err)
	}
	return h.Kid
}

// jwksKids returns the kids an instance publishes.
func jwksKids(t *testing.T, base string) map[string]bool {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/.well-known/jwks.json", nil)
	code, data, err := do(req)
	if err != nil || code != http.StatusOK {
		t.Fatalf("JWKS of %s: %d %v", base, code, err)
	}
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(data, &set); err != nil {
		t.Fatalf("JWKS of %s: %v", base, err)
	}
	out := map[string]bool{}
	for _, k := range set.Keys {
		out[k.Kid] = true
	}
	return out
}

// eventually polls cond until it holds or within passes, reporting how long
// it took.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > within {
			t.Errorf("%s: not within %s", what, within)
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
