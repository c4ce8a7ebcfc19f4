package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMain lets tests run this very binary as `keyshift …` in a child
// process (re-exec), so process-level behaviour — start-up, SIGKILL,
// restart — is tested on the real program without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("KEYSHIFT_TEST_RUN_MAIN") == "1" {
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// keyshiftCmd prepares `keyshift args…` as a child process.
func keyshiftCmd(t *testing.T, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KEYSHIFT_TEST_RUN_MAIN=1", "KEYSHIFT_SECRET=", "KEYSHIFT_DB=")
	return cmd
}

// child is a running keyshift serve process.
type child struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	out  strings.Builder
	done chan struct{}
}

func startServe(t *testing.T, args ...string) *child {
	t.Helper()
	c := launchServe(t, args...)
	if err := waitReady("http://"+c.addr+"/readyz", 30*time.Second); err != nil {
		t.Fatalf("%v\noutput:\n%s", err, c.output())
	}
	return c
}

// launchServe starts `keyshift serve` without waiting for it to be ready.
func launchServe(t *testing.T, args ...string) *child {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{addr: addr, done: make(chan struct{})}
	c.cmd = keyshiftCmd(t, append([]string{"serve", "--addr", addr, "--log-level", "warn"}, args...)...)
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c.cmd.Stderr = c.cmd.Stdout
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		defer close(c.done)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			c.mu.Lock()
			c.out.WriteString(sc.Text() + "\n")
			c.mu.Unlock()
		}
		_ = c.cmd.Wait()
	}()
	t.Cleanup(func() { c.stop() })
	return c
}

func (c *child) output() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.out.String()
}

func (c *child) stop() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Signal(os.Interrupt)
		select {
		case <-c.done:
		case <-time.After(10 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

func (c *child) kill() {
	_ = c.cmd.Process.Kill()
	<-c.done
}

func (c *child) url(path string) string { return "http://" + c.addr + path }

// initStore runs `keyshift init --json` and returns the operator credentials.
func initStore(t *testing.T, db string) (id, secret string) {
	t.Helper()
	out, err := keyshiftCmd(t, "init", "--db", db, "--json").Output()
	if err != nil {
		t.Fatalf("keyshift init: %v", err)
	}
	var creds map[string]string
	if err := json.Unmarshal(out, &creds); err != nil {
		t.Fatalf("init --json printed %q: %v", out, err)
	}
	if creds["client_id"] == "" || !strings.HasPrefix(creds["client_secret"], "kss_") || creds["issuer"] == "" {
		t.Fatalf("init --json printed %q", out)
	}
	return creds["client_id"], creds["client_secret"]
}

func postJSON(ctx context.Context, hc *http.Client, url, token string, body any) (int, []byte, error) {
	b, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(string(b)))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("read answer: %w", err)
	}
	return resp.StatusCode, data, nil
}
