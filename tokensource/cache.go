package tokensource

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// cacheVersion is bumped when the file format changes; other versions are
// ignored (and overwritten), never misread.
const cacheVersion = 1

// cacheEntry is the cache file's content. The file holds a live token, so it
// is created 0600 in a 0700 directory.
type cacheEntry struct {
	Version     int       `json:"version"`
	Key         string    `json:"key"`
	AccessToken string    `json:"access_token"`
	TokenType   string    `json:"token_type"`
	IssuedAt    time.Time `json:"issued_at"`
	Expiry      time.Time `json:"expiry"`
	Scopes      []string  `json:"scopes"`
}

// cacheKey identifies what a cached token is good for: the same server,
// client, scopes and audience. A file written for anything else is ignored.
func (s *Source) cacheKey() string {
	scopes := slices.Clone(s.cfg.Scopes)
	slices.Sort(scopes)
	h := sha256.New()
	for _, part := range []string{s.cfg.TokenURL, s.cfg.Issuer, s.cfg.ClientID, strings.Join(scopes, " "), s.cfg.Audience, s.cfg.Resource} {
		fmt.Fprintf(h, "%d:%s;", len(part), part)
	}
	return hex.EncodeToString(h.Sum(nil))
}

type fileCache struct {
	path string
	key  string
}

// lock takes an exclusive lock on path+".lock" (a separate file, because
// the cache file itself is replaced by rename), polling until ctx ends.
func (c fileCache) lock(ctx context.Context) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(c.path), 0o700); err != nil {
		return nil, fmt.Errorf("create cache directory: %w", err)
	}
	f, err := os.OpenFile(c.path+".lock", os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open cache lock: %w", err)
	}
	for {
		ok, err := tryLock(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		if ok {
			return func() { _ = unlock(f); f.Close() }, nil
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// read returns the cached token, or nil when there is none for this key.
func (c fileCache) read() (*Token, error) {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cache: %w", err)
	}
	var e cacheEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return nil, fmt.Errorf("decode cache: %w", scrub(err))
	}
	if e.Version != cacheVersion || e.Key != c.key || e.AccessToken == "" || !e.Expiry.After(e.IssuedAt) {
		return nil, nil
	}
	return &Token{AccessToken: e.AccessToken, TokenType: tokenTypeBearer, IssuedAt: e.IssuedAt, Expiry: e.Expiry,
		Scopes: e.Scopes, FromCache: true}, nil
}

// write replaces the cache file atomically: a reader sees the old token or
// the new one, never half of one.
func (c fileCache) write(t *Token) error {
	b, err := json.Marshal(cacheEntry{Version: cacheVersion, Key: c.key, AccessToken: t.AccessToken,
		TokenType: t.TokenType, IssuedAt: t.IssuedAt, Expiry: t.Expiry, Scopes: t.Scopes})
	if err != nil {
		return fmt.Errorf("encode cache: %w", err)
	}
	return WriteFileAtomic(c.path, b)
}

// WriteFileAtomic writes data to path with mode 0600 through a temporary file
// in the same directory and a rename, so readers never see a partial file.
// The directory is created 0700 when missing.
func WriteFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create directory: %w", err)
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("create temporary file: %w", err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return fmt.Errorf("chmod temporary file: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write temporary file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("sync temporary file: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close temporary file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("replace %s: %w", filepath.Base(path), err)
	}
	return nil
}
