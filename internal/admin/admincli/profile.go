package admincli

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// Environment variables the CLI reads.
const (
	EnvConfig       = "KEYSHIFT_CONFIG"        // profiles file path
	EnvProfile      = "KEYSHIFT_PROFILE"       // profile name
	EnvURL          = "KEYSHIFT_URL"           // overrides the profile's url
	EnvClientID     = "KEYSHIFT_CLIENT_ID"     // overrides the profile's client_id
	EnvClientSecret = "KEYSHIFT_CLIENT_SECRET" // overrides the profile's client_secret
)

// Profile is one set of admin credentials.
type Profile struct {
	URL          string `json:"url"`
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
}

// Profiles is the content of the profiles file.
type Profiles struct {
	Profiles map[string]Profile `json:"profiles"`
}

// ProfilesPath returns $KEYSHIFT_CONFIG, or profiles.json in the user's
// configuration directory (~/.config/keyshift on Linux).
func ProfilesPath() (string, error) {
	if p := os.Getenv(EnvConfig); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("find the configuration directory (set %s): %w", EnvConfig, err)
	}
	return filepath.Join(dir, "keyshift", "profiles.json"), nil
}

// LoadProfiles reads the profiles file. A missing file is an empty set; a
// file that group or others may read is refused, since it holds secrets.
func LoadProfiles(path string) (Profiles, error) {
	ps := Profiles{Profiles: map[string]Profile{}}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return ps, nil
	}
	if err != nil {
		return ps, fmt.Errorf("open profiles: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return ps, fmt.Errorf("stat profiles: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return ps, fmt.Errorf("profiles file %s has mode %04o and holds secrets; run: chmod 600 %s", path, perm, path)
	}
	if err := json.NewDecoder(io.LimitReader(f, 1<<20)).Decode(&ps); err != nil {
		return ps, fmt.Errorf("read profiles %s: %w", path, err)
	}
	if ps.Profiles == nil {
		ps.Profiles = map[string]Profile{}
	}
	return ps, nil
}

// SaveProfiles writes the profiles file with mode 0600, atomically.
func SaveProfiles(path string, ps Profiles) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create profiles directory: %w", err)
	}
	b, err := json.MarshalIndent(ps, "", "  ")
	if err != nil {
		return fmt.Errorf("encode profiles: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".profiles-*.json")
	if err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles: %w", err)
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write profiles: %w", err)
	}
	return nil
}

// resolveProfile returns the named profile with environment overrides.
func resolveProfile(name string) (Profile, error) {
	path, err := ProfilesPath()
	if err != nil {
		return Profile{}, err
	}
	ps, err := LoadProfiles(path)
	if err != nil {
		return Profile{}, err
	}
	p, found := ps.Profiles[name]
	for env, dst := range map[string]*string{EnvURL: &p.URL, EnvClientID: &p.ClientID, EnvClientSecret: &p.ClientSecret} {
		if v := os.Getenv(env); v != "" {
			*dst = v
		}
	}
	if p.URL == "" || p.ClientID == "" || p.ClientSecret == "" {
		if !found {
			return Profile{}, fmt.Errorf("no profile %q in %s; create it with: keyshift profile set %s --url URL --client-id ID --client-secret-stdin", name, path, name)
		}
		return Profile{}, fmt.Errorf("profile %q in %s lacks url, client_id or client_secret", name, path)
	}
	return p, nil
}

func newProfileCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "profile", Short: "Manage the admin API credentials the CLI uses"}
	cmd.AddCommand(newProfileSetCmd(), newProfileListCmd(), newProfileDeleteCmd())
	return cmd
}

func newProfileSetCmd() *cobra.Command {
	var p Profile
	var secretFile string
	var secretStdin bool
	cmd := &cobra.Command{
		Use:   "set NAME",
		Short: "Create or replace a profile (stored with mode 0600)",
		Long: "Create or replace a profile. Prefer --client-secret-file or --client-secret-stdin:\n" +
			"a secret given as a flag is visible to other users in the process list.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := readSecret(cmd, p.ClientSecret, secretFile, secretStdin)
			if err != nil {
				return err
			}
			p.ClientSecret = secret
			p.URL = strings.TrimRight(p.URL, "/")
			if p.URL == "" || p.ClientID == "" {
				return errors.New("--url and --client-id are required")
			}
			path, err := ProfilesPath()
			if err != nil {
				return err
			}
			ps, err := LoadProfiles(path)
			if err != nil {
				return err
			}
			ps.Profiles[args[0]] = p
			if err := SaveProfiles(path, ps); err != nil {
				return err
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "profile %q saved in %s\n", args[0], path)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&p.URL, "url", "", "keyshift base URL (the issuer), e.g. https://auth.example.com")
	f.StringVar(&p.ClientID, "client-id", "", "client id of a client with keyshift:admin or keyshift:tenant-admin")
	f.StringVar(&p.ClientSecret, "client-secret", "", "client secret (visible in the process list; prefer the two flags below)")
	f.StringVar(&secretFile, "client-secret-file", "", "read the client secret from this file")
	f.BoolVar(&secretStdin, "client-secret-stdin", false, "read the client secret from standard input")
	cmd.MarkFlagsMutuallyExclusive("client-secret", "client-secret-file", "client-secret-stdin")
	return cmd
}

// readSecret takes the secret from exactly one of its three sources.
func readSecret(cmd *cobra.Command, flagValue, file string, stdin bool) (string, error) {
	var s string
	switch {
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("read client secret: %w", err)
		}
		s = string(b)
	case stdin:
		line, err := bufio.NewReader(io.LimitReader(cmd.InOrStdin(), 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read client secret from stdin: %w", err)
		}
		s = line
	default:
		s = flagValue
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return "", errors.New("a client secret is required: --client-secret-stdin, --client-secret-file or --client-secret")
	}
	return s, nil
}

func newProfileListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List profiles (never their secrets)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path, err := ProfilesPath()
			if err != nil {
				return err
			}
			ps, err := LoadProfiles(path)
			if err != nil {
				return err
			}
			names := make([]string, 0, len(ps.Profiles))
			for n := range ps.Profiles {
				names = append(names, n)
			}
			sort.Strings(names)
			if outputFormat(cmd) == "json" {
				type row struct {
					Name     string `json:"name"`
					URL      string `json:"url"`
					ClientID string `json:"client_id"`
				}
				rows := []row{}
				for _, n := range names {
					rows = append(rows, row{n, ps.Profiles[n].URL, ps.Profiles[n].ClientID})
				}
				return writeJSON(cmd.OutOrStdout(), rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tURL\tCLIENT ID")
			for _, n := range names {
				fmt.Fprintf(tw, "%s\t%s\t%s\n", n, ps.Profiles[n].URL, ps.Profiles[n].ClientID)
			}
			return tw.Flush()
		},
	}
}

func newProfileDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a profile",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path, err := ProfilesPath()
			if err != nil {
				return err
			}
			ps, err := LoadProfiles(path)
			if err != nil {
				return err
			}
			if _, ok := ps.Profiles[args[0]]; !ok {
				return fmt.Errorf("no profile %q in %s", args[0], path)
			}
			delete(ps.Profiles, args[0])
			return SaveProfiles(path, ps)
		},
	}
}
