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
type Config struct {
	Alg         string        // "ES256" (default) or "EdDSA"; used for new keys
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
		return c, fmt.Errorf("signing: unsupported alg %q (want %s or %s)", c.Alg, AlgES256, AlgEdDSA)
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

// Keyring holds the published signing keys, signs with the active one and
// verifies with any. Signing and verifying read an immutable snapshot
// through an atomic pointer, so they never wait for a reload.
type Keyring struct {
	st     store.Store
	sealer *Sealer
	cfg    Config
	log    *slog.Logger

	set      atomic.Pointer[keySet]
	reloadMu sync.Mutex // keeps an older read from replacing a newer snapshot
}

// keySet is an immutable snapshot of the published keys.
type keySet struct {
	active *key
	keys   []*key // published keys: active, next, retired
	byKID  map[string]*key
	rows   []store.SigningKey // records of keys, without PrivateSealed
	jwks   []byte
	etag   string
}

// New loads keys from the store. On first start, when there is no active
// key, it creates an active key and a next key in one transaction with an
// audit event.
func New(ctx context.Context, st store.Store, sealer *Sealer, cfg Config) (*Keyring, error) {
	if st == nil || sealer == nil {
		return nil, errors.New("signing: new keyring: store and sealer are required")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	k := &Keyring{st: st, sealer: sealer, cfg: cfg, log: cfg.Logger.With("component", "signing")}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if k.set.Load().active != nil {
		return k, nil
	}
	if err := k.bootstrap(ctx); err != nil {
		return nil, err
	}
	if err := k.Reload(ctx); err != nil {
		return nil, err
	}
	if k.set.Load().active == nil {
		return nil, fmt.Errorf("signing: new keyring: %w after creating keys", ErrNoActiveKey)
	}
	return k, nil
}

// bootstrap creates the first active key, and a next key if there is none.
func (k *Keyring) bootstrap(ctx context.Context) error {
	now := k.cfg.Now()
	err := k.st.Tx(ctx, func(tx store.Tx) error {
		if err := lockKeys(ctx, tx, now); err != nil {
			return err
		}
		rows, err := listOwn(ctx, tx)
		if err != nil {
			return err
		}
		if len(withState(rows, store.KeyActive)) > 0 {
			return nil // another instance got there first
		}
		active, err := k.createKey(ctx, tx, store.KeyActive, now, now)
		if err != nil {
			return err
		}
		details := map[string]string{"active": active}
		if len(withState(rows, store.KeyNext)) == 0 {
			next, err := k.createKey(ctx, tx, store.KeyNext, now, now.Add(k.cfg.PrePublish))
			if err != nil {
				return err
			}
			details["next"] = next
		}
		return appendAudit(ctx, tx, systemEvent(now, "signing_key.create", active, details))
	})
	if err != nil {
		return fmt.Errorf("signing: create first keys: %w", err)
	}
	k.log.Info("created first signing keys", "alg", k.cfg.Alg)
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

// Verify checks a compact JWS signed by any published key and returns its
// payload and key id. It refuses alg "none", an alg other than the key's,
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

// ActiveKeyID returns the kid that signs now.
func (k *Keyring) ActiveKeyID() string {
	if set := k.set.Load(); set != nil && set.active != nil {
		return set.active.kid
	}
	return ""
}

// Keys returns the records of the published keys (without their sealed
// private parts), active first.
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
	if prev != nil && prev.active != set.active && set.active != nil {
		k.log.Info("active signing key changed", "kid", set.active.kid)
	}
	return nil
}

// stateOrder sorts published keys: active, next, retired.
var stateOrder = map[string]int{store.KeyActive: 0, store.KeyNext: 1, store.KeyRetired: 2}

func (k *Keyring) buildSet(rows []store.SigningKey, prev *keySet) (*keySet, error) {
	slices.SortStableFunc(rows, func(a, b store.SigningKey) int {
		if d := stateOrder[a.State] - stateOrder[b.State]; d != 0 {
			return d
		}
		return b.ActivateAt.Compare(a.ActivateAt) // newest first
	})
	set := &keySet{byKID: make(map[string]*key, len(rows))}
	jwks := jose.JSONWebKeySet{Keys: make([]jose.JSONWebKey, 0, len(rows))}
	for _, row := range rows {
		withPrivate := row.State == store.KeyActive || row.State == store.KeyNext
		kk, err := k.keyFor(row, prev, withPrivate)
		if err != nil && !withPrivate {
			// A broken retired key must not stop signing; it only means
			// tokens it signed stop verifying early.
			k.log.Warn("skipping unreadable retired signing key", "kid", row.ID, "err", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		if row.State == store.KeyActive && set.active == nil {
			set.active = kk
		}
		row.PrivateSealed = nil
		set.rows = append(set.rows, row)
		set.keys = append(set.keys, kk)
		set.byKID[kk.kid] = kk
		jwks.Keys = append(jwks.Keys, kk.jwk)
	}
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

// createKey generates, seals and stores a new key and returns its kid.
func (k *Keyring) createKey(ctx context.Context, tx store.Tx, state string, now, activateAt time.Time) (string, error) {
	rec, err := generateKey(k.sealer, k.cfg.Alg, state, now, activateAt)
	if err != nil {
		return "", err
	}
	if err := tx.CreateSigningKey(ctx, rec); err != nil {
		return "", fmt.Errorf("create %s signing key %s: %w", state, rec.ID, err)
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
