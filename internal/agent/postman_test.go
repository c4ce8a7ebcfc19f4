package agent

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// newmanVersion pins the npm package that runs the Postman collection.
const newmanVersion = "6.2.2"

// TestPostmanCollection_RunsWithNewmanAgainstKeyshift keeps
// docs/postman from rotting: scripts/newman runs the collection against a
// real keyshift and a resource API that accepts only its tokens.
func TestPostmanCollection_RunsWithNewmanAgainstKeyshift(t *testing.T) {
	t.Parallel()
	newman := agenttest.NPMBin(t, "newman", newmanVersion, "newman")
	script, err := filepath.Abs("../../scripts/newman")
	if err != nil {
		t.Fatal(err)
	}
	k := agenttest.StartKeyshift(t)
	api := agenttest.StartResource(t, k, "core.invoice.read")
	c := k.NewClient(t, "")

	runNewman := func(extra ...string) {
		t.Helper()
		report := filepath.Join(t.TempDir(), "report.json")
		args := append([]string{script,
			"--env-var", "base_url=" + k.URL, "--env-var", "client_id=" + c.ID, "--env-var", "client_secret=" + c.Secret,
			"--env-var", "scope=" + strings.Join(c.Scopes, " "), "--env-var", "api_base_url=" + api.URL,
			"--reporters", "cli,json", "--reporter-json-export", report}, extra...)
		cmd := exec.Command("bash", args...)
		cmd.Env = append(os.Environ(), "NEWMAN="+newman)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("newman: %v\n%s", err, out)
		}
		b, err := os.ReadFile(report)
		if err != nil {
			t.Fatal(err)
		}
		var r struct {
			Run struct {
				Stats map[string]map[string]float64 `json:"stats"`
			} `json:"run"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			t.Fatal(err)
		}
		st := r.Run.Stats
		if st["assertions"]["failed"] != 0 || st["assertions"]["total"] == 0 || st["testScripts"]["failed"] != 0 || st["prerequestScripts"]["failed"] != 0 {
			t.Fatalf("newman stats %v\n%s", st, out)
		}
	}

	// The whole collection: the explicit token request, then two API calls
	// that reuse its token.
	runNewman()
	if n := k.TokenRequests(); n != 1 {
		t.Errorf("token requests after the full run = %d, want 1", n)
	}
	if api.Calls.Load() != 2 || api.Refused.Load() != 0 {
		t.Errorf("API calls %d, refused %d; want 2 accepted", api.Calls.Load(), api.Refused.Load())
	}
	// Only the API folder: the pre-request script fetches one token and
	// reuses it.
	runNewman("--folder", "Call the demo API")
	if n := k.TokenRequests(); n != 2 {
		t.Errorf("token requests after the folder run = %d, want 2", n)
	}
}
