package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// maxJWKSBytes bounds a key set document.
const maxJWKSBytes = 1 << 20

// errUnknownKey is returned for a kid the key set does not have, even after
// a refetch.
var errUnknownKey = errors.New("unknown signing key")

// keyMap is one fetched key set: verification keys by kid.
type keyMap struct {
	keys      map[string]*jose.JSONWebKey
	fetchedAt time.Time
	etag      string
}

// keySource serves verification keys by kid from a fixed set or from a JWKS
// URL. A URL's set is fetched on first use, refetched when a token names a
// kid it lacks (a rotation: keyshift publishes a key before signing with
// it) and when older than maxAge; fetches are at least minRefresh apart, so
// tokens with made-up kids cannot make the guard hammer the issuer.
type keySource struct {
	src        KeySetSource
	url        string
	client     *http.Client
	minRefresh time.Duration
	maxAge     time.Duration
	now        func() time.Time
	log        *slog.Logger

	cur         atomic.Pointer[keyMap]
	mu          sync.Mutex // serialises fetches; guards lastAttempt
	lastAttempt time.Time
}

func newStaticKeys(set *jose.JSONWebKeySet, now func() time.Time) (*keySource, error) {
	m, err := buildKeyMap(set, now())
	if err != nil {
		return nil, err
	}
	if len(m.keys) == 0 {
		return nil, errors.New("key set has no usable signing key")
	}
	s := &keySource{now: now}
	s.cur.Store(m)
	return s, nil
}

// KeySetSource supplies the issuer's JSON Web Key Set in process, for a
// guard running inside the authorization server; keyshift's signing keyring
// implements it. The entity tag must change whenever the set does.
type KeySetSource interface {
	JWKS() (body []byte, etag string)
}

// key returns the verification key named kid.
func (s *keySource) key(ctx context.Context, kid string) (*jose.JSONWebKey, error) {
	if s.src != nil {
		return s.fromSource(kid)
	}
	m := s.cur.Load()
	if s.url == "" {
		if k := m.keys[kid]; k != nil {
			return k, nil
		}
		return nil, errUnknownKey
	}
	if m != nil {
		if k := m.keys[kid]; k != nil {
			if s.now().Sub(m.fetchedAt) > s.maxAge {
				s.refresh(ctx, m) // best effort: the known key still works
			}
			return k, nil
		}
	}
	m, err := s.refresh(ctx, m)
	if m == nil {
		return nil, fmt.Errorf("fetch key set: %w", err)
	}
	if k := m.keys[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

// fromSource returns kid from the in-process key set, reparsed whenever its
// entity tag changes (a cheap comparison, made only on first verifications).
func (s *keySource) fromSource(kid string) (*jose.JSONWebKey, error) {
	body, etag := s.src.JWKS()
	m := s.cur.Load()
	if m == nil || etag != m.etag || etag == "" {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(body, &set); err != nil {
			return nil, fmt.Errorf("key set: %w", err)
		}
		nm, err := buildKeyMap(&set, s.now())
		if err != nil {
			return nil, err
		}
		nm.etag = etag
		s.cur.Store(nm)
		m = nm
	}
	if k := m.keys[kid]; k != nil {
		return k, nil
	}
	return nil, errUnknownKey
}

// refresh fetches the key set unless another goroutine did since seen was
// loaded or the last attempt is too recent. It returns the current set.
func (s *keySource) refresh(ctx context.Context, seen *keyMap) (*keyMap, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur := s.cur.Load(); cur != seen {
		return cur, nil // refreshed while we waited
	}
	now := s.now()
	if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.minRefresh {
		return seen, errors.New("refetch rate-limited")
	}
	s.lastAttempt = now
	m, err := s.fetch(ctx, seen, now)
	if err != nil {
		s.log.Warn("guard: fetching the JWKS failed", "url", s.url, "err", err)
		return seen, err
	}
	s.cur.Store(m)
	return m, nil
}

// fetch GETs the key set, revalidating with the previous entity tag.
func (s *keySource) fetch(ctx context.Context, prev *keyMap, now time.Time) (*keyMap, error) {
	// A client hanging up must not fail the fetch: the attempt counts
	// against the rate limit for everyone.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, fmt.Errorf("jwks request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	if prev != nil && prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("jwks get: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified && prev != nil {
		return &keyMap{keys: prev.keys, fetchedAt: now, etag: prev.etag}, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks get: status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, fmt.Errorf("jwks read: %w", err)
	}
	if len(body) > maxJWKSBytes {
		return nil, errors.New("jwks larger than 1 MiB")
	}
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("jwks decode: %w", err)
	}
	m, err := buildKeyMap(&set, now)
	if err != nil {
		return nil, err
	}
	m.etag = resp.Header.Get("ETag")
	return m, nil
}

// buildKeyMap keeps the set's public signature keys of the allowed
// algorithms that have a kid.
func buildKeyMap(set *jose.JSONWebKeySet, now time.Time) (*keyMap, error) {
	m := &keyMap{keys: make(map[string]*jose.JSONWebKey, len(set.Keys)), fetchedAt: now}
	for i := range set.Keys {
		k := set.Keys[i]
		if k.KeyID == "" || (k.Use != "" && k.Use != "sig") || !k.Valid() {
			continue
		}
		if !k.IsPublic() {
			pub := k.Public()
			if !pub.Valid() {
				continue
			}
			k = pub
		}
		if k.Algorithm != "" && !allowedAlg(k.Algorithm) {
			continue
		}
		if _, dup := m.keys[k.KeyID]; dup {
			return nil, fmt.Errorf("key set has two keys with kid %q", k.KeyID)
		}
		m.keys[k.KeyID] = &k
	}
	return m, nil
}
