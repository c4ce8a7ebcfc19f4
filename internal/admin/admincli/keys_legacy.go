package admincli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/progress"
	"github.com/keyshift/keyshift/internal/store"
)

func newKeysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage a tenant's legacy API keys"}
	cmd.AddCommand(newKeysListCmd(), newKeysShowCmd(), newKeysCreateCmd(),
		newKeyStatusCmd("disable", store.StatusDisabled, "Disable a key: it is refused at once (reversible)"),
		newKeyStatusCmd("enable", store.StatusActive, "Enable a disabled key"),
		newKeyStatusCmd("revoke", store.StatusRevoked, "Revoke a key for good"),
		newKeysImportCmd(), newKeysConvertCmd())
	return cmd
}

func newKeysListCmd() *cobra.Command {
	return &cobra.Command{
		Use: "list TENANT", Short: "List a tenant's keys with their usage", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			var all []admin.KeyView
			q := admin.KeyQuery{}
			for {
				page, err := c.ListKeys(cmd.Context(), args[0], q)
				if err != nil {
					return err
				}
				all = append(all, page.Keys...)
				if page.NextAfter == "" {
					break
				}
				q.After = page.NextAfter
			}
			if all == nil {
				all = []admin.KeyView{}
			}
			return render(cmd, all, func(tw *tabwriter.Writer) { keyTable(tw, all...) })
		},
	}
}

func keyTable(tw *tabwriter.Writer, ks ...admin.KeyView) {
	row(tw, "ID", "NAME", "OWNER", "STATUS", "PERMISSIONS", "LAST USED", "1D", "7D", "30D", "CLIENT")
	for _, k := range ks {
		perms := strings.Join(k.Permissions, ",")
		if perms == "" {
			perms = "(all APIs)"
		}
		row(tw, k.ID, k.Name, k.Owner, k.Status, perms, fmtTimePtr(k.LastUsedAt), itoa64(k.Usage.Requests1d),
			itoa64(k.Usage.Requests7d), itoa64(k.Usage.Requests30d), orDash(k.ConvertedToClient))
	}
}

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

func keyDetail(tw *tabwriter.Writer, k admin.KeyView) {
	perms := strings.Join(k.Permissions, " ")
	if perms == "" {
		perms = "(all APIs)"
	}
	for _, kv := range [][2]string{
		{"id", k.ID}, {"tenant", k.Tenant}, {"name", k.Name}, {"owner", k.Owner}, {"purpose", orDash(k.Purpose)},
		{"status", k.Status}, {"permissions", perms}, {"hint", orDash(k.Hint)}, {"login", orDash(k.Contact.Login)},
		{"expires_at", fmtTimePtr(k.ExpiresAt)}, {"last_used_at", fmtTimePtr(k.LastUsedAt)},
		{"requests 1d/7d/30d", fmt.Sprintf("%d/%d/%d", k.Usage.Requests1d, k.Usage.Requests7d, k.Usage.Requests30d)},
		{"converted_to_client", orDash(k.ConvertedToClient)}, {"disable_at", fmtTimePtr(k.DisableAt)},
		{"created_at", fmtTime(k.CreatedAt)},
	} {
		row(tw, kv[0]+":", kv[1])
	}
}

func newKeysShowCmd() *cobra.Command {
	return &cobra.Command{
		Use: "show TENANT KEY_ID", Short: "Show a key", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			k, err := c.GetKey(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return render(cmd, k, func(tw *tabwriter.Writer) { keyDetail(tw, k) })
		},
	}
}

func newKeysCreateCmd() *cobra.Command {
	var req admin.CreateKeyRequest
	cmd := &cobra.Command{
		Use: "create TENANT --name NAME", Short: "Create a key (shown once)", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			k, err := c.CreateKey(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			return render(cmd, k, func(tw *tabwriter.Writer) {
				keyDetail(tw, k.KeyView)
				row(tw, "key:", k.Key)
				row(tw, "", "(store the key now: it is not shown again)")
			})
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Name, "name", "", "name of the key")
	f.StringVar(&req.Description, "description", "", "what the key is for")
	f.StringSliceVar(&req.Permissions, "permission", nil, "permission object:action (repeatable; none = all APIs)")
	f.StringVar(&req.ExpiresAt, "expires", "", "expiry date (YYYY-MM-DD, midnight UTC)")
	f.StringVar(&req.Owner, "owner", "tenant", "owner: tenant or platform (operators)")
	f.StringVar(&req.Purpose, "purpose", "", "purpose of a platform key, e.g. sftp-loader")
	f.StringVar(&req.Contact.Login, "login", "", "contact login (unique among the tenant's keys)")
	f.StringVar(&req.Contact.Email, "email", "", "contact e-mail")
	f.StringVar(&req.Contact.FirstName, "first-name", "", "contact first name")
	f.StringVar(&req.Contact.LastName, "last-name", "", "contact last name")
	return cmd
}

func newKeyStatusCmd(verb, status, short string) *cobra.Command {
	cmd := &cobra.Command{
		Use: verb + " TENANT KEY_ID", Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if status == store.StatusRevoked {
				if err := requireYes(cmd, "revoking a key"); err != nil {
					return err
				}
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			k, err := c.UpdateKey(cmd.Context(), args[0], args[1], admin.UpdateKeyRequest{Status: &status})
			if err != nil {
				return err
			}
			return render(cmd, k, func(tw *tabwriter.Writer) { keyTable(tw, k) })
		},
	}
	if status == store.StatusRevoked {
		cmd.Flags().Bool("yes", false, "confirm")
	}
	return cmd
}

func newKeysConvertCmd() *cobra.Command {
	var req admin.ConvertKeyRequest
	cmd := &cobra.Command{
		Use:   "convert TENANT KEY_ID",
		Short: "Create an OAuth client with the key's rights (its secret is shown once)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			out, err := c.ConvertKey(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			return render(cmd, out, func(tw *tabwriter.Writer) {
				row(tw, "client_id:", out.ClientID)
				row(tw, "client_secret:", out.ClientSecret)
				row(tw, "scopes:", strings.Join(out.Scopes, " "))
				row(tw, "unmapped_permissions:", orDash(strings.Join(out.UnmappedPermissions, " ")))
				row(tw, "disable_key_at:", fmtTimePtr(out.DisableKeyAt))
				row(tw, "", "(store the secret now: it is not shown again)")
			})
		},
	}
	cmd.Flags().StringVar(&req.DisableKeyAt, "disable-key-at", "", "disable the key automatically at this date or RFC 3339 time")
	return cmd
}

func newKeysImportCmd() *cobra.Command {
	var format string
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "import TENANT FILE",
		Short: "Import keys from JSON lines or CSV (plain keys or key_sha256); idempotent",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := importFileFormat(args[1], format)
			if err != nil {
				return err
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			file, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer file.Close()
			var size int64 = -1
			if fi, err := file.Stat(); err == nil && fi.Mode().IsRegular() {
				size = fi.Size()
			}
			bar := progress.Bytes(cmd.ErrOrStderr(), "sending "+filepath.Base(args[1]), size,
				func() { fmt.Fprintln(cmd.ErrOrStderr()) })
			res, err := c.ImportKeys(cmd.Context(), args[0], io.TeeReader(file, bar), f, dryRun)
			_ = bar.Finish()
			if err != nil {
				return err
			}
			if err := render(cmd, res, func(tw *tabwriter.Writer) { importTable(tw, res) }); err != nil {
				return err
			}
			if res.Failed > 0 {
				return fmt.Errorf("%d row(s) refused", res.Failed)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "", "jsonl or csv (default: from the file name, else jsonl)")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check every row and count what would change, store nothing")
	return cmd
}

func importFileFormat(path, flag string) (apikey.ImportFormat, error) {
	switch flag {
	case "jsonl", "ndjson":
		return apikey.ImportJSONL, nil
	case "csv":
		return apikey.ImportCSV, nil
	case "":
		if strings.EqualFold(filepath.Ext(path), ".csv") {
			return apikey.ImportCSV, nil
		}
		return apikey.ImportJSONL, nil
	}
	return "", fmt.Errorf("unknown format %q: use jsonl or csv", flag)
}

func importTable(tw *tabwriter.Writer, res admin.ImportResult) {
	mode := ""
	if res.DryRun {
		mode = " (dry run: nothing stored)"
	}
	row(tw, fmt.Sprintf("created %d, updated %d, unchanged %d, refused %d%s",
		res.Created, res.Updated, res.Unchanged, res.Failed, mode))
	if len(res.Errors) == 0 {
		return
	}
	row(tw, "LINE", "FIELD", "PROBLEM")
	for _, e := range res.Errors {
		row(tw, strconv.Itoa(e.Line), orDash(e.Field), e.Message)
	}
	if res.ErrorsTotal > len(res.Errors) {
		row(tw, fmt.Sprintf("… and %d more", res.ErrorsTotal-len(res.Errors)))
	}
}
