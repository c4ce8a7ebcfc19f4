package apikey

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/singleflight"

	"github.com/keyshift/keyshift/internal/store"
)

// SettingTimeline is the name of the settings document holding the Timeline
// as JSON.
const SettingTimeline = "timeline"

// ServiceConfig configures a Service. Zero fields take the defaults.
type ServiceConfig struct {
	// Now is the clock of decisions and usage records; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// FlushEvery is the usage flush interval, and so the most usage a crash
	// can lose; default 5 s.
	FlushEvery time.Duration
	// NegativeTTL is how long a hash the store did not know is answered
	// unknown without asking again; default 30 s. A key created meanwhile
	// is found at once: its change clears the negative cache.
	NegativeTTL time.Duration
	// CacheSize bounds the cached keys (default 100,000); a tenth of it,
	// at least 1,000, bounds the negative cache.
	CacheSize int
	// ResyncEvery reloads the timeline, tenants and scopes and drops the
	// caches, a backstop for a change notification lost on the way from
	// another instance; default 5 min.
	ResyncEvery time.Duration
	// GuideURL is the migration guide used when the timeline names none.
	GuideURL string
	// Registerer receives the metrics; nil registers nowhere.
	Registerer prometheus.Registerer
}

func (c *ServiceConfig) defaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.FlushEvery <= 0 {
		c.FlushEvery = 5 * time.Second
	}
	if c.NegativeTTL <= 0 {
		c.NegativeTTL = 30 * time.Second
	}
	if c.CacheSize <= 0 {
		c.CacheSize = 100_000
	}
	if c.ResyncEvery <= 0 {
		c.ResyncEvery = 5 * time.Minute
	}
}

// RequestInfo describes the request that presents a key, for usage records.
type RequestInfo struct {
	// Route is the matched route pattern (http.Request.Pattern), not the
	// raw path, so that the top-routes table stays meaningful.
	Route string
	// IP is the client address without port.
	IP        string
	UserAgent string
}

// KeyInfo is what a check tells about a known key. Its slices are shared
// with the cache: treat them as read-only.
type KeyInfo struct {
	ID          string
	Tenant      string
	Name        string
	Owner       Owner
	Purpose     string
	Permissions []string // none = every API
	// Scopes are the catalogue scopes that a client converted from the key
	// would get (see MapPermissions): never more than the key may do.
	Scopes []string
}

// Result is the answer of Check: the decision, the key it is about (zero
// for an unknown key) and the migration guide to point its user to.
type Result struct {
	Decision Decision
	Key      KeyInfo
	GuideURL string
}

// Description explains the decision to the key's user, with the dates that
// make it actionable (the error_description of a refusal).
func (r Result) Description() string {
	d := r.Decision
	s := d.Reason
	if s == "" {
		s = "The API key is refused."
	}
	switch {
	case d.Code == CodeBrownout && d.BrownoutEnd != nil:
		s += " The brownout ends at " + d.BrownoutEnd.UTC().Format(time.RFC3339) + "."
		if d.Sunset != nil {
			s += " API keys stop working for good at " + d.Sunset.UTC().Format(time.RFC3339) + "."
		}
	case d.Code == CodeSunset && d.Sunset != nil:
		s += " They stopped being accepted at " + d.Sunset.UTC().Format(time.RFC3339) + "."
	}
	return s
}

// Service checks legacy keys on the request path: lookup by hash through a
// bounded cache, the timeline decision and in-memory usage counting, flushed
// to the store in batches. It follows the store's change feed so that a
// disabled key, a new timeline or a new tenant status applies within
// moments.
//
// Usage is written every FlushEvery and once more when Start's context
// ends; a crash loses what was counted since the last successful flush, at
// most one interval (plus the retries of a store outage, kept in memory).
type Service struct {
	st      store.Store
	cfg     ServiceConfig
	log     *slog.Logger
	rec     *Recorder
	cache   *keyCache
	metrics *serviceMetrics

	timeline atomic.Pointer[Timeline] // replaced whole, never mutated
	tenants  atomic.Pointer[map[string]tenantState]
	scopes   atomic.Pointer[[]CatalogueScope]

	flushMu sync.Mutex
	pending []store.UsageDelta // a failed flush, merged into the next one

	loads singleflight.Group

	started atomic.Bool
	wg      sync.WaitGroup
}

// tenantState is what the service keeps about a tenant.
type tenantState struct {
	info   TenantInfo
	active bool
}

// NewService returns a Service on st. Call Start before serving.
func NewService(st store.Store, cfg ServiceConfig) (*Service, error) {
	if st == nil {
		return nil, errors.New("apikey: nil store")
	}
	cfg.defaults()
	cache := newKeyCache(cfg.CacheSize, max(1000, cfg.CacheSize/10))
	m, err := newServiceMetrics(cfg.Registerer, cache)
	if err != nil {
		return nil, err
	}
	s := &Service{st: st, cfg: cfg, log: cfg.Logger, rec: NewRecorder(), metrics: m, cache: cache}
	s.timeline.Store(&Timeline{})
	s.tenants.Store(&map[string]tenantState{})
	s.scopes.Store(&[]CatalogueScope{})
	return s, nil
}

// Start loads the timeline, tenants and scope catalogue, then follows the
// change feed and flushes usage in the background until ctx is done, when
// it flushes one last time. Wait blocks until that final flush is over.
func (s *Service) Start(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("apikey: service already started")
	}
	// Subscribe first, so that no change between the load and the
	// subscription is missed.
	// Following makes this instance's writes wait until they are applied
	// here, so a key disabled by the admin API is refused at once.
	subCtx, cancel := context.WithCancel(ctx)
	changes := s.st.Follow(subCtx)
	if err := s.reloadAll(ctx); err != nil {
		cancel()
		s.started.Store(false)
		return err
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		defer cancel()
		s.follow(ctx, changes)
	}()
	go func() {
		defer s.wg.Done()
		s.flushLoop(ctx)
	}()
	return nil
}

// Wait blocks until the background work started by Start has stopped,
// including the final usage flush. Close the store only after it returns.
func (s *Service) Wait() { s.wg.Wait() }

// Check decides on one use of the key given as the raw header value, and
// counts the use. A malformed or unknown key is answered with Unknown(),
// counted in a metric but not per key. The error reports only a store that
// could not be asked (answer 503, not a refusal); it never contains the key.
func (s *Service) Check(ctx context.Context, rawHeader string, req RequestInfo) (Result, error) {
	now := s.cfg.Now()
	e, err := s.lookup(ctx, rawHeader, now)
	if err != nil {
		return Result{}, err
	}
	if e == nil {
		s.metrics.unknown.Inc()
		return Result{Decision: Unknown()}, nil
	}
	res := s.decide(e, now)
	s.rec.Record(e.key.ID, res.Decision.Code, req.Route, req.IP, req.UserAgent, now)
	if c := e.checks[outcomeIndex(res.Decision.Code)]; c != nil {
		c.Inc()
	}
	return res, nil
}

// decide applies the current timeline to a cached key. A key of a tenant
// that is not active is refused as disabled: a disabled customer's
// integrations stop with it.
func (s *Service) decide(e *keyEntry, now time.Time) Result {
	tl := s.timeline.Load()
	ts, ok := (*s.tenants.Load())[e.key.Tenant]
	if !ok {
		ts = tenantState{info: TenantInfo{ID: e.key.Tenant}, active: true}
	}
	k := e.key
	if !ts.active {
		k.Status = StatusDisabled
	}
	guide := tl.MigrationGuideURL
	if guide == "" {
		guide = s.cfg.GuideURL
	}
	return Result{Decision: Decide(*tl, ts.info, k, now), Key: e.info, GuideURL: guide}
}

// lookup finds the key of a raw header value: nil for a malformed or
// unknown key.
//
// The cache is asked before the full format check: a hit means the value
// is a stored key (SHA-256 preimages are not found by chance), so the
// steady state skips the checksum, whose job is only to keep typos and
// garbage away from the store. A miss is checked in full before it may
// reach the negative cache or the store.
func (s *Service) lookup(ctx context.Context, raw string, now time.Time) (*keyEntry, error) {
	if len(raw) > 2*MaxKeyLen {
		return nil, nil
	}
	key := strings.Trim(raw, " \t")
	if len(key) < MinKeyLen || len(key) > MaxKeyLen {
		return nil, nil
	}
	h := hashKey(key)
	e, unknown := s.cache.get(&h, now)
	if e != nil {
		return e, nil
	}
	if unknown || CheckFormat(key) != nil {
		return nil, nil
	}
	return s.load(ctx, &h, now)
}

// hashKey is Hash without its allocation: the key is copied to a stack
// buffer rather than converted to a heap []byte.
func hashKey(key string) [32]byte {
	var buf [MaxKeyLen]byte
	return sha256.Sum256(buf[:copy(buf[:], key)])
}

// loadTimeout bounds a store lookup shared by concurrent requests, which
// no single request's context may cancel.
const loadTimeout = 5 * time.Second

// load asks the store for a hash the cache does not have. Concurrent misses
// of one hash share one store lookup: after a resync empties the cache,
// every hot key misses at once.
func (s *Service) load(ctx context.Context, hp *[32]byte, now time.Time) (*keyEntry, error) {
	h := *hp // the copy escapes to the store; the caller's array stays on its stack
	v, err, _ := s.loads.Do(string(h[:]), func() (any, error) {
		lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
		defer cancel()
		return s.loadShared(lctx, &h, now)
	})
	if err != nil {
		return nil, err
	}
	return v.(*keyEntry), nil
}

func (s *Service) loadShared(ctx context.Context, h *[32]byte, now time.Time) (*keyEntry, error) {
	gen := s.cache.generation()
	sk, err := s.st.GetAPIKeyByHash(ctx, h[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.metrics.lookups.WithLabelValues("unknown").Inc()
		s.cache.putNegative(h, gen, now, now.Add(s.cfg.NegativeTTL))
		return (*keyEntry)(nil), nil
	case err != nil:
		s.metrics.lookups.WithLabelValues("error").Inc()
		return nil, fmt.Errorf("look up api key: %w", err)
	}
	s.metrics.lookups.WithLabelValues("found").Inc()
	e := s.newEntry(sk)
	s.cache.put(h, e, gen)
	return e, nil
}

func (s *Service) newEntry(sk store.APIKey) *keyEntry {
	k := KeyFromStore(sk)
	return &keyEntry{
		key: k,
		info: KeyInfo{
			ID: k.ID, Tenant: k.Tenant, Name: k.Name, Owner: k.Owner, Purpose: k.Purpose,
			Permissions: k.Permissions, Scopes: mappedScopes(k.Permissions, *s.scopes.Load()),
		},
		checks: s.metrics.tenantCounters(k.Tenant),
	}
}

// KeyFromStore converts a stored key to the record Decide takes.
func KeyFromStore(sk store.APIKey) Key {
	return Key{
		ID: sk.ID, Tenant: sk.Tenant, Name: sk.Name, Description: sk.Description,
		Contact: Contact(sk.Contact), Permissions: sk.Permissions, ExpiresAt: sk.ExpiresAt,
		Owner: Owner(sk.Owner), Purpose: sk.Purpose, Status: Status(sk.Status),
		ConvertedToClient: sk.ConvertedToClient, CreatedAt: sk.CreatedAt, LastUsedAt: sk.LastUsedAt,
	}
}

// follow applies the change feed to the caches until the channel closes,
// reporting each change applied (failed ones too: the periodic resync
// retries them, and the writer is not held for a store error). Nothing here
// may write through the store: the write would wait for this loop.
func (s *Service) follow(ctx context.Context, sub *store.Subscription) {
	resync := time.NewTicker(s.cfg.ResyncEvery)
	defer resync.Stop()
	for {
		select {
		case c, ok := <-sub.C:
			if !ok {
				return
			}
			s.apply(ctx, c)
			sub.Applied(c)
		case <-resync.C:
			s.apply(ctx, store.Change{Kind: store.ChangeResync})
		}
	}
}

// apply handles one change. A reload that fails keeps what was loaded
// before; the periodic resync tries again.
func (s *Service) apply(ctx context.Context, c store.Change) {
	var err error
	switch c.Kind {
	case store.ChangeAPIKey:
		s.cache.evictID(c.ID)
	case store.ChangeSetting:
		if c.ID == SettingTimeline {
			err = s.reloadTimeline(ctx)
		}
	case store.ChangeTenant:
		err = s.reloadTenant(ctx, c.ID)
	case store.ChangeScope:
		// Cached entries carry their scopes: drop them with the old catalogue.
		err = s.reloadScopes(ctx)
		s.cache.clear()
	case store.ChangeResync:
		err = s.reloadAll(ctx)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Log(ctx, store.LogLevel(err), "apikey: applying a change failed; the next resync retries", "kind", c.Kind, "id", c.ID, "err", err)
	}
}

// reloadAll reloads everything and drops the caches.
func (s *Service) reloadAll(ctx context.Context) error {
	err := errors.Join(s.reloadTimeline(ctx), s.reloadTenants(ctx), s.reloadScopes(ctx))
	s.cache.clear()
	return err
}

func (s *Service) reloadTimeline(ctx context.Context) error {
	tl, err := LoadTimeline(ctx, s.st)
	if err != nil {
		return err
	}
	s.timeline.Store(&tl)
	return nil
}

// LoadTimeline reads the timeline setting; an absent one is the empty
// timeline (no milestone: every key accepted without signals).
func LoadTimeline(ctx context.Context, r store.KeyReader) (Timeline, error) {
	raw, err := r.GetSetting(ctx, SettingTimeline)
	if errors.Is(err, store.ErrNotFound) {
		return Timeline{}, nil
	}
	if err != nil {
		return Timeline{}, fmt.Errorf("load timeline: %w", err)
	}
	var tl Timeline
	if err := json.Unmarshal(raw, &tl); err != nil {
		return Timeline{}, fmt.Errorf("load timeline: decode: %w", err)
	}
	return tl, nil
}

func (s *Service) reloadTenants(ctx context.Context) error {
	ts, err := s.st.ListTenants(ctx)
	if err != nil {
		return fmt.Errorf("load tenants: %w", err)
	}
	m := make(map[string]tenantState, len(ts))
	for _, t := range ts {
		m[t.ID] = stateOf(t)
	}
	s.tenants.Store(&m)
	return nil
}

// reloadTenant replaces one tenant in a copy of the map: readers never see
// a map being written.
func (s *Service) reloadTenant(ctx context.Context, id string) error {
	t, err := s.st.GetTenant(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("load tenant %q: %w", id, err)
	}
	old := *s.tenants.Load()
	m := make(map[string]tenantState, len(old)+1)
	for k, v := range old {
		m[k] = v
	}
	if err != nil {
		delete(m, id)
		// Its keys went with it; a backend that announced them one by
		// one makes this redundant, one that did not makes it necessary.
		defer s.cache.clear()
	} else {
		m[id] = stateOf(t)
	}
	s.tenants.Store(&m)
	return nil
}

func stateOf(t store.Tenant) tenantState {
	return tenantState{info: TenantInfo{ID: t.ID, CreatedAt: t.CreatedAt}, active: t.Status == store.StatusActive}
}

func (s *Service) reloadScopes(ctx context.Context) error {
	sc, err := s.st.ListScopes(ctx)
	if err != nil {
		return fmt.Errorf("load scopes: %w", err)
	}
	cat := make([]CatalogueScope, 0, len(sc))
	for _, x := range sc {
		cat = append(cat, CatalogueScope{Name: x.Name, Permissions: x.Permissions})
	}
	s.scopes.Store(&cat)
	return nil
}

// mappedScopes returns the scopes MapPermissions chooses for permissions.
func mappedScopes(permissions []string, catalogue []CatalogueScope) []string {
	scopes, _ := MapPermissions(permissions, catalogue)
	return scopes
}

// IntrospectKey answers token introspection (RFC 7662, token_type_hint
// api_key) about a key: its decision now, without counting a use. ok is
// false for a malformed or unknown key and for a key of another tenant than
// the caller's unless the caller is an operator, so that the answer tells a
// caller nothing about keys it may not see. The error reports only a store
// that could not be asked.
func (s *Service) IntrospectKey(ctx context.Context, key, callerTenant string, operator bool) (res Result, ok bool, err error) {
	now := s.cfg.Now()
	e, err := s.lookup(ctx, key, now)
	if err != nil {
		return Result{}, false, err
	}
	if e == nil || (!operator && e.key.Tenant != callerTenant) {
		return Result{Decision: Unknown()}, false, nil
	}
	return s.decide(e, now), true, nil
}
