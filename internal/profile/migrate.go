package profile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
)

// legacyAdminFile is the admin CLI's profiles.json of earlier releases.
type legacyAdminFile struct {
	Profiles map[string]struct {
		URL          string `json:"url"`
		ClientID     string `json:"client_id"`
		ClientSecret string `json:"client_secret"`
	} `json:"profiles"`
}

// Migrate writes the profiles file at loc.Path from the files of earlier
// releases (the admin CLI's JSON profiles and the integrations' YAML
// profiles) when it is missing and one of them exists. The old files are
// kept untouched, so an older keyshift binary still works, but are no longer
// read. A name found in both keeps both profiles, suffixed "-admin" and
// "-integration". It returns the one line to tell the user, or "" when
// there was nothing to do; a second run does nothing.
func Migrate(loc Location) (string, error) {
	if loc.LegacyAdmin == "" && loc.LegacyIntegrations == "" {
		return "", nil
	}
	if _, err := os.Stat(loc.Path); !errors.Is(err, fs.ErrNotExist) {
		if err != nil {
			return "", fmt.Errorf("stat profiles file: %w", err)
		}
		return "", nil
	}
	admin, haveAdmin, err := readLegacyAdmin(loc.LegacyAdmin)
	if err != nil {
		return "", fmt.Errorf("migrate profiles: %w", err)
	}
	integ, haveInteg, err := readLegacyIntegrations(loc.LegacyIntegrations)
	if err != nil {
		return "", fmt.Errorf("migrate profiles: %w", err)
	}
	if !haveAdmin && !haveInteg {
		return "", nil
	}
	merged, renames := merge(admin, integ)
	merged.Path = loc.Path
	if err := Save(merged); err != nil {
		return "", fmt.Errorf("migrate profiles: %w (or set %s to the file to use)", err, EnvFile)
	}
	var from []string
	if haveAdmin {
		from = append(from, loc.LegacyAdmin)
	}
	if haveInteg {
		from = append(from, loc.LegacyIntegrations)
	}
	msg := fmt.Sprintf("keyshift: profiles migrated to %s from %s (old files kept, no longer read)", loc.Path, strings.Join(from, " and "))
	if len(renames) > 0 {
		msg += "; renamed: " + strings.Join(renames, ", ")
	}
	if _, ok := admin["default"]; ok && integ.Default != "" && merged.Default != "default" {
		msg += fmt.Sprintf("; admin verbs without --profile now use the file's default %q", merged.Default)
	}
	return msg, nil
}

// readLegacyAdmin reads profiles.json, refusing it when group or others
// may read it, as earlier releases did.
func readLegacyAdmin(path string) (map[string]Profile, bool, error) {
	if path == "" {
		return nil, false, nil
	}
	b, mode, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	if perm := mode.Perm(); perm&0o077 != 0 {
		return nil, false, errReadable(path, perm)
	}
	var old legacyAdminFile
	if err := json.Unmarshal(b, &old); err != nil {
		return nil, false, fmt.Errorf("read admin profiles %s: %w", path, err)
	}
	out := make(map[string]Profile, len(old.Profiles))
	for name, p := range old.Profiles {
		out[name] = Profile{Issuer: strings.TrimRight(p.URL, "/"), ClientID: p.ClientID, ClientSecret: p.ClientSecret}
	}
	return out, true, nil
}

// readLegacyIntegrations reads integrations.yaml, whose format the
// profiles file extends.
func readLegacyIntegrations(path string) (File, bool, error) {
	if path == "" {
		return File{}, false, nil
	}
	b, _, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, false, err
	}
	f, err := Parse(b)
	if err != nil {
		return File{}, false, fmt.Errorf("integrations file %s: %w", path, err)
	}
	return f, true, nil
}

// merge joins the two old sets of profiles. Names in one set only are kept
// (an admin name that cannot name a file is made safe); a name in both
// gets a suffix on each side, so neither profile silently stands in for
// the other. Renames are returned as "old → new".
func merge(admin map[string]Profile, integ File) (File, []string) {
	out := File{Profiles: map[string]Profile{}}
	var renames []string
	place := func(want, orig string, p Profile) string {
		name := want
		for i := 2; ; i++ {
			if _, taken := out.Profiles[name]; !taken {
				break
			}
			name = fmt.Sprintf("%s-%d", want, i)
		}
		out.Profiles[name] = p
		if name != orig {
			renames = append(renames, fmt.Sprintf("%q → %q", orig, name))
		}
		return name
	}
	adminNames := sortedKeys(admin)
	both := map[string]bool{}
	for _, n := range adminNames {
		if _, ok := integ.Profiles[SafeName(n)]; ok {
			both[SafeName(n)] = true
		}
	}
	// Names without a collision first, so a suffixed name never takes one.
	for _, n := range integ.Names() {
		if !both[n] {
			place(n, n, integ.Profiles[n])
		}
	}
	for _, n := range adminNames {
		if !both[SafeName(n)] {
			place(SafeName(n), n, admin[n])
		}
	}
	defaultName := integ.Default
	for _, n := range integ.Names() {
		if both[n] {
			if got := place(n+"-integration", n, integ.Profiles[n]); n == integ.Default {
				defaultName = got
			}
		}
	}
	for _, n := range adminNames {
		if both[SafeName(n)] {
			place(SafeName(n)+"-admin", n, admin[n])
		}
	}
	out.Default = defaultName
	return out, renames
}

func sortedKeys(m map[string]Profile) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
