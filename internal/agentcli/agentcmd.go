package agentcli

import (
	"fmt"
	"net"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/agent"
)

// DefaultListen is the agent's default proxy address: loopback only, the
// proxy adds credentials to whatever reaches it.
const DefaultListen = "127.0.0.1:8181"

func newAgentCmd() *cobra.Command {
	var (
		pf                         profileFlags
		listen, upstream, tokenOut string
		strip                      []string
		replayLimit                int64
	)
	cmd := &cobra.Command{
		Use:   "agent [--profile P] [--upstream URL] [--listen ADDR] [--token-file PATH]",
		Short: "Run the token sidecar: keep the token fresh, write it to a file, proxy the API with it",
		Long: `Run the token sidecar for an integration. It keeps the profile's token fresh
(refresh at 20 h of a 24 h token), writes it atomically to --token-file for
tools that read one, and serves a proxy on --listen (loopback) that sends every
request to --upstream with "Authorization: Bearer <token>" added and the legacy
API key header removed. An integration migrates by changing its base URL to
http://` + DefaultListen + `.

When the API answers 401 (the token was revoked), the agent drops the token,
mints a new one, rewrites --token-file and sends the request again — requests
with a body of up to --replay-body-limit bytes included. A larger or streaming
request gets the 401, and the next request the new token.

Health: GET ` + agent.HealthPath + `   Metrics: GET ` + agent.MetricsPath,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, p, err := pf.resolve()
			if err != nil {
				return err
			}
			cfg, err := p.tokenConfig(name)
			if err != nil {
				return fmt.Errorf("profile %q: %w", name, err)
			}
			log := logger(cmd.ErrOrStderr(), true)
			first := func(vals ...string) string {
				for _, v := range vals {
					if v != "" {
						return v
					}
				}
				return ""
			}
			if len(strip) == 0 {
				strip = []string{first(p.LegacyHeader, agent.DefaultLegacyHeader)}
			}
			a, err := agent.New(agent.Config{Token: cfg, Upstream: first(upstream, p.API), TokenFile: first(tokenOut, p.TokenFile),
				StripHeaders: agent.NormalizeHeaders(strip), ReplayBodyLimit: replayLimit, Logger: log})
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", first(listen, p.Listen, DefaultListen))
			if err != nil {
				return fmt.Errorf("agent: listen: %w", err)
			}
			if ap, ok := ln.Addr().(*net.TCPAddr); ok && !ap.IP.IsLoopback() {
				log.Warn("agent: the proxy listens beyond loopback: anyone who reaches it calls the API with this client's token",
					"addr", ln.Addr().String())
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			return a.Run(ctx, ln)
		},
	}
	pf.register(cmd)
	fl := cmd.Flags()
	fl.StringVar(&listen, "listen", "", "proxy listen address (default the profile's listen, else "+DefaultListen+")")
	fl.StringVar(&upstream, "upstream", "", "API base URL to proxy to (default the profile's api)")
	fl.StringVar(&tokenOut, "token-file", "", "write the current token to this file (default the profile's token_file)")
	fl.StringArrayVar(&strip, "strip-header", nil, "request header to remove, repeatable (default the profile's legacy_header, else X-API-Key)")
	fl.Int64Var(&replayLimit, "replay-body-limit", agent.DefaultReplayBodyLimit,
		"largest request body in bytes kept in memory to resend a request after a 401 with a new token; -1 keeps none")
	return cmd
}
