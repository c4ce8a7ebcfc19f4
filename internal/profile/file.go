package profile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Environment variables naming files.
const (
	// EnvFile names the profiles file, overriding the default location.
	EnvFile = "KEYSHIFT_PROFILES"
	// EnvLegacyAdmin and EnvLegacyIntegrations named the two files of
	// earlier releases; they are read only to migrate them.
	EnvLegacyAdmin        = "KEYSHIFT_CONFIG"
	EnvLegacyIntegrations = "KEYSHIFT_INTEGRATIONS"
)

// maxFileSize bounds what is read of a profiles file.
const maxFileSize = 1 << 20

// Location says where the profiles file is and, for the default location,
// which files of earlier releases to migrate into it.
type Location struct {
	Path string
	// LegacyAdmin and LegacyIntegrations are empty when Path was chosen
	// explicitly (a flag or $KEYSHIFT_PROFILES): a file named on purpose is
	// never filled from elsewhere.
	LegacyAdmin, LegacyIntegrations string
}

// Locate returns the profiles file's location: path when given, else
// $KEYSHIFT_PROFILES, else profiles.yaml in the user's configuration
// directory, next to where the earlier files lived.
func Locate(path string) (Location, error) {
	if path != "" {
		return Location{Path: path}, nil
	}
	if p := os.Getenv(EnvFile); p != "" {
		return Location{Path: p}, nil
	}
	base, err := os.UserConfigDir()
	if err != nil {
		return Location{}, fmt.Errorf("find the configuration directory (or set %s): %w", EnvFile, err)
	}
	dir := filepath.Join(base, "keyshift")
	loc := Location{Path: filepath.Join(dir, "profiles.yaml"),
		LegacyAdmin: filepath.Join(dir, "profiles.json"), LegacyIntegrations: filepath.Join(dir, "integrations.yaml")}
	if p := os.Getenv(EnvLegacyAdmin); p != "" {
		loc.LegacyAdmin = p
	}
	if p := os.Getenv(EnvLegacyIntegrations); p != "" {
		loc.LegacyIntegrations = p
	}
	return loc, nil
}

// Open locates the profiles file (see Locate), migrates the earlier files
// into it when it is missing, saying so in one line on notes, and loads it.
func Open(path string, notes io.Writer) (File, error) {
	loc, err := Locate(path)
	if err != nil {
		return File{}, err
	}
	msg, err := Migrate(loc)
	if err != nil {
		return File{}, err
	}
	if msg != "" {
		fmt.Fprintln(notes, msg)
	}
	return Load(loc.Path)
}

// Load reads the profiles file at path; a missing file is an empty one. A
// file that holds a secret inline and that group or others may read is
// refused.
func Load(path string) (File, error) {
	f := File{Path: path, Profiles: map[string]Profile{}}
	b, mode, err := readPrivate(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	parsed, err := Parse(b)
	if err != nil {
		return f, fmt.Errorf("profiles file %s: %w", path, err)
	}
	parsed.Path = path
	if perm := mode.Perm(); perm&0o077 != 0 && parsed.holdsSecret() {
		return f, errReadable(path, perm)
	}
	return parsed, nil
}

// readPrivate reads a file of at most maxFileSize bytes and its mode.
func readPrivate(path string) ([]byte, fs.FileMode, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, 0, err
		}
		return nil, 0, fmt.Errorf("open profiles file: %w", err)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil {
		return nil, 0, fmt.Errorf("stat profiles file %s: %w", path, err)
	}
	b, err := io.ReadAll(io.LimitReader(fh, maxFileSize))
	if err != nil {
		return nil, 0, fmt.Errorf("read profiles file %s: %w", path, err)
	}
	return b, fi.Mode(), nil
}

func errReadable(path string, perm fs.FileMode) error {
	return fmt.Errorf("profiles file %s has mode %04o and holds secrets; run: chmod 600 %s", path, perm, path)
}

// Save writes f to f.Path with mode 0600, atomically, creating its
// directory (0700) when missing.
func Save(f File) error {
	b, err := f.Encode()
	if err != nil {
		return err
	}
	return writePrivate(f.Path, b)
}

func writePrivate(path string, b []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create profiles directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".profiles-*.yaml")
	if err != nil {
		return fmt.Errorf("write profiles file %s: %w", path, err)
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles file %s: %w", path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write profiles file %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write profiles file %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write profiles file %s: %w", path, err)
	}
	return nil
}
