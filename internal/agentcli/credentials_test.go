package agentcli

import (
	"context"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// Without the admin API the CLI cannot tell why invalid_client came back:
// it must name the disabled client as well as the secret.
func TestCredentialsTest_DisabledClient_FixNamesBothCauses(t *testing.T) {
	k := agenttest.StartKeyshift(t)
	c := k.NewClient(t, "")
	cfg := writeProfiles(t, k, c, "")
	k.DisableClient(t, c)
	out, _, err := run(t, context.Background(), "credentials", "test", "--config", cfg)
	if err == nil {
		t.Fatalf("exit 0 for a disabled client:\n%s", out)
	}
	for _, want := range []string{"[FAIL] token", "disabled", "rotated"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}
