package authz

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/safehttp"
	"github.com/keyshift/keyshift/internal/weburl"
)

// Limits of fetching clients' jwks_uri. The fetch happens while a token
// request waits, so it is short and bounded; keys are cached so that the
// steady state fetches nothing.
const (
	jwksFetchTimeout = 5 * time.Second
	jwksMaxBytes     = 64 << 10
	// jwksTTL is how long fetched keys are used before they are fetched again.
	jwksTTL = 5 * time.Minute
	// jwksMaxStale is how long keys stay usable while the URI fails.
	jwksMaxStale = time.Hour
	// jwksMinRefetch is the least time between two fetches of one URI: a
	// kid unknown in fresh keys refetches at most this often, and a failed
	// fetch is not retried sooner, so a client cannot make keyshift
	// hammer a URL.
	jwksMinRefetch = 30 * time.Second
	// jwksMaxEntries bounds the cache; past it, the oldest entry goes.
	jwksMaxEntries = 10_000
)

// jwksFetcher fetches and caches the key sets at clients' jwks_uri.
type jwksFetcher struct {
	client       *http.Client
	now          func() time.Time
	allowPrivate bool

	mu      sync.Mutex
	entries map[string]*jwksEntry
}

// jwksEntry is the cached key set of one URI. Its own lock serialises the
// fetches of that URI, so concurrent requests make one fetch.
type jwksEntry struct {
	mu          sync.Mutex
	keys        []jose.JSONWebKey
	fetchedAt   time.Time // of keys; zero before the first success
	lastAttempt time.Time
	lastErr     error
}

// newJWKSFetcher returns a fetcher. Its client is safehttp's: unless
// allowPrivate is set it refuses connections to loopback, private and other
// non-public addresses, which would let a tenant probe the platform's
// network (server-side request forgery), and it follows no redirect. Without
// allowPrivate, fetch also refuses http URLs.
func newJWKSFetcher(now func() time.Time, allowPrivate bool) *jwksFetcher {
	return &jwksFetcher{
		client:       safehttp.NewClient(safehttp.Config{Timeout: jwksFetchTimeout, AllowPrivate: allowPrivate}),
		now:          now,
		allowPrivate: allowPrivate,
		entries:      map[string]*jwksEntry{},
	}
}

// keys returns the key set at uri: cached while fresh, else fetched. With
// refresh set (a kid the cached set lacks), it fetches even fresh keys,
// unless the last fetch is under jwksMinRefetch old. When a fetch fails,
// keys fetched within jwksMaxStale are used rather than failing the
// client's requests. A failure is an errAssertion: it is the client's to fix.
func (f *jwksFetcher) keys(ctx context.Context, uri string, refresh bool) ([]jose.JSONWebKey, error) {
	e := f.entry(uri)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := f.now()
	fresh := !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < jwksTTL
	recent := !e.lastAttempt.IsZero() && now.Sub(e.lastAttempt) < jwksMinRefetch
	if (!fresh || refresh) && !recent {
		e.lastAttempt = now
		keys, err := f.fetch(ctx, uri)
		if err == nil {
			e.keys, e.fetchedAt, e.lastErr = keys, now, nil
			return keys, nil
		}
		e.lastErr = errAssertion("jwks_uri: " + err.Error())
	}
	if !e.fetchedAt.IsZero() && now.Sub(e.fetchedAt) < jwksMaxStale {
		return e.keys, nil
	}
	if e.lastErr != nil {
		return nil, e.lastErr
	}
	return nil, errAssertion("jwks_uri: keys too old and not refetched yet")
}

// entry returns the cache entry of uri, making room when the cache is full.
func (f *jwksFetcher) entry(uri string) *jwksEntry {
	f.mu.Lock()
	defer f.mu.Unlock()
	e := f.entries[uri]
	if e == nil {
		if len(f.entries) >= jwksMaxEntries {
			// Any entry will do: an evicted set is simply fetched again.
			for k := range f.entries {
				delete(f.entries, k)
				break
			}
		}
		e = &jwksEntry{}
		f.entries[uri] = e
	}
	return e
}

// fetch GETs uri and parses the key set it answers.
func (f *jwksFetcher) fetch(ctx context.Context, uri string) ([]jose.JSONWebKey, error) {
	u, err := weburl.CheckSecure(uri)
	if err != nil {
		return nil, fmt.Errorf("URL %w", err)
	}
	if u.Scheme != "https" && !f.allowPrivate {
		return nil, errors.New("URL must use https")
	}
	// The result is cached for every request waiting on it, so one
	// client hanging up must not cancel it; the timeout still bounds it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), jwksFetchTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch: HTTP status %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, jwksMaxBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read: %w", err)
	}
	if len(body) > jwksMaxBytes {
		return nil, fmt.Errorf("key set larger than %d bytes", jwksMaxBytes)
	}
	keys, err := parseJWKS(body)
	if err != nil {
		return nil, err
	}
	return keys, nil
}
