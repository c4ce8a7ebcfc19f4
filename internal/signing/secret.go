package signing

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// MinSecretLen is the least number of bytes a master secret must have.
const MinSecretLen = 32

// LoadMasterSecret returns the server's master secret. A non-empty envValue
// (KEYSHIFT_SECRET) wins: it is taken as hex or base64 of at least 32 bytes,
// or else as a raw string of at least 32 characters. Otherwise the secret is
// read from the file at path, which is created (mode 0600, 32 random bytes in
// base64) when it does not exist. A file readable or writable by group or
// others is refused: the secret protects every signing key at rest.
//
// Errors never contain the secret or any part of it.
func LoadMasterSecret(envValue, path string) ([]byte, error) {
	if envValue != "" {
		secret, err := parseSecret(envValue)
		if err != nil {
			return nil, fmt.Errorf("master secret from environment: %w", err)
		}
		return secret, nil
	}
	if path == "" {
		return nil, errors.New("master secret: neither an environment value nor a file path given")
	}
	secret, err := readSecretFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createSecretFile(path)
	}
	return secret, err
}

// parseSecret decodes hex first (its alphabet is a subset of base64's, so a
// hex string must not be mistaken for base64), then the base64 variants, then
// falls back to the raw bytes.
func parseSecret(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if b, err := hex.DecodeString(v); err == nil && len(b) >= MinSecretLen {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{
		base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding,
	} {
		if b, err := enc.DecodeString(v); err == nil && len(b) >= MinSecretLen {
			return b, nil
		}
	}
	if len(v) >= MinSecretLen {
		return []byte(v), nil
	}
	return nil, fmt.Errorf("too short: need hex or base64 of at least %d bytes, or at least %d characters", MinSecretLen, MinSecretLen)
}

func readSecretFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("master secret file: %w", err)
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("master secret file %s: %w", path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("master secret file %s: not a regular file", path)
	}
	// Windows has no POSIX permission bits to check.
	if perm := info.Mode().Perm(); runtime.GOOS != "windows" && perm&0o077 != 0 {
		return nil, fmt.Errorf("master secret file %s: permissions %#o allow group or other access; run chmod 600 %s", path, perm, path)
	}
	// A secret file is tiny; the limit keeps a wrong path from being read whole.
	raw, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("master secret file %s: %w", path, err)
	}
	secret, err := parseSecret(string(raw))
	if err != nil {
		return nil, fmt.Errorf("master secret file %s: %w", path, err)
	}
	return secret, nil
}

// createSecretFile creates the secret file at path with a new secret, or
// returns the secret of the file another process created first. The file
// appears whole or not at all (written under a temporary name, then
// hard-linked into place, which fails if path exists), so processes
// starting together never read a half-written secret, and all of them end
// up with the one secret.
func createSecretFile(path string) ([]byte, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("master secret directory: %w", err)
	}
	secret := make([]byte, MinSecretLen)
	if _, err := rand.Read(secret); err != nil {
		return nil, fmt.Errorf("generate master secret: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*")
	if err != nil {
		return nil, fmt.Errorf("create master secret file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp)
	werr := f.Chmod(0o600)
	if werr == nil {
		_, werr = f.WriteString(base64.StdEncoding.EncodeToString(secret) + "\n")
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		return nil, fmt.Errorf("write master secret file %s: %w", path, err)
	}
	switch err := os.Link(tmp, path); {
	case err == nil:
		return secret, nil
	case errors.Is(err, fs.ErrExist):
		return readSecretFile(path) // another process was first: use theirs
	default:
		return nil, fmt.Errorf("create master secret file %s: %w", path, err)
	}
}
