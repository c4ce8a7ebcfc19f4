package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

var (
	_ store.GrantReader = (*Store)(nil)
	_ store.GrantTx     = (*tx)(nil)
)

// Grant records are found by the SHA-256 of a secret, which errors never
// show: it is as good as a secret to logs. Every Update* locks its row
// (SELECT … FOR UPDATE) before calling fn, so of two concurrent redemptions
// of one code the second sees the first's result.

// grantWriteErr explains a failed grant write: a foreign key failure means
// the tenant, client or user does not exist.
func grantWriteErr(op, what string, err error) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("%s %s: tenant, client or user: %w", op, what, store.ErrNotFound)
	}
	return fmt.Errorf("%s %s: %w", op, what, err)
}

// nullID stores an empty user id as NULL, which the foreign key accepts.
func nullID(id string) any {
	if id == "" {
		return nil
	}
	return id
}

// Authorization codes.

const authCodeCols = `hash, tenant, client_id, coalesce(user_id, ''), session_id,
	redirect_uri, scopes, nonce, code_challenge, auth_time, created_at, expires_at,
	redeemed_at, issued_jti, issued_expires_at, issued_family`

func scanAuthCode(sc scanner) (store.AuthCode, error) {
	var c store.AuthCode
	err := sc.Scan(&c.Hash, &c.Tenant, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI,
		&c.Scopes, &c.Nonce, &c.CodeChallenge, &c.AuthTime, &c.CreatedAt, &c.ExpiresAt,
		&c.RedeemedAt, &c.IssuedJTI, &c.IssuedExpiresAt, &c.IssuedFamily)
	c.Scopes = nilIfEmpty(c.Scopes)
	return c, err
}

func (r reader) GetAuthCode(ctx context.Context, hash []byte) (store.AuthCode, error) {
	return getOne(ctx, r.q, "auth code", "by hash", scanAuthCode,
		`SELECT `+authCodeCols+` FROM auth_codes WHERE hash = $1`, blob(hash))
}

// authCodeArgs returns a code's columns, the hash first.
func authCodeArgs(c store.AuthCode) []any {
	return []any{blob(c.Hash), c.Tenant, c.ClientID, nullID(c.UserID), c.SessionID,
		c.RedirectURI, strs(c.Scopes), c.Nonce, c.CodeChallenge, c.AuthTime, c.CreatedAt,
		c.ExpiresAt, c.RedeemedAt, c.IssuedJTI, c.IssuedExpiresAt, c.IssuedFamily}
}

func (t *tx) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO auth_codes (hash, tenant, client_id, user_id,
		session_id, redirect_uri, scopes, nonce, code_challenge, auth_time, created_at,
		expires_at, redeemed_at, issued_jti, issued_expires_at, issued_family)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		authCodeArgs(c)...)
	if err != nil {
		return grantWriteErr("create", "auth code", err)
	}
	return nil
}

func (t *tx) UpdateAuthCode(ctx context.Context, hash []byte, fn func(store.AuthCode) (store.AuthCode, error)) error {
	old, err := getOne(ctx, t.q, "auth code", "by hash", scanAuthCode,
		`SELECT `+authCodeCols+` FROM auth_codes WHERE hash = $1 FOR UPDATE`, blob(hash))
	if err != nil {
		return err
	}
	c, err := fn(old)
	if err != nil {
		return err
	}
	if !bytes.Equal(c.Hash, hash) {
		return errors.New("update auth code: hash changed")
	}
	_, err = t.exec(ctx, `UPDATE auth_codes SET tenant = $2, client_id = $3, user_id = $4,
		session_id = $5, redirect_uri = $6, scopes = $7, nonce = $8, code_challenge = $9,
		auth_time = $10, created_at = $11, expires_at = $12, redeemed_at = $13,
		issued_jti = $14, issued_expires_at = $15, issued_family = $16 WHERE hash = $1`,
		authCodeArgs(c)...)
	if err != nil {
		return grantWriteErr("update", "auth code", err)
	}
	return nil
}

// Refresh token families.

const familyCols = `id, tenant, client_id, coalesce(user_id, ''), session_id, scopes,
	auth_time, current_hash, previous_hash, rotated_at, generation, last_jti,
	last_jti_expires_at, created_at, expires_at, revoked_at, revoke_reason`

func scanFamily(sc scanner) (store.RefreshFamily, error) {
	var f store.RefreshFamily
	err := sc.Scan(&f.ID, &f.Tenant, &f.ClientID, &f.UserID, &f.SessionID, &f.Scopes,
		&f.AuthTime, &f.CurrentHash, &f.PreviousHash, &f.RotatedAt, &f.Generation, &f.LastJTI,
		&f.LastJTIExpiresAt, &f.CreatedAt, &f.ExpiresAt, &f.RevokedAt, &f.RevokeReason)
	f.Scopes = nilIfEmpty(f.Scopes)
	f.CurrentHash, f.PreviousHash = nilIfEmpty(f.CurrentHash), nilIfEmpty(f.PreviousHash)
	return f, err
}

func (r reader) GetRefreshFamily(ctx context.Context, id string) (store.RefreshFamily, error) {
	return getOne(ctx, r.q, "refresh family", id, scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE id = $1`, id)
}

func (r reader) ListRefreshFamilies(ctx context.Context, tenant, userID, clientID string) ([]store.RefreshFamily, error) {
	var w where
	w.add(true, "tenant = ?", tenant)
	w.add(true, "user_id = ?", userID)
	w.add(clientID != "", "client_id = ?", clientID)
	return list(ctx, r.q, "refresh families", scanFamily,
		`SELECT `+familyCols+` FROM refresh_families`+w.sql()+` ORDER BY created_at, id`,
		w.args...)
}

// familyArgs returns a family's columns, the id first.
func familyArgs(f store.RefreshFamily) []any {
	return []any{f.ID, f.Tenant, f.ClientID, nullID(f.UserID), f.SessionID, strs(f.Scopes),
		f.AuthTime, blob(f.CurrentHash), blob(f.PreviousHash), f.RotatedAt, f.Generation,
		f.LastJTI, f.LastJTIExpiresAt, f.CreatedAt, f.ExpiresAt, f.RevokedAt, f.RevokeReason}
}

func (t *tx) CreateRefreshFamily(ctx context.Context, f store.RefreshFamily) error {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO refresh_families (id, tenant, client_id, user_id,
		session_id, scopes, auth_time, current_hash, previous_hash, rotated_at, generation,
		last_jti, last_jti_expires_at, created_at, expires_at, revoked_at, revoke_reason)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)`,
		familyArgs(f)...)
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("refresh family %q", f.ID), err)
	}
	return nil
}

func (t *tx) UpdateRefreshFamily(ctx context.Context, id string, fn func(store.RefreshFamily) (store.RefreshFamily, error)) error {
	old, err := getOne(ctx, t.q, "refresh family", id, scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE id = $1 FOR UPDATE`, id)
	if err != nil {
		return err
	}
	f, err := fn(old)
	if err != nil {
		return err
	}
	if f.ID != id {
		return errIDChanged("refresh family", id, f.ID)
	}
	_, err = t.exec(ctx, `UPDATE refresh_families SET tenant = $2, client_id = $3,
		user_id = $4, session_id = $5, scopes = $6, auth_time = $7, current_hash = $8,
		previous_hash = $9, rotated_at = $10, generation = $11, last_jti = $12,
		last_jti_expires_at = $13, created_at = $14, expires_at = $15, revoked_at = $16,
		revoke_reason = $17 WHERE id = $1`, familyArgs(f)...)
	if err != nil {
		return grantWriteErr("update", fmt.Sprintf("refresh family %q", id), err)
	}
	return nil
}

// Device codes.

const deviceCodeCols = `hash, user_code_hash, tenant, client_id, scopes, status,
	coalesce(user_id, ''), session_id, auth_time, poll_interval, last_polled_at,
	created_at, expires_at`

func scanDeviceCode(sc scanner) (store.DeviceCode, error) {
	var c store.DeviceCode
	var interval int64
	err := sc.Scan(&c.Hash, &c.UserCodeHash, &c.Tenant, &c.ClientID, &c.Scopes, &c.Status,
		&c.UserID, &c.SessionID, &c.AuthTime, &interval, &c.LastPolledAt, &c.CreatedAt,
		&c.ExpiresAt)
	c.Scopes = nilIfEmpty(c.Scopes)
	c.Interval = time.Duration(interval)
	return c, err
}

func (r reader) GetDeviceCode(ctx context.Context, hash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, "device code", "by hash", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE hash = $1`, blob(hash))
}

func (r reader) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, "device code", "by user code", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE user_code_hash = $1`, blob(userCodeHash))
}

// deviceCodeArgs returns a device code's columns, the hash first.
func deviceCodeArgs(c store.DeviceCode) []any {
	return []any{blob(c.Hash), blob(c.UserCodeHash), c.Tenant, c.ClientID, strs(c.Scopes),
		c.Status, nullID(c.UserID), c.SessionID, c.AuthTime, int64(c.Interval), c.LastPolledAt,
		c.CreatedAt, c.ExpiresAt}
}

// deviceWriteErr explains a failed device code write.
func deviceWriteErr(op string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%s device code: user code taken: %w", op, store.ErrConflict)
	}
	return grantWriteErr(op, "device code", err)
}

func (t *tx) CreateDeviceCode(ctx context.Context, c store.DeviceCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO device_codes (hash, user_code_hash, tenant, client_id,
		scopes, status, user_id, session_id, auth_time, poll_interval, last_polled_at,
		created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`, deviceCodeArgs(c)...)
	if err != nil {
		return deviceWriteErr("create", err)
	}
	return nil
}

func (t *tx) UpdateDeviceCode(ctx context.Context, hash []byte, fn func(store.DeviceCode) (store.DeviceCode, error)) error {
	old, err := getOne(ctx, t.q, "device code", "by hash", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE hash = $1 FOR UPDATE`, blob(hash))
	if err != nil {
		return err
	}
	c, err := fn(old)
	if err != nil {
		return err
	}
	if !bytes.Equal(c.Hash, hash) {
		return errors.New("update device code: hash changed")
	}
	_, err = t.exec(ctx, `UPDATE device_codes SET user_code_hash = $2, tenant = $3,
		client_id = $4, scopes = $5, status = $6, user_id = $7, session_id = $8,
		auth_time = $9, poll_interval = $10, last_polled_at = $11, created_at = $12,
		expires_at = $13 WHERE hash = $1`, deviceCodeArgs(c)...)
	if err != nil {
		return deviceWriteErr("update", err)
	}
	return nil
}

// Sessions.

const sessionCols = `hash, id, tenant, coalesce(user_id, ''), auth_time, created_at, expires_at`

func scanSession(sc scanner) (store.Session, error) {
	var s store.Session
	err := sc.Scan(&s.Hash, &s.ID, &s.Tenant, &s.UserID, &s.AuthTime, &s.CreatedAt, &s.ExpiresAt)
	return s, err
}

func (r reader) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	return getOne(ctx, r.q, "session", "by hash", scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE hash = $1`, blob(hash))
}

func (r reader) GetSessionByID(ctx context.Context, id string) (store.Session, error) {
	return getOne(ctx, r.q, "session", id, scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE id = $1`, id)
}

func (t *tx) CreateSession(ctx context.Context, s store.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO sessions (hash, id, tenant, user_id, auth_time,
		created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		blob(s.Hash), s.ID, s.Tenant, nullID(s.UserID), s.AuthTime, s.CreatedAt, s.ExpiresAt)
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("create session %q: id taken: %w", s.ID, store.ErrConflict)
	}
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("session %q", s.ID), err)
	}
	return nil
}

func (t *tx) DeleteSession(ctx context.Context, hash []byte) error {
	ok, err := t.exec(ctx, `DELETE FROM sessions WHERE hash = $1`, blob(hash))
	if err != nil {
		return fmt.Errorf("delete session: %w", err)
	}
	if !ok {
		return fmt.Errorf("session: %w", store.ErrNotFound)
	}
	return nil
}

// Consents.

const consentCols = `tenant, user_id, client_id, scopes, created_at, updated_at`

func scanConsent(sc scanner) (store.Consent, error) {
	var c store.Consent
	err := sc.Scan(&c.Tenant, &c.UserID, &c.ClientID, &c.Scopes, &c.CreatedAt, &c.UpdatedAt)
	c.Scopes = nilIfEmpty(c.Scopes)
	return c, err
}

func (r reader) GetConsent(ctx context.Context, tenant, userID, clientID string) (store.Consent, error) {
	return getOne(ctx, r.q, "consent", tenant+"/"+userID+"/"+clientID, scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = $1 AND user_id = $2
		AND client_id = $3`, tenant, userID, clientID)
}

func (r reader) ListConsents(ctx context.Context, tenant, userID string) ([]store.Consent, error) {
	return list(ctx, r.q, "consents", scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = $1 AND user_id = $2
		ORDER BY client_id`, tenant, userID)
}

func (t *tx) PutConsent(ctx context.Context, c store.Consent) error {
	t.stamp(&c.CreatedAt, &c.UpdatedAt)
	// A replacement keeps the first consent's creation time.
	_, err := t.exec(ctx, `INSERT INTO consents (`+consentCols+`) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (tenant, user_id, client_id) DO UPDATE SET scopes = EXCLUDED.scopes,
			updated_at = EXCLUDED.updated_at`,
		c.Tenant, c.UserID, c.ClientID, strs(c.Scopes), c.CreatedAt, c.UpdatedAt)
	if err != nil {
		return grantWriteErr("put", fmt.Sprintf("consent %s/%s/%s", c.Tenant, c.UserID, c.ClientID), err)
	}
	return nil
}

func (t *tx) DeleteConsent(ctx context.Context, tenant, userID, clientID string) error {
	ok, err := t.exec(ctx, `DELETE FROM consents WHERE tenant = $1 AND user_id = $2
		AND client_id = $3`, tenant, userID, clientID)
	if err != nil {
		return fmt.Errorf("delete consent %s/%s/%s: %w", tenant, userID, clientID, err)
	}
	if !ok {
		return fmt.Errorf("consent %s/%s/%s: %w", tenant, userID, clientID, store.ErrNotFound)
	}
	return nil
}

// Client assertions and collection.

func (t *tx) UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	// An expired record not yet collected no longer blocks its jti, so
	// accepting it again depends on the clock only, not on the collector.
	// Of two concurrent uses, the second waits on the first's row lock and
	// then finds the row unexpired: it updates nothing.
	ok, err := t.exec(ctx, `INSERT INTO client_assertions (client_id, jti, expires_at)
		VALUES ($1, $2, $3) ON CONFLICT (client_id, jti) DO UPDATE
		SET expires_at = EXCLUDED.expires_at WHERE client_assertions.expires_at <= $4`,
		clientID, jti, expiresAt, t.now())
	if err != nil {
		return grantWriteErr("use", fmt.Sprintf("assertion %q of client %q", jti, clientID), err)
	}
	if !ok {
		return fmt.Errorf("assertion %q of client %q: already used: %w", jti, clientID, store.ErrAlreadyExists)
	}
	return nil
}

// grantTables are the tables DeleteExpiredGrants collects from.
var grantTables = []string{"auth_codes", "refresh_families", "device_codes", "sessions",
	"client_assertions"}

func (t *tx) DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error) {
	// Expired at the expiry instant, as revocations are.
	total := 0
	for _, table := range grantTables {
		tag, err := t.tx.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= $1`, now)
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, mapErr(err))
		}
		total += int(tag.RowsAffected())
	}
	return total, nil
}
