package signing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/store"
)

// Defaults of Config.
const (
	DefaultPrePublish  = time.Hour
	DefaultRotateEvery = 30 * 24 * time.Hour
	DefaultMaxTokenTTL = 24 * time.Hour
	DefaultCheckEvery  = time.Minute
)

// Config configures a Keyring. Zero values take the defaults.
//
// Every instance sharing a store must keep the same algorithms: an instance
// retires the keys of algorithms it does not keep.
type Config struct {
	// Alg is the primary algorithm, the one Sign uses (access tokens):
	// "ES256" (default), "EdDSA" or "RS256".
	Alg string
	// ExtraAlgs are the algorithms kept besides Alg, for SignWith (ID
	// tokens, per-client choice); each has keys of its own with their own
	// next → active → retired lifecycle. nil means RS256, OpenID Connect's
	// default ID token algorithm, unless Alg is RS256; an empty, non-nil
	// slice keeps none.
	ExtraAlgs   []string
	PrePublish  time.Duration // how long a next key is in the JWKS before it may sign; default 1h
	RotateEvery time.Duration // scheduled rotation of the active key; 0 = default 30 days; <0 = never
	MaxTokenTTL time.Duration // retired keys stay published this long after retirement; default 24h
	CheckEvery  time.Duration // how often Run calls Maintain; default 1 minute
	Now         func() time.Time
	Logger      *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.Alg == "" {
		c.Alg = AlgES256
	}
	if !validAlg(c.Alg) {
		return c, fmt.Errorf("signing: unsupported alg %q (want one of %s)", c.Alg, strings.Join(supportedAlgs, ", "))
	}
	extra := c.ExtraAlgs
	if extra == nil {
		extra = []string{AlgRS256}
	}
	c.ExtraAlgs = make([]string, 0, len(extra))
	for _, alg := range extra {
		if !validAlg(alg) {
			return c, fmt.Errorf("signing: unsupported extra alg %q (want one of %s)", alg, strings.Join(supportedAlgs, ", "))
		}
		if alg != c.Alg && !slices.Contains(c.ExtraAlgs, alg) {
			c.ExtraAlgs = append(c.ExtraAlgs, alg)
		}
	}
	if c.PrePublish <= 0 {
		c.PrePublish = DefaultPrePublish
	}
	if c.RotateEvery == 0 {
		c.RotateEvery = DefaultRotateEvery
	}
	if c.MaxTokenTTL <= 0 {
		c.MaxTokenTTL = DefaultMaxTokenTTL
	}
	if c.CheckEvery <= 0 {
		c.CheckEvery = DefaultCheckEvery
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c, nil
}

// algs returns the kept algorithms, primary first. c must have its defaults.
func (c Config) algs() []string { return append([]string{c.Alg}, c.ExtraAlgs...) }

// Keyring holds the published signing keys of every kept algorithm, signs
// with the active key of an algorithm and verifies with any published key.
// Signing and verifying read an immutable snapshot through an atomic
// pointer, so they never wait for a reload.
type Keyring struct {
	st     store.Store
	sealer *Sealer
	cfg    Config
	algs   []string // kept algorithms, primary first
	log    *slog.Logger

	set      atomic.Pointer[keySet]
	reloadMu sync.Mutex // keeps an older read from replacing a newer snapshot
}

// keySet is an immutable snapshot of the published keys.
type keySet struct {
	active  *key   // the primary algorithm's active key: Sign's one load
	actives []*key // active key per kept algorithm, in Keyring.algs order; nil where none
	keys    []*key // published keys: active, next, retired
	byKID   map[string]*key
	rows    []store.SigningKey // records of keys, without PrivateSealed
	jwks    []byte
	etag    string
}

// New loads keys from the store. When a kept algorithm has no active key
// (first start, or an algorithm added to the configuration) it creates one
// in a transaction with an audit event: with a next key for the primary
// algorithm; the other algorithms get theirs from the first Maintain, which
// Run calls at once, so that start-up generates one RSA key, not two.
func New(ctx context.Context, st store.Store, sealer *Sealer, cfg Config) (*Keyring, error) {
	if st == nil || sealer == nil {
		return nil, errors.New("signing: new keyring: store and sealer are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	k := &Keyring{st: st, sealer: sealer, cfg: cfg, algs: cfg.algs(), log: cfg.Logger.With("component", "signing")}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if len(k.withoutActive()) == 0 {
		return k, nil
	}
	if err := k.bootstrap(ctx); err != nil {
		return nil, err
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if missing := k.withoutActive(); len(missing) > 0 {
		return nil, fmt.Errorf("signing: new keyring: %w for %s after creating keys", ErrNoActiveKey, strings.Join(missing, ", "))
	}
	return k, nil
}

// withoutActive returns the kept algorithms without an active key in the
// current snapshot.
func (k *Keyring) withoutActive() []string {
	set := k.set.Load()
	var out []string
	for i, alg := range k.algs {
		if set.actives[i] == nil {
			out = append(out, alg)
		}
	}
	return out
}

// bootstrap creates an active key for every kept algorithm that has none,
// and a next key for the primary algorithm if it has none.
func (k *Keyring) bootstrap(ctx context.Context) error {
	now := k.cfg.Now()
	var created []string
	err := k.st.Tx(ctx, func(tx store.Tx) error {
		created = nil // a retried transaction starts again
		if err := lockKeys(ctx, tx, now); err != nil {
			return err
		}
		rows, err := listOwn(ctx, tx)
		if err != nil {
			return err
		}
		details := map[string]map[string]string{}
		var object string
		for _, alg := range k.algs {
			own := ofAlg(rows, alg)
			if len(withState(own, store.KeyActive)) > 0 {
				continue // another instance got there first
			}
			active, err := k.createKey(ctx, tx, alg, store.KeyActive, now, now)
			if err != nil {
				return err
			}
			details[alg] = map[string]string{"active": active}
			if alg == k.cfg.Alg && len(withState(own, store.KeyNext)) == 0 {
				next, err := k.createKey(ctx, tx, alg, store.KeyNext, now, now.Add(k.cfg.PrePublish))
				if err != nil {
					return err
				}
				details[alg]["next"] = next
			}
			if object == "" {
				object = active
			}
			created = append(created, alg)
		}
		if object == "" {
			return nil
		}
		return appendAudit(ctx, tx, systemEvent(now, "signing_key.create", object, details))
	})
	if err != nil {
		return fmt.Errorf("signing: create first keys: %w", err)
	}
	if len(created) > 0 {
		k.log.Info("created first signing keys", "algs", created)
	}
	return nil
}

// Sign makes a compact JWS with header {alg, kid, typ} over
// json.Marshal(claims), signed by the active key.
func (k *Keyring) Sign(typ string, claims any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: encode claims: %w", err)
	}
	return k.SignPayload(typ, payload)
}

// SignPayload is Sign for claims already encoded as JSON.
func (k *Keyring) SignPayload(typ string, payload []byte) (string, error) {
	set := k.set.Load()
	if set == nil || set.active == nil {
		return "", ErrNoActiveKey
	}
	return set.active.sign(typ, payload)
}

// SignWith is Sign with the active key of alg, which must be one of Algs.
func (k *Keyring) SignWith(alg, typ string, claims any) (string, error) {
	kk, err := k.activeFor(alg)
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("sign: encode claims: %w", err)
	}
	return kk.sign(typ, payload)
}

// activeFor returns the active key of alg.
func (k *Keyring) activeFor(alg string) (*key, error) {
	i := slices.Index(k.algs, alg)
	if i < 0 {
		return nil, fmt.Errorf("%w for alg %q: keyshift keeps keys for %s only", ErrNoActiveKey, alg, strings.Join(k.algs, ", "))
	}
	if set := k.set.Load(); set != nil && set.actives[i] != nil {
		return set.actives[i], nil
	}
	return nil, fmt.Errorf("%w for alg %s", ErrNoActiveKey, alg)
}

// Algs returns the algorithms the keyring keeps keys for, primary (Sign's)
// first.
func (k *Keyring) Algs() []string { return slices.Clone(k.algs) }

// Verify checks a compact JWS signed by any published key, of any
// algorithm, and returns its payload and key id. It refuses alg "none", an
// alg other than the key's (so a token cannot make a key of one algorithm
// verify as another),
// an unknown kid, a typ other than wantTyp (when wantTyp is not empty),
// malformed tokens and tokens over MaxTokenSize. It does not check claims.
func (k *Keyring) Verify(token, wantTyp string) (payload []byte, kid string, err error) {
	set := k.set.Load()
	if set == nil {
		return nil, "", ErrUnknownKey
	}
	return set.verify(token, wantTyp)
}

// JWKS returns the JSON Web Key Set of all published public keys and its
// strong ETag. The body is shared: callers must not modify it.
func (k *Keyring) JWKS() (body []byte, etag string) {
	set := k.set.Load()
	return set.jwks, set.etag
}

// ActiveKeyID returns the kid that Sign signs with now (the primary
// algorithm's active key).
func (k *Keyring) ActiveKeyID() string {
	if set := k.set.Load(); set != nil && set.active != nil {
		return set.active.kid
	}
	return ""
}

// Keys returns the records of the published keys of every algorithm
// (without their sealed private parts): active, then next, then retired,
// the primary algorithm first within each state.
func (k *Keyring) Keys() []store.SigningKey {
	return slices.Clone(k.set.Load().rows)
}

// Reload re-reads the keys from the store (on change feed events).
func (k *Keyring) Reload(ctx context.Context) error {
	k.reloadMu.Lock()
	defer k.reloadMu.Unlock()
	rows, err := listOwn(ctx, k.st)
	if err != nil {
		return fmt.Errorf("signing: reload: %w", err)
	}
	prev := k.set.Load()
	set, err := k.buildSet(rows, prev)
	if err != nil {
		return fmt.Errorf("signing: reload: %w", err)
	}
	k.set.Store(set)
	for i, alg := range k.algs {
		if prev != nil && prev.actives[i] != set.actives[i] && set.actives[i] != nil {
			k.log.Info("active signing key changed", "alg", alg, "kid", set.actives[i].kid)
		}
	}
	return nil
}

// stateOrder sorts published keys: active, next, retired.
var stateOrder = map[string]int{store.KeyActive: 0, store.KeyNext: 1, store.KeyRetired: 2}

// algRank orders algorithms: kept ones in Keyring.algs order, then others.
func (k *Keyring) algRank(alg string) int {
	if i := slices.Index(k.algs, alg); i >= 0 {
		return i
	}
	return len(k.algs)
}

func (k *Keyring) buildSet(rows []store.SigningKey, prev *keySet) (*keySet, error) {
	slices.SortStableFunc(rows, func(a, b store.SigningKey) int {
		if d := stateOrder[a.State] - stateOrder[b.State]; d != 0 {
			return d
		}
		if d := k.algRank(a.Alg) - k.algRank(b.Alg); d != 0 {
			return d
		}
		return b.ActivateAt.Compare(a.ActivateAt) // newest first
	})
	set := &keySet{byKID: make(map[string]*key, len(rows)), actives: make([]*key, len(k.algs))}
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(rows))}
	for _, row := range rows {
		kept := slices.Index(k.algs, row.Alg)
		// Only the next and active keys of kept algorithms may sign; keys of
		// other algorithms are on their way out (see planMaintenance).
		withPrivate := kept >= 0 && (row.State == store.KeyActive || row.State == store.KeyNext)
		kk, err := k.keyFor(row, prev, withPrivate)
		if err != nil && !withPrivate {
			// A broken key that may not sign must not stop signing; it only
			// means tokens it signed stop verifying early.
			k.log.Warn("skipping unreadable signing key", "kid", row.ID, "alg", row.Alg, "state", row.State, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if row.State == store.KeyActive && kept >= 0 && set.actives[kept] == nil {
			set.actives[kept] = kk
		}
		row.PrivateSealed = nil
		set.rows = append(set.rows, row)
		set.keys = append(set.keys, kk)
		set.byKID[kk.kid] = kk
		jwks.Keys = append(jwks.Keys, kk.jwk)
	}
	set.active = set.actives[0]
	body, err := json.Marshal(jwks)
	if err != nil {
		return nil, fmt.Errorf("encode JWKS: %w", err)
	}
	sum := sha256.Sum256(body)
	set.jwks, set.etag = body, `"`+hex.EncodeToString(sum[:16])+`"`
	return set, nil
}

// keyFor reuses the parsed key of the previous snapshot when it has what is
// needed, so a reload does not decrypt every key again.
func (k *Keyring) keyFor(row store.SigningKey, prev *keySet, withPrivate bool) (*key, error) {
	if prev != nil {
		if old := prev.byKID[row.ID]; old != nil && old.alg == row.Alg && (old.canSign() || !withPrivate) {
			return old, nil
		}
	}
	return parseKey(row, k.sealer, withPrivate)
}

// listOwn lists the keys this package manages.
func listOwn(ctx context.Context, r store.Reader) ([]store.SigningKey, error) {
	rows, err := r.ListSigningKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("list signing keys: %w", err)
	}
	return slices.DeleteFunc(rows, func(r store.SigningKey) bool { return r.Use != KeyUse }), nil
}

func withState(rows []store.SigningKey, state string) []store.SigningKey {
	var out []store.SigningKey
	for _, r := range rows {
		if r.State == state {
			out = append(out, r)
		}
	}
	return out
}

func ofAlg(rows []store.SigningKey, alg string) []store.SigningKey {
	var out []store.SigningKey
	for _, r := range rows {
		if r.Alg == alg {
			out = append(out, r)
		}
	}
	return out
}

// createKey generates, seals and stores a new key and returns its kid.
func (k *Keyring) createKey(ctx context.Context, tx store.Tx, alg, state string, now, activateAt time.Time) (string, error) {
	rec, err := generateKey(k.sealer, alg, state, now, activateAt)
	if err != nil {
		return "", err
	}
	if err := tx.CreateSigningKey(ctx, rec); err != nil {
		return "", fmt.Errorf("create %s %s signing key %s: %w", state, alg, rec.ID, err)
	}
	return rec.ID, nil
}

// systemActor is the audit actor of keyshift's own scheduled changes.
const systemActor = "keyshift"

func systemEvent(now time.Time, action, objectID string, details any) store.AuditEvent {
	return fillEvent(store.AuditEvent{Actor: systemActor, ActorTenant: store.PlatformTenant}, now, action, objectID, details)
}

// fillEvent completes an audit event; the time comes from the keyring's
// clock so that events and key timestamps agree.
func fillEvent(e store.AuditEvent, now time.Time, action, objectID string, details any) store.AuditEvent {
	if e.Time.IsZero() {
		e.Time = now
	}
	e.Action = action
	e.ObjectType = "signing_key"
	e.ObjectID = objectID
	if len(e.Details) == 0 && details != nil {
		e.Details, _ = json.Marshal(details) // maps of strings cannot fail
	}
	return e
}

func appendAudit(ctx context.Context, tx store.Tx, e store.AuditEvent) error {
	if err := tx.AppendAudit(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", e.Action, err)
	}
	return nil
}
