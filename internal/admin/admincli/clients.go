package admincli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/store"
)

func newClientsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "clients", Short: "Manage a tenant's OAuth clients"}
	cmd.AddCommand(
		&cobra.Command{
			Use: "list TENANT", Short: "List a tenant's clients", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := apiClient(cmd)
				if err != nil {
					return err
				}
				cs, err := c.ListClients(cmd.Context(), args[0])
				if err != nil {
					return err
				}
				return render(cmd, cs, func(tw *tabwriter.Writer) { clientTable(tw, cs...) })
			},
		},
		newClientCreateCmd(),
		&cobra.Command{
			Use: "show TENANT CLIENT_ID", Short: "Show a client", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := apiClient(cmd)
				if err != nil {
					return err
				}
				cl, err := c.GetClient(cmd.Context(), args[0], args[1])
				if err != nil {
					return err
				}
				return render(cmd, cl, func(tw *tabwriter.Writer) { clientDetail(tw, cl) })
			},
		},
		newClientUpdateCmd(),
		newClientStatusCmd("disable", store.StatusDisabled, "Disable a client: its tokens stop working at once"),
		newClientStatusCmd("enable", store.StatusActive, "Enable a disabled client"),
		newClientRotateCmd(),
		newClientDeleteCmd(),
	)
	return cmd
}

func clientTable(tw *tabwriter.Writer, cs ...admin.ClientView) {
	row(tw, "CLIENT ID", "NAME", "STATUS", "SCOPES", "LOGIN", "SECRETS")
	for _, c := range cs {
		row(tw, c.ClientID, c.Name, c.Status, strings.Join(c.Scopes, ","), orDash(c.Contact.Login), strconv.Itoa(len(c.Secrets)))
	}
}

func clientDetail(tw *tabwriter.Writer, c admin.ClientView) {
	contact := strings.TrimSpace(c.Contact.FirstName + " " + c.Contact.LastName)
	if c.Contact.Email != "" {
		contact = strings.TrimSpace(contact + " <" + c.Contact.Email + ">")
	}
	for _, kv := range [][2]string{
		{"client_id", c.ClientID}, {"tenant", c.Tenant}, {"name", c.Name}, {"status", c.Status},
		{"scopes", strings.Join(c.Scopes, " ")}, {"grant_types", strings.Join(c.GrantTypes, " ")},
		{"token_endpoint_auth_method", c.AuthMethod},
		{"access_token_ttl", (time.Duration(c.AccessTokenTTLSeconds) * time.Second).String()},
		{"redirect_uris", orDash(strings.Join(c.RedirectURIs, " "))},
		{"post_logout_redirect_uris", orDash(strings.Join(c.PostLogoutRedirectURIs, " "))},
		{"jwks_uri", orDash(c.JWKSURI)}, {"jwks", jwksSummary(c.JWKS)},
		{"id_token_signed_response_alg", orDash(c.IDTokenAlg)},
		{"login", orDash(c.Contact.Login)}, {"contact", orDash(contact)},
		{"created_at", fmtTime(c.CreatedAt)}, {"updated_at", fmtTime(c.UpdatedAt)},
	} {
		row(tw, kv[0]+":", kv[1])
	}
	for _, s := range c.Secrets {
		row(tw, "secret:", fmt.Sprintf("%s …%s created %s expires %s", s.ID, s.Hint, fmtTime(s.CreatedAt), fmtTimePtr(s.ExpiresAt)))
	}
}

// clientFlags are the editable client fields shared by create and update.
type clientFlags struct {
	name, login, email, firstName, lastName, authMethod, ttl string
	jwksFile, jwksURI, idTokenAlg                            string
	scopes, redirectURIs, grantTypes, postLogoutURIs         []string
}

func (f *clientFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.name, "name", "", "client name")
	fs.StringArrayVar(&f.scopes, "scope", nil, "scope to grant (repeatable; on update, replaces the list)")
	fs.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect URI (repeatable; on update, replaces the list)")
	fs.StringVar(&f.login, "login", "", "contact login, unique in the tenant")
	fs.StringVar(&f.email, "email", "", "contact email")
	fs.StringVar(&f.firstName, "first-name", "", "contact first name")
	fs.StringVar(&f.lastName, "last-name", "", "contact last name")
	fs.StringVar(&f.authMethod, "auth-method", "", "client_secret_basic (default), client_secret_post, private_key_jwt or none (a public app)")
	fs.StringVar(&f.ttl, "ttl", "", "access token lifetime: seconds or a duration such as 1h (5m to 24h; default 24h)")
	fs.StringArrayVar(&f.grantTypes, "grant-type", nil, "grant type: client_credentials (default), authorization_code, refresh_token or urn:ietf:params:oauth:grant-type:device_code (repeatable; on update, replaces the list)")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "file holding the client's public JWK Set, for private_key_jwt (- for stdin)")
	fs.StringVar(&f.jwksURI, "jwks-uri", "", "https URL of the client's public JWK Set, for private_key_jwt")
	fs.StringVar(&f.idTokenAlg, "id-token-alg", "", "ID token signing algorithm: RS256 (default), ES256 or EdDSA")
	fs.StringArrayVar(&f.postLogoutURIs, "post-logout-redirect-uri", nil, "where sign-out may return to (repeatable; on update, replaces the list)")
}

// readJWKS reads --jwks-file, bounded, and checks it is JSON so a wrong
// file fails here with the file's name rather than as a server problem.
func readJWKS(cmd *cobra.Command, path string) (json.RawMessage, error) {
	var r io.Reader
	if path == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("--jwks-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	const limit = 64 << 10
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, fmt.Errorf("--jwks-file %s: %w", path, err)
	}
	if len(b) > limit {
		return nil, fmt.Errorf("--jwks-file %s: larger than %d bytes", path, limit)
	}
	if !json.Valid(b) {
		return nil, fmt.Errorf("--jwks-file %s: not valid JSON", path)
	}
	return json.RawMessage(b), nil
}

// parseTTL reads --ttl as seconds or a Go duration.
func parseTTL(s string) (int, error) {
	if n, err := strconv.Atoi(s); err == nil {
		return n, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d%time.Second != 0 {
		return 0, fmt.Errorf("--ttl %q: give whole seconds or a duration such as 1h", s)
	}
	return int(d / time.Second), nil
}

func newClientCreateCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "create TENANT --name NAME --scope SCOPE ...",
		Short: "Create a client; its secret is printed once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := admin.CreateClientRequest{
				Name: f.name, Scopes: f.scopes, RedirectURIs: f.redirectURIs, AuthMethod: f.authMethod,
				Contact:    store.Contact{Login: f.login, Email: f.email, FirstName: f.firstName, LastName: f.lastName},
				GrantTypes: f.grantTypes, JWKSURI: f.jwksURI, IDTokenAlg: f.idTokenAlg,
				PostLogoutRedirectURIs: f.postLogoutURIs,
			}
			if f.jwksFile != "" {
				jwks, err := readJWKS(cmd, f.jwksFile)
				if err != nil {
					return err
				}
				req.JWKS = jwks
			}
			if f.ttl != "" {
				n, err := parseTTL(f.ttl)
				if err != nil {
					return err
				}
				req.AccessTokenTTLSeconds = n
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			resp, err := c.CreateClient(cmd.Context(), args[0], req)
			if err != nil {
				return err
			}
			if resp.ClientSecret != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "The client secret is shown only now: store it safely.")
			}
			return render(cmd, resp, func(tw *tabwriter.Writer) {
				row(tw, "client_id:", resp.ClientID)
				if resp.ClientSecret != "" {
					row(tw, "client_secret:", resp.ClientSecret)
				}
				row(tw, "token_endpoint_auth_method:", resp.AuthMethod)
				row(tw, "scopes:", strings.Join(resp.Scopes, " "))
			})
		},
	}
	f.register(cmd.Flags())
	_ = cmd.MarkFlagRequired("name")
	_ = cmd.MarkFlagRequired("scope")
	return cmd
}

func newClientUpdateCmd() *cobra.Command {
	var f clientFlags
	cmd := &cobra.Command{
		Use:   "update TENANT CLIENT_ID [flags]",
		Short: "Change a client's name, scopes, contact, grant types, auth method, keys, token lifetime or redirect URIs",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req, err := f.updateRequest(cmd)
			if err != nil {
				return err
			}
			return updateClient(cmd, args[0], args[1], req)
		},
	}
	f.register(cmd.Flags())
	return cmd
}

// updateRequest sets only the fields whose flags were given.
func (f *clientFlags) updateRequest(cmd *cobra.Command) (admin.UpdateClientRequest, error) {
	fs := cmd.Flags()
	var req admin.UpdateClientRequest
	str := func(flag string, v *string) *string {
		if fs.Changed(flag) {
			return v
		}
		return nil
	}
	req.Name = str("name", &f.name)
	req.AuthMethod = str("auth-method", &f.authMethod)
	req.JWKSURI = str("jwks-uri", &f.jwksURI)
	req.IDTokenAlg = str("id-token-alg", &f.idTokenAlg)
	if fs.Changed("grant-type") {
		req.GrantTypes = &f.grantTypes
	}
	if fs.Changed("post-logout-redirect-uri") {
		req.PostLogoutRedirectURIs = &f.postLogoutURIs
	}
	if fs.Changed("jwks-file") {
		jwks, err := readJWKS(cmd, f.jwksFile)
		if err != nil {
			return req, err
		}
		req.JWKS = &jwks
	}
	if fs.Changed("scope") {
		req.Scopes = &f.scopes
	}
	if fs.Changed("redirect-uri") {
		req.RedirectURIs = &f.redirectURIs
	}
	contact := admin.ContactPatch{
		Login: str("login", &f.login), Email: str("email", &f.email),
		FirstName: str("first-name", &f.firstName), LastName: str("last-name", &f.lastName),
	}
	if contact != (admin.ContactPatch{}) {
		req.Contact = &contact
	}
	if fs.Changed("ttl") {
		n, err := parseTTL(f.ttl)
		if err != nil {
			return req, err
		}
		req.AccessTokenTTLSeconds = &n
	}
	if req == (admin.UpdateClientRequest{}) {
		return req, fmt.Errorf("nothing to change: give at least one flag")
	}
	return req, nil
}

func updateClient(cmd *cobra.Command, tenant, id string, req admin.UpdateClientRequest) error {
	c, err := apiClient(cmd)
	if err != nil {
		return err
	}
	cl, err := c.UpdateClient(cmd.Context(), tenant, id, req)
	if err != nil {
		return err
	}
	return render(cmd, cl, func(tw *tabwriter.Writer) { clientTable(tw, cl) })
}

func newClientStatusCmd(verb, status, short string) *cobra.Command {
	return &cobra.Command{
		Use: verb + " TENANT CLIENT_ID", Short: short, Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := status
			return updateClient(cmd, args[0], args[1], admin.UpdateClientRequest{Status: &s})
		},
	}
}

func newClientRotateCmd() *cobra.Command {
	var prev string
	var revoke bool
	cmd := &cobra.Command{
		Use:   "rotate-secret TENANT CLIENT_ID [--previous-expires-at TIME|DURATION | --revoke-previous]",
		Short: "Give a client a new secret; the current one keeps working until --previous-expires-at (default 24h)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			req := admin.RotateSecretRequest{RevokePrevious: revoke}
			if prev != "" {
				t, err := parseWhen(prev, time.Now())
				if err != nil {
					return err
				}
				req.PreviousExpiresAt = &t
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			resp, err := c.RotateClientSecret(cmd.Context(), args[0], args[1], req)
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.ErrOrStderr(), "The new client secret is shown only now: store it safely.")
			return render(cmd, resp, func(tw *tabwriter.Writer) {
				row(tw, "client_id:", resp.ClientID)
				row(tw, "client_secret:", resp.ClientSecret)
				row(tw, "previous_expires_at:", fmtTimePtr(resp.PreviousExpiresAt))
			})
		},
	}
	cmd.Flags().StringVar(&prev, "previous-expires-at", "", "when the current secret stops working: RFC 3339 time or a duration from now such as 48h (at most 30 days)")
	cmd.Flags().BoolVar(&revoke, "revoke-previous", false, "stop the current secret at once (it leaked)")
	cmd.MarkFlagsMutuallyExclusive("previous-expires-at", "revoke-previous")
	return cmd
}

// parseWhen reads an RFC 3339 time or a duration from now.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d).UTC().Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither an RFC 3339 time nor a duration such as 48h", s)
}

func newClientDeleteCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use: "delete TENANT CLIENT_ID --yes", Short: "Delete a client", Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := requireYes(cmd, "deleting client "+args[1]); err != nil {
				return err
			}
			c, err := apiClient(cmd)
			if err != nil {
				return err
			}
			if err := c.DeleteClient(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "client %s deleted\n", args[1])
			return nil
		},
	}
	cmd.Flags().Bool("yes", false, "confirm the deletion")
	return cmd
}

// jwksSummary describes a registered key set by its kids.
func jwksSummary(raw json.RawMessage) string {
	var set struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
		} `json:"keys"`
	}
	if len(raw) == 0 || json.Unmarshal(raw, &set) != nil {
		return "-"
	}
	parts := make([]string, 0, len(set.Keys))
	for _, k := range set.Keys {
		parts = append(parts, k.Kty+" "+orDash(k.Kid))
	}
	return fmt.Sprintf("%d key(s): %s", len(set.Keys), strings.Join(parts, ", "))
}
