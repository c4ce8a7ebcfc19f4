package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestServe_InstancesTogetherOnFreshPostgres_AllStartOneOperator starts
// three `keyshift serve` processes and one `keyshift init` at the same
// moment on an empty PostgreSQL schema with a master secret file that does
// not exist yet, several times over on fresh schemas. Every serve must
// start and serve tokens; exactly one of the four creates the operator and
// shows its secret (init, when it loses, says the store is already
// initialised); the database holds one platform tenant, one console client,
// one operator client and one active signing key per algorithm.
func TestServe_InstancesTogetherOnFreshPostgres_AllStartOneOperator(t *testing.T) {
	if testing.Short() {
		t.Skip("starts many servers")
	}
	dsn := pgtest.DSN(t)
	for round := range 3 {
		schema := pgtest.NewSchema(t, dsn)
		t.Run(fmt.Sprintf("round%d", round), func(t *testing.T) {
			startTogetherRound(t, dsn, schema)
		})
	}
}

var createdOperator = regexp.MustCompile(`client_id:\s+(\S+)\s+client_secret:\s+(\S+)`)

func startTogetherRound(t *testing.T, dsn, schema string) {
	db := dsn + "&search_path=" + schema
	secretFile := filepath.Join(t.TempDir(), "keyshift.secret")
	const issuer = "http://together.test"
	args := []string{"--db", db, "--secret-file", secretFile, "--issuer", issuer}

	initCmd := keyshiftCmd(t, append([]string{"init", "--json"}, args...)...)
	var initOut, initErr bytes.Buffer
	initCmd.Stdout, initCmd.Stderr = &initOut, &initErr
	if err := initCmd.Start(); err != nil {
		t.Fatal(err)
	}
	var serves []*child
	for range 3 {
		serves = append(serves, launchServe(t, args...))
	}
	initErrRun := initCmd.Wait()
	for i, c := range serves {
		if err := waitServing(c, 60*time.Second); err != nil {
			t.Fatalf("serve %d: %v\noutput:\n%s", i, err, c.output())
		}
	}

	type creds struct{ id, secret string }
	var made []creds
	if initErrRun == nil {
		var op map[string]string
		if err := json.Unmarshal(initOut.Bytes(), &op); err != nil || op["client_secret"] == "" {
			t.Fatalf("init succeeded but printed %q: %v", initOut.String(), err)
		}
		made = append(made, creds{op["client_id"], op["client_secret"]})
	} else if !strings.Contains(initErr.String(), "already initialised") {
		t.Errorf("init lost the race but said: %v\n%s", initErrRun, initErr.String())
	}
	for _, c := range serves {
		if m := createdOperator.FindStringSubmatch(c.output()); m != nil {
			made = append(made, creds{m[1], m[2]})
		}
	}
	if len(made) != 1 {
		t.Fatalf("%d processes created an operator client, want exactly 1 (init: %v %s)", len(made), initErrRun, initErr.String())
	}
	for i, c := range serves {
		mustToken(t, c.url(""), made[0].id, made[0].secret, "keyshift:admin")
		if n := len(jwksKids(t, c.url(""))); n == 0 {
			t.Errorf("serve %d publishes no signing key", i)
		}
	}

	direct := pgtest.OpenSchema(t, dsn, schema, postgres.Options{NoMigrate: true})
	ctx := context.Background()
	if _, err := direct.GetTenant(ctx, store.PlatformTenant); err != nil {
		t.Errorf("platform tenant: %v", err)
	}
	clients, err := direct.ListClients(ctx, store.PlatformTenant)
	if err != nil {
		t.Fatal(err)
	}
	consoles, operators := 0, 0
	for _, c := range clients {
		switch {
		case c.ID == admin.ConsoleClientID:
			consoles++
		case slices.Contains(c.Scopes, oauth.ScopeAdmin):
			operators++
		}
	}
	if consoles != 1 || operators != 1 {
		t.Errorf("%d console clients and %d operator clients, want 1 and 1", consoles, operators)
	}
	keys, err := direct.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]int{}
	for _, k := range keys {
		if k.State == store.KeyActive {
			active[k.Alg]++
		}
	}
	for alg, n := range active {
		if n != 1 {
			t.Errorf("%d active %s signing keys, want 1", n, alg)
		}
	}
}

// waitServing waits until c answers /readyz with 200, or fails early when
// the process exits.
func waitServing(c *child, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-c.done:
			return fmt.Errorf("exited before serving: %v", exitErr(c.cmd))
		default:
		}
		req, _ := http.NewRequest(http.MethodGet, c.url("/readyz"), nil)
		if code, _, err := do(req); err == nil && code == http.StatusOK {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("not ready after %s", limit)
}

func exitErr(cmd *exec.Cmd) error {
	if cmd.ProcessState == nil {
		return nil
	}
	if cmd.ProcessState.Success() {
		return nil
	}
	return fmt.Errorf("%s", cmd.ProcessState)
}
