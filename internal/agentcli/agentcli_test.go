package agentcli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// run executes the keyshift CLI's integration commands with args.
func run(t *testing.T, ctx context.Context, args ...string) (string, string, error) {
	t.Helper()
	root := &cobra.Command{Use: "keyshift", SilenceUsage: true, SilenceErrors: true}
	AddCommands(root)
	var out, errOut bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// writeProfiles writes an integrations file with a production profile for c
// (secret in a file) and returns its path.
func writeProfiles(t *testing.T, k *agenttest.Keyshift, c agenttest.Client, extra string) string {
	t.Helper()
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(c.Secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`default: production
profiles:
  production:
    issuer: %s
    client_id: %s
    client_secret_file: %s
    scopes: [%s]
    cache_file: %s
%s`, k.URL, c.ID, secretFile, strings.Join(c.Scopes, ", "), filepath.Join(dir, "cache", "prod.json"), extra)
	path := filepath.Join(dir, "integrations.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestToken_PrintsTokenThenServesItFromTheCache(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "")
	ctx := context.Background()

	out, _, err := run(t, ctx, "token", "--config", cfg, "--json")
	if err != nil {
		t.Fatal(err)
	}
	var j struct {
		AccessToken string    `json:"access_token"`
		ExpiresAt   time.Time `json:"expires_at"`
		Scopes      []string  `json:"scopes"`
		FromCache   bool      `json:"from_cache"`
	}
	if err := json.Unmarshal([]byte(out), &j); err != nil {
		t.Fatalf("--json output %q: %v", out, err)
	}
	if j.AccessToken == "" || time.Until(j.ExpiresAt) < 23*time.Hour || strings.Join(j.Scopes, " ") != strings.Join(c.Scopes, " ") || j.FromCache {
		t.Errorf("--json = %+v", j)
	}
	out, _, err = run(t, ctx, "token", "--config", cfg, "--profile", "production", "--header")
	if err != nil || out != "Authorization: Bearer "+j.AccessToken+"\n" {
		t.Errorf("--header = %q, %v; want the cached token", out, err)
	}
	out, _, _ = run(t, ctx, "token", "--config", cfg)
	if strings.TrimSpace(out) != j.AccessToken {
		t.Errorf("plain = %q", out)
	}
	if n := k.TokenRequests(); n != 1 {
		t.Errorf("token requests = %d, want 1 for three runs sharing the cache", n)
	}
}

func TestToken_FlagsOnly_WrongSecret_SaysWhatToDoWithoutTheSecret(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	t.Setenv("ERP_SECRET", "kss_wrong_secret_value")
	_, _, err := run(t, context.Background(), "token", "--config", filepath.Join(t.TempDir(), "none.yaml"),
		"--token-url", k.TokenURL, "--client-id", c.ID, "--client-secret-env", "ERP_SECRET", "--no-cache")
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || !strings.Contains(err.Error(), "rotated") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "kss_wrong_secret_value") {
		t.Error("the error shows the secret")
	}
}

func TestCredentialsTest_AllPass_WithProbe(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "    probe: "+api.URL+"/api/invoices\n")
	out, _, err := run(t, context.Background(), "credentials", "test", "--config", cfg)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"[ ok ] profile", "[ ok ] discovery", "[ ok ] token", "[ ok ] clock", `tenant "acme"`,
		"[ ok ] scopes", "[ ok ] signing key", "[ ok ] probe", "All checks passed."} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, c.Secret) {
		t.Error("the checklist shows the secret")
	}
}

func TestCredentialsTest_Failures_OneLineFixEach(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.supplier.write")
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "")
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
		want []string
	}{
		{"wrong secret", []string{"--client-secret-env", "BAD_SECRET"}, map[string]string{"BAD_SECRET": "kss_nope"},
			[]string{"[FAIL] token", "rotated"}},
		{"scope not on the client", []string{"--scope", "core.supplier.write"}, nil,
			[]string{"[FAIL] token", "core.supplier.write are not on the client"}},
		{"wrong URL", []string{"--issuer", api.URL}, nil, []string{"[FAIL] discovery"}},
		{"probe refuses the token", []string{"--probe", api.URL + "/api/suppliers"}, nil,
			[]string{"[ ok ] token", "[FAIL] probe", "give the client the scope"}},
		{"empty secret variable", []string{"--client-secret-env", "UNSET_SECRET_VAR"}, nil, []string{"[FAIL] profile", "UNSET_SECRET_VAR"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for k, v := range tc.env {
				t.Setenv(k, v)
			}
			out, _, err := run(t, context.Background(), append([]string{"credentials", "test", "--config", cfg}, tc.args...)...)
			if err == nil {
				t.Fatalf("exit 0 for a failing check:\n%s", out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			if !strings.Contains(out, "fix: ") {
				t.Errorf("no fix line:\n%s", out)
			}
		})
	}
}

func TestAgentCommand_ProxiesWithProfile(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	c := k.NewClient(t, "")
	listen := fmt.Sprintf("127.0.0.1:%d", agenttest.FreePort(t))
	cfg := writeProfiles(t, k, c, "    api: "+api.URL+"\n    legacy_header: X-COUPA-API-KEY\n    listen: "+listen+"\n")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { _, _, err := run(t, ctx, "agent", "--config", cfg); done <- err }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("agent: %v", err)
		}
	}()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		req, _ := http.NewRequest(http.MethodGet, "http://"+listen+"/api/invoices", nil)
		req.Header.Set("X-COUPA-API-KEY", "legacy")
		var err error
		if resp, err = http.DefaultClient.Do(req); err == nil {
			break
		}
	}
	if resp == nil {
		t.Fatal("agent did not start")
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || api.LastHeader().Get("X-Coupa-Api-Key") != "" {
		t.Errorf("status %d, legacy header at the API %q", resp.StatusCode, api.LastHeader().Get("X-Coupa-Api-Key"))
	}
}

func TestToken_KeyshiftProfile_PicksTheProfile_ErrorNamesTheFile(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "  other:\n    token_url: http://127.0.0.1:1/oauth2/token\n    client_id: ksc_other\n    client_secret: kss_other\n")
	for _, tc := range []struct {
		name, env string
		args      []string
		want      string // "" for a token
	}{
		{"the variable picks a profile", "production", nil, ""},
		{"the variable wins over the file's default", "other", nil, "127.0.0.1:1"},
		{"the flag wins over the variable", "other", []string{"--profile", "production"}, ""},
		{"a missing profile names the file and the others", "prod", nil,
			`profile "prod" not found in ` + cfg + " (profiles: other, production)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("KEYSHIFT_PROFILE", tc.env)
			out, _, err := run(t, context.Background(), append([]string{"token", "--config", cfg, "--no-cache"}, tc.args...)...)
			switch {
			case tc.want == "" && (err != nil || !strings.HasPrefix(out, "ey")):
				t.Fatalf("token = %q, %v", out, err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestCredentialsProfiles_SecretsOnlyWhenAsked(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "")
	out, _, err := run(t, context.Background(), "credentials", "profiles", "--config", cfg)
	if err != nil || !strings.Contains(out, "production (default)") || !strings.Contains(out, c.ID) || strings.Contains(out, c.Secret) {
		t.Errorf("list = %q, %v; want the profile without its secret", out, err)
	}
	out, _, _ = run(t, context.Background(), "credentials", "profiles", "--config", cfg, "--show-secrets")
	if !strings.Contains(out, c.Secret) {
		t.Errorf("--show-secrets = %q; want the secret", out)
	}
}
