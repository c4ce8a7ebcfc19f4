package main

import "github.com/spf13/cobra"

// addAdminCommands is replaced by the admin verbs.
func addAdminCommands(root *cobra.Command) {}
