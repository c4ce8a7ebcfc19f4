package admincli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/admin/adminclient"
	"github.com/keyshift/keyshift/internal/password"
	"github.com/keyshift/keyshift/internal/store"
)

func newUsersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "users",
		Short: "Manage a tenant's users (people who sign in)",
		Long: "Manage a tenant's users. USER is a user id (usr_…) or a login.\n" +
			"Passwords are never given as arguments: pass one with --password-stdin, or\n" +
			"let keyshift generate one, which is printed once.",
	}
	cmd.PersistentFlags().Bool("json", false, "print JSON (same as -o json)")
	cmd.AddCommand(
		&cobra.Command{
			Use: "list TENANT", Short: "List a tenant's users", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := usersClient(cmd)
				if err != nil {
					return err
				}
				us, err := c.ListUsers(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return render(cmd, us, func(tw *tabwriter.Writer) { userTable(tw, us...) })
			},
		},
		newUserCreateCmd(),
		&cobra.Command{
			Use: "get TENANT USER", Aliases: []string{"show"}, Short: "Show a user", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := usersClient(cmd)
				if err != nil {
					return err
				}
				u, err := resolveUser(cmd, c, args[0], args[1])
				if err != nil {
					return err
				}
				return render(cmd, u, func(tw *tabwriter.Writer) { userDetail(tw, u) })
			},
		},
		newUserUpdateCmd(),
		newUserDisabledCmd("disable", true, "Disable a user: they can no longer sign in"),
		newUserDisabledCmd("enable", false, "Enable a disabled user"),
		newUserResetPasswordCmd(),
		newUserDeleteCmd(),
	)
	return cmd
}

// usersClient applies --json and returns the API client.
func usersClient(cmd *cobra.Command) (*adminclient.Client, error) {
	if asJSON, _ := cmd.Flags().GetBool("json"); asJSON {
		if err := cmd.Flags().Set("output", "json"); err != nil {
			return nil, err
		}
	}
	return apiClient(cmd)
}

// resolveUser finds a user by id or, failing that, by login (ignoring
// case, as the server compares logins).
func resolveUser(cmd *cobra.Command, c *adminclient.Client, tenant, ref string) (admin.UserView, error) {
	if strings.HasPrefix(ref, "usr_") {
		u, err := c.GetUser(cmd.Context(), tenant, ref)
		var p *admin.Problem
		if err == nil || !errors.As(err, &p) || p.Status != 404 {
			return u, err
		}
	}
	us, err := c.ListUsers(cmd.Context(), tenant)
	if err != nil {
		return admin.UserView{}, err
	}
	for _, u := range us {
		if strings.EqualFold(u.Login, ref) {
			return u, nil
		}
	}
	return admin.UserView{}, fmt.Errorf("no user %q in tenant %s", ref, tenant)
}

func userTable(tw *tabwriter.Writer, us ...admin.UserView) {
	row(tw, "ID", "LOGIN", "NAME", "EMAIL", "ROLES", "STATUS", "PASSWORD CHANGED")
	for _, u := range us {
		row(tw, u.ID, u.Login, orDash(u.Name), orDash(u.Email), orDash(strings.Join(u.Roles, ",")), userStatus(u), fmtTimePtr(u.PasswordChangedAt))
	}
}

func userDetail(tw *tabwriter.Writer, u admin.UserView) {
	for _, kv := range [][2]string{
		{"id", u.ID}, {"tenant", u.Tenant}, {"login", u.Login}, {"name", orDash(u.Name)}, {"email", orDash(u.Email)},
		{"roles", orDash(strings.Join(u.Roles, " "))}, {"status", userStatus(u)},
		{"password_changed_at", fmtTimePtr(u.PasswordChangedAt)},
		{"created_at", fmtTime(u.CreatedAt)}, {"updated_at", fmtTime(u.UpdatedAt)},
	} {
		row(tw, kv[0]+":", kv[1])
	}
}

func userStatus(u admin.UserView) string {
	if u.Disabled {
		return store.StatusDisabled
	}
	return store.StatusActive
}

// readPassword reads one line from standard input; only the line ending is
// removed, since spaces may be part of a passphrase.
func readPassword(cmd *cobra.Command) (string, error) {
	line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), password.MaxBytes+2)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password from stdin: %w", err)
	}
	if !strings.HasSuffix(line, "\n") && len(line) > password.MaxBytes {
		return "", fmt.Errorf("the password on stdin is longer than %d bytes", password.MaxBytes)
	}
	line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
	if line == "" {
		return "", errors.New("--password-stdin: standard input holds no password")
	}
	return line, nil
}

// printWithPassword prints a user and, when the server generated one, the
// password with a warning that it is shown only now.
func printWithPassword(cmd *cobra.Command, u admin.UserWithPassword) error {
	if u.Password != "" {
		fmt.Fprintln(cmd.ErrOrStderr(), "The password is shown only now: give it to the user safely.")
	}
	return render(cmd, u, func(tw *tabwriter.Writer) {
		userDetail(tw, u.UserView)
		if u.Password != "" {
			row(tw, "password:", u.Password)
		}
	})
}

func newUserCreateCmd() *cobra.Command {
	var req admin.CreateUserRequest
	var fromStdin, isAdmin bool
	cmd := &cobra.Command{
		Use:   "create TENANT --login LOGIN [--email E] [--name N] [--admin] [--password-stdin]",
		Short: "Create a user; without --password-stdin a password is generated and printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if fromStdin {
				pw, err := readPassword(cmd)
				if err != nil {
					return err
				}
				req.Password = &pw
			}
			if isAdmin {
				req.Roles = []string{store.RoleAdmin}
			}
			c, err := usersClient(cmd)
			if err != nil {
				return err
			}
			u, err := c.CreateUser(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return printWithPassword(cmd, u)
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Login, "login", "", "login, unique in the tenant ignoring case")
	f.StringVar(&req.Email, "email", "", "email address")
	f.StringVar(&req.Name, "name", "", "display name")
	f.BoolVar(&isAdmin, "admin", false, "make the user an admin of the tenant")
	f.BoolVar(&fromStdin, "password-stdin", false, "read the password from standard input (one line)")
	_ = cmd.MarkFlagRequired("login")
	return cmd
}

func newUserUpdateCmd() *cobra.Command {
	var email, name string
	var isAdmin bool
	cmd := &cobra.Command{
		Use:   "update TENANT USER [--email E] [--name N] [--admin=true|false]",
		Short: "Change a user's email, name or admin role",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req admin.UpdateUserRequest
			fs := cmd.Flags()
			if fs.Changed("email") {
				req.Email = &email
			}
			if fs.Changed("name") {
				req.Name = &name
			}
			if fs.Changed("admin") {
				roles := []string{}
				if isAdmin {
					roles = []string{store.RoleAdmin}
				}
				req.Roles = &roles
			}
			if req == (admin.UpdateUserRequest{}) {
				return errors.New("nothing to change: give --email, --name or --admin")
			}
			return updateUser(cmd, args[0], args[1], req)
		},
	}
	cmd.Flags().StringVar(&email, "email", "", "new email address (empty to clear)")
	cmd.Flags().StringVar(&name, "name", "", "new display name (empty to clear)")
	cmd.Flags().BoolVar(&isAdmin, "admin", false, "make the user an admin of the tenant, or not (--admin=false)")
	return cmd
}

func updateUser(cmd *cobra.Command, tenant, ref string, req admin.UpdateUserRequest) error {
	c, err := usersClient(cmd)
	if err != nil {
		return err
	}
	u, err := resolveUser(cmd, c, tenant, ref)
	if err != nil {
		return err
	}
	u, err = c.UpdateUser(cmd.Context(), tenant, u.ID, req)
	if err != nil {
		return err
	}
	return render(cmd, u, func(tw *tabwriter.Writer) { userTable(tw, u) })
}

func newUserDisabledCmd(verb string, disabled bool, short string) *cobra.Command {
	return &cobra.Command{
		Use: verb + " TENANT USER", Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			d := disabled
			return updateUser(cmd, args[0], args[1], admin.UpdateUserRequest{Disabled: &d})
		},
	}
}

func newUserResetPasswordCmd() *cobra.Command {
	var fromStdin bool
	cmd := &cobra.Command{
		Use:   "reset-password TENANT USER [--password-stdin]",
		Short: "Set a user's password; without --password-stdin one is generated and printed once",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			var req admin.SetPasswordRequest
			if fromStdin {
				pw, err := readPassword(cmd)
				if err != nil {
					return err
				}
				req.Password = &pw
			}
			c, err := usersClient(cmd)
			if err != nil {
				return err
			}
			u, err := resolveUser(cmd, c, args[0], args[1])
			if err != nil {
				return err
			}
			resp, err := c.SetUserPassword(cmd.Context(), args[0], u.ID, req)
			if err != nil {
				return err
			}
			return printWithPassword(cmd, resp)
		},
	}
	cmd.Flags().BoolVar(&fromStdin, "password-stdin", false, "read the new password from standard input (one line)")
	return cmd
}

func newUserDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "delete TENANT USER --yes", Short: "Delete a user", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireYes(cmd, "deleting user "+args[1]); err != nil {
				return err
			}
			c, err := usersClient(cmd)
			if err != nil {
				return err
			}
			u, err := resolveUser(cmd, c, args[0], args[1])
			if err != nil {
				return err
			}
			if err := c.DeleteUser(cmd.Context(), args[0], u.ID); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "user %s (%s) deleted\n", u.Login, u.ID)
			return nil
		},
	}
	cmd.Flags().Bool("yes", false, "confirm the deletion")
	return cmd
}
