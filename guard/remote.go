package guard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Token type hints sent to the introspection endpoint (RFC 7662 §2.1), and
// the token_type keyshift answers for a legacy key. They mirror
// internal/oauth's, which a public package may not import (DESIGN.md).
const (
	tokenTypeHintAccessToken = "access_token"
	tokenTypeHintAPIKey      = "api_key"
)

// Defaults of RemoteConfig.
const (
	DefaultRemoteCacheTTL = 30 * time.Second
	DefaultRemoteEntries  = 10000
)

// RemoteConfig configures a Remote key checker.
type RemoteConfig struct {
	// IntrospectURL is keyshift's introspection endpoint, e.g.
	// Issuer + "/oauth2/introspect".
	IntrospectURL string
	// ClientID and ClientSecret authenticate the guard to the endpoint
	// (client_secret_basic); the client must belong to the keys' tenant or
	// be a platform operator client.
	ClientID     string
	ClientSecret string
	// CacheTTL is how long an answer is reused; default 30 s. A disabled
	// key keeps working at most this long.
	CacheTTL time.Duration
	// NegativeTTL is how long a refusal is reused; default CacheTTL.
	NegativeTTL time.Duration
	// MaxEntries bounds the cache; default 10000.
	MaxEntries int
	// HTTPClient calls the endpoint; default a client with a 5 s timeout.
	HTTPClient *http.Client
	Now        func() time.Time
}

// Remote is a KeyChecker asking a keyshift server about keys by token
// introspection with token_type_hint=api_key (RFC 7662), caching answers
// briefly by the SHA-256 of the key, refusals included, and making one call
// for concurrent requests with the same key.
type Remote struct {
	cfg      RemoteConfig
	perShard int
	shards   [cacheShards]remoteShard

	flightMu sync.Mutex
	flight   map[[32]byte]*remoteCall
}

type remoteShard struct {
	mu sync.RWMutex
	m  map[[32]byte]remoteEntry
}

type remoteEntry struct {
	res             KeyResult
	stored, expires time.Time
}

type remoteCall struct {
	done chan struct{}
	res  KeyResult
	err  error
}

// RemoteKeys returns a Remote asking introspectURL as clientID, caching
// answers for cacheTTL (0 for the default).
func RemoteKeys(introspectURL, clientID, secret string, cacheTTL time.Duration) *Remote {
	return NewRemote(RemoteConfig{IntrospectURL: introspectURL, ClientID: clientID, ClientSecret: secret, CacheTTL: cacheTTL})
}

// NewRemote returns a Remote for cfg.
func NewRemote(cfg RemoteConfig) *Remote {
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = DefaultRemoteCacheTTL
	}
	if cfg.NegativeTTL <= 0 {
		cfg.NegativeTTL = cfg.CacheTTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = DefaultRemoteEntries
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 5 * time.Second}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Remote{cfg: cfg, perShard: max(cfg.MaxEntries/cacheShards, 1), flight: map[[32]byte]*remoteCall{}}
	for i := range r.shards {
		r.shards[i].m = map[[32]byte]remoteEntry{}
	}
	return r
}

// CheckKey implements KeyChecker.
func (r *Remote) CheckKey(ctx context.Context, key string, req RequestInfo) (KeyResult, error) {
	h := hashToken(key)
	now := req.Now
	if now.IsZero() {
		now = r.cfg.Now()
	}
	s := &r.shards[shardIndex(&h)]
	s.mu.RLock()
	e, ok := s.m[h]
	s.mu.RUnlock()
	// An entry from the future (a clock set back) is stale too.
	if ok && now.Before(e.expires) && !now.Before(e.stored) {
		return e.res, nil
	}
	return r.lookup(ctx, key, &h, now)
}

func shardIndex(h *[32]byte) uint32 {
	return (uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16 | uint32(h[3])<<24) % cacheShards
}

// lookup asks the server, once for all concurrent callers with this key.
func (r *Remote) lookup(ctx context.Context, key string, h *[32]byte, now time.Time) (KeyResult, error) {
	r.flightMu.Lock()
	if c := r.flight[*h]; c != nil {
		r.flightMu.Unlock()
		select {
		case <-c.done:
			return c.res, c.err
		case <-ctx.Done():
			return KeyResult{}, ctx.Err()
		}
	}
	c := &remoteCall{done: make(chan struct{})}
	r.flight[*h] = c
	r.flightMu.Unlock()

	// The call outlives a cancelled first caller: others may be waiting.
	c.res, c.err = r.introspect(context.WithoutCancel(ctx), key)
	if c.err == nil {
		c.res = c.res.Prepare()
		r.store(h, c.res, now)
	}
	r.flightMu.Lock()
	delete(r.flight, *h)
	r.flightMu.Unlock()
	close(c.done)
	return c.res, c.err
}

// store caches res until its TTL or, for an accepted key, its sunset,
// whichever comes first.
func (r *Remote) store(h *[32]byte, res KeyResult, now time.Time) {
	exp := now.Add(r.cfg.NegativeTTL)
	if res.Active {
		exp = now.Add(r.cfg.CacheTTL)
		if !res.Sunset.IsZero() && res.Sunset.After(now) && res.Sunset.Before(exp) {
			exp = res.Sunset
		}
	}
	s := &r.shards[shardIndex(h)]
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= r.perShard {
		for k, e := range s.m {
			if !now.Before(e.expires) {
				delete(s.m, k)
			}
		}
		for k := range s.m {
			if len(s.m) < r.perShard {
				break
			}
			delete(s.m, k)
		}
	}
	s.m[*h] = remoteEntry{res: res, stored: now, expires: exp}
}

// keyIntrospection is the answer of keyshift's introspection of a key.
type keyIntrospection struct {
	Active      bool     `json:"active"`
	TokenType   string   `json:"token_type"`
	Tenant      string   `json:"tenant"`
	KeyID       string   `json:"key_id"`
	Permissions []string `json:"permissions"`
	Scope       string   `json:"scope"`
	Decision    string   `json:"decision"`
	Description string   `json:"decision_description"`
	Deprecation flexTime `json:"deprecation"`
	Sunset      flexTime `json:"sunset"`
	Guide       string   `json:"migration_guide_url"`
}

// introspect asks the endpoint about key. Errors never contain the key.
func (r *Remote) introspect(ctx context.Context, key string) (KeyResult, error) {
	var in keyIntrospection
	if err := r.post(ctx, key, tokenTypeHintAPIKey, &in); err != nil {
		return KeyResult{}, fmt.Errorf("key introspection: %w", err)
	}
	return in.result(), nil
}

// IntrospectToken implements TokenIntrospector: it asks the endpoint
// whether an access token is still active (not revoked, client and tenant
// still enabled).
func (r *Remote) IntrospectToken(ctx context.Context, token string) (bool, error) {
	var in struct {
		Active    bool   `json:"active"`
		TokenType string `json:"token_type"`
	}
	if err := r.post(ctx, token, tokenTypeHintAccessToken, &in); err != nil {
		return false, fmt.Errorf("token introspection: %w", err)
	}
	return in.Active && in.TokenType != tokenTypeHintAPIKey, nil
}

// post sends an introspection request (RFC 7662 §2.1) and decodes the
// answer into out.
func (r *Remote) post(ctx context.Context, token, hint string, out any) error {
	form := url.Values{"token": {token}, "token_type_hint": {hint}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.cfg.IntrospectURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("request: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	// RFC 6749 §2.3.1: form-encode the credentials before Basic.
	req.SetBasicAuth(url.QueryEscape(r.cfg.ClientID), url.QueryEscape(r.cfg.ClientSecret))
	resp, err := r.cfg.HTTPClient.Do(req)
	if err != nil {
		return redactURLError(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	return nil
}

// result converts an answer to a KeyResult. An active answer about
// something other than a key (a token sent in the key header) is an
// unknown key.
func (in *keyIntrospection) result() KeyResult {
	res := KeyResult{
		Active: in.Active, Decision: in.Decision, Description: in.Description,
		Tenant: in.Tenant, KeyID: in.KeyID, Permissions: in.Permissions, Scopes: strings.Fields(in.Scope),
		Deprecation: time.Time(in.Deprecation), Sunset: time.Time(in.Sunset), MigrationGuideURL: in.Guide,
	}
	switch {
	case in.Active && (in.TokenType != tokenTypeHintAPIKey || (in.Decision != "" && in.Decision != DecisionAccepted)):
		return KeyResult{Decision: DecisionUnknown}
	case in.Active:
		res.Decision = DecisionAccepted
	case res.Decision == "" || res.Decision == DecisionAccepted:
		res.Decision = DecisionUnknown
	}
	return res
}

// flexTime reads a time given as RFC 3339 or as seconds since the epoch;
// null or "" is the zero time.
type flexTime time.Time

// UnmarshalJSON reads RFC 3339, epoch seconds, null or "".
func (t *flexTime) UnmarshalJSON(b []byte) error {
	s := string(b)
	if s == "null" || s == `""` {
		return nil
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if err := json.Unmarshal(b, &str); err != nil {
			return err
		}
		v, err := time.Parse(time.RFC3339, str)
		if err != nil {
			return fmt.Errorf("time %q: %w", str, err)
		}
		*t = flexTime(v)
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return errors.New("time is neither RFC 3339 nor a number")
	}
	*t = flexTime(time.Unix(n, 0))
	return nil
}

// redactURLError drops the URL from a client error; it holds no secret
// (the key is in the body), but keeps logs short.
func redactURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
