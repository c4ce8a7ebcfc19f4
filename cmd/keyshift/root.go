package main

import (
	"os"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/agentcli"
)

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "keyshift",
		Short:         "Move API integrations from static keys to OAuth 2.0 / OpenID Connect",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(newServeCmd(), newInitCmd(), newBenchCmd(), newMigrateCmd(), newStoreCmd(), newGatewayCmd())
	addAdminCommands(root)
	agentcli.AddCommands(root)
	return root
}

// envOr returns the environment variable's value, or def when it is unset.
func envOr(name, def string) string {
	if v, ok := os.LookupEnv(name); ok && v != "" {
		return v
	}
	return def
}
