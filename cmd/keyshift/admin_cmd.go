package main

import (
	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin/admincli"
)

// addAdminCommands adds the admin verbs (profile, tenants, scopes, clients,
// signing-keys, audit). They live in internal/admin/admincli so they can be
// tested against a real admin API without the rest of this binary.
func addAdminCommands(root *cobra.Command) { admincli.AddCommands(root) }
