package admincli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/store"
)

func newTenantsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "tenants", Short: "Manage tenants"}
	cmd.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List tenants", Args: cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				c, err := apiClient(cmd)
				if err != nil {
					return err
				}
				ts, err := c.ListTenants(cmd.Context())
				if err != nil {
					return err
				}
				return render(cmd, ts, func(tw *tabwriter.Writer) { tenantTable(tw, ts...) })
			},
		},
		newTenantCreateCmd(),
		&cobra.Command{
			Use: "show TENANT", Short: "Show a tenant", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := apiClient(cmd)
				if err != nil {
					return err
				}
				t, err := c.GetTenant(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return render(cmd, t, func(tw *tabwriter.Writer) { tenantTable(tw, t) })
			},
		},
		newTenantUpdateCmd(),
		newTenantDeleteCmd(),
	)
	return cmd
}

func tenantTable(tw *tabwriter.Writer, ts ...store.Tenant) {
	row(tw, "ID", "NAME", "STATUS", "CREATED")
	for _, t := range ts {
		row(tw, t.ID, t.Name, t.Status, fmtTime(t.CreatedAt))
	}
}

func newTenantCreateCmd() *cobra.Command {
	var name string
	cmd := &cobra.Command{
		Use: "create TENANT --name NAME", Short: "Create a tenant (operators)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			t, err := c.CreateTenant(cmd.Context(), admin.CreateTenantRequest{ID: args[0], Name: name})
			if err != nil {
				return err
			}
			return render(cmd, t, func(tw *tabwriter.Writer) { tenantTable(tw, t) })
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "display name")
	_ = cmd.MarkFlagRequired("name")
	return cmd
}

func newTenantUpdateCmd() *cobra.Command {
	var name, status string
	cmd := &cobra.Command{
		Use: "update TENANT [--name NAME] [--status active|disabled]", Short: "Rename, disable or enable a tenant (operators)",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req admin.UpdateTenantRequest
			if cmd.Flags().Changed("name") {
				req.Name = &name
			}
			if cmd.Flags().Changed("status") {
				req.Status = &status
			}
			if req.Name == nil && req.Status == nil {
				return fmt.Errorf("nothing to change: give --name or --status")
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			t, err := c.UpdateTenant(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return render(cmd, t, func(tw *tabwriter.Writer) { tenantTable(tw, t) })
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "new display name")
	cmd.Flags().StringVar(&status, "status", "", "active or disabled")
	return cmd
}

func newTenantDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "delete TENANT --yes", Short: "Delete a tenant and all its clients (operators)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireYes(cmd, "deleting tenant "+args[0]+" and everything it owns"); err != nil {
				return err
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteTenant(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "tenant %s deleted\n", args[0])
			return nil
		},
	}
	cmd.Flags().Bool("yes", false, "confirm the deletion")
	return cmd
}

func newScopesCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "scopes", Short: "Read and edit the scope catalogue"}
	cmd.AddCommand(&cobra.Command{
		Use: "list", Short: "List the scope catalogue", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			ss, err := c.ListScopes(cmd.Context())
			if err != nil {
				return err
			}
			return render(cmd, ss, func(tw *tabwriter.Writer) { scopeTable(tw, ss...) })
		},
	}, newScopeSetCmd())
	return cmd
}

func scopeTable(tw *tabwriter.Writer, ss ...store.Scope) {
	row(tw, "NAME", "PERMISSIONS", "BUILTIN", "DESCRIPTION")
	for _, s := range ss {
		row(tw, s.Name, orDash(strings.Join(s.Permissions, ",")), fmt.Sprint(s.Builtin), orDash(s.Description))
	}
}

func newScopeSetCmd() *cobra.Command {
	var req admin.PutScopeRequest
	cmd := &cobra.Command{
		Use:   "set NAME [--description TEXT] [--permission object:action ...]",
		Short: "Create or replace a scope (operators)",
		Long:  "Create or replace a scope. The permissions given replace the scope's permissions.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			s, err := c.PutScope(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return render(cmd, s, func(tw *tabwriter.Writer) { scopeTable(tw, s) })
		},
	}
	cmd.Flags().StringVar(&req.Description, "description", "", "what the scope allows")
	cmd.Flags().StringArrayVar(&req.Permissions, "permission", nil, "legacy key permission covered, object:action (repeatable)")
	return cmd
}
