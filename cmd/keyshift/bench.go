package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"time"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/loadtest"
	"github.com/keyshift/keyshift/internal/oauth"
)

func newBenchCmd() *cobra.Command {
	var (
		opts          loadtest.Options
		serveBaseline string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Load-test the token endpoint on loopback next to a bare net/http + ES256 baseline",
		Long: `bench starts a baseline server (a bare net/http handler that parses the same form and
makes one ES256 signature per request) and a keyshift server with demo data, each as
its own process on 127.0.0.1, drives client_credentials requests over keep-alive
connections at each in turn, and prints tokens/s, p50 and p99 with keyshift's
throughput as a ratio of the baseline's.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if serveBaseline != "" {
				tuneGC() // the same collector setting as keyshift, for a like-for-like ratio
				srv := &http.Server{Addr: serveBaseline, Handler: loadtest.BaselineHandler(), ReadHeaderTimeout: 5 * time.Second}
				go func() { <-cmd.Context().Done(); _ = srv.Close() }()
				if err := srv.ListenAndServe(); !errors.Is(err, http.ErrServerClosed) {
					return err
				}
				return nil
			}
			return runBench(cmd.Context(), cmd.OutOrStdout(), opts)
		},
	}
	cmd.Flags().DurationVar(&opts.Duration, "duration", 10*time.Second, "how long to load each server")
	cmd.Flags().IntVar(&opts.Concurrency, "concurrency", 16, "concurrent keep-alive connections")
	cmd.Flags().StringVar(&serveBaseline, "serve-baseline", "", "internal: serve the baseline handler on this address")
	_ = cmd.Flags().MarkHidden("serve-baseline")
	return cmd
}

func runBench(ctx context.Context, out io.Writer, opts loadtest.Options) error {
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find own executable: %w", err)
	}
	dir, err := os.MkdirTemp("", "keyshift-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	baseAddr, err := freeAddr()
	if err != nil {
		return err
	}
	base := exec.CommandContext(ctx, self, "bench", "--serve-baseline", baseAddr)
	if err := base.Start(); err != nil {
		return fmt.Errorf("start baseline: %w", err)
	}
	defer stopProcess(base)

	ksAddr, err := freeAddr()
	if err != nil {
		return err
	}
	ks := exec.CommandContext(ctx, self, "serve", "--demo", "--db", filepath.Join(dir, "keyshift.db"),
		"--addr", ksAddr, "--log-level", "error")
	stdout, err := ks.StdoutPipe()
	if err != nil {
		return err
	}
	ks.Stderr = os.Stderr
	if err := ks.Start(); err != nil {
		return fmt.Errorf("start keyshift: %w", err)
	}
	defer stopProcess(ks)
	id, secret, err := demoCredentials(stdout)
	if err != nil {
		return err
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	if err := waitReady("http://"+ksAddr+"/readyz", 20*time.Second); err != nil {
		return err
	}
	if err := waitReady("http://"+baseAddr+"/", 10*time.Second); err != nil {
		return err
	}
	// A fresh keyshift generates the next signing key of every algorithm
	// (RSA among them) in the background just after it is ready; measure
	// the steady state, not that one-off.
	waitKeysSettled(ctx, "http://"+ksAddr+oauth.PathJWKS, 30*time.Second)

	fmt.Fprintf(out, "client_credentials on loopback, %d keep-alive connections, %s each in alternating 1 s rounds; load generator and servers share the machine\n", opts.Concurrency, opts.Duration)
	baseRes, ksRes, err := loadtest.Compare(ctx,
		loadtest.Target{TokenURL: "http://" + baseAddr + "/token", ClientID: id, ClientSecret: secret},
		loadtest.Target{TokenURL: "http://" + ksAddr + oauth.PathToken, ClientID: id, ClientSecret: secret}, opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "baseline (net/http + 1×ES256) %s\n", baseRes)
	fmt.Fprintf(out, "keyshift /oauth2/token       %s\n", ksRes)
	fmt.Fprintf(out, "keyshift / baseline: %.0f%% of baseline throughput\n", 100*ksRes.PerSecond/baseRes.PerSecond)
	return nil
}

var demoCurl = regexp.MustCompile(`curl -s -u '([^:']+):([^']+)'`)

// demoCredentials reads the demo client's credentials from serve --demo's output.
func demoCredentials(r io.Reader) (id, secret string, err error) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if m := demoCurl.FindStringSubmatch(sc.Text()); m != nil {
			return m[1], m[2], nil
		}
	}
	return "", "", errors.New("keyshift serve --demo printed no demo credentials")
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func waitReady(url string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode < 500 {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s not ready after %s", url, limit)
}

func stopProcess(c *exec.Cmd) {
	if c.Process == nil {
		return
	}
	_ = c.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = c.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = c.Process.Kill()
	}
}

// waitKeysSettled waits until the JWKS publishes a next key beside the
// active one for every algorithm (two keys per alg), or until limit.
func waitKeysSettled(ctx context.Context, url string, limit time.Duration) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		resp, err := http.Get(url)
		if err == nil {
			var set struct {
				Keys []struct {
					Alg string `json:"alg"`
				} `json:"keys"`
			}
			err = json.NewDecoder(resp.Body).Decode(&set)
			resp.Body.Close()
			perAlg := map[string]int{}
			for _, k := range set.Keys {
				perAlg[k.Alg]++
			}
			settled := err == nil && len(perAlg) > 0
			for _, n := range perAlg {
				settled = settled && n >= 2
			}
			if settled {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
}
