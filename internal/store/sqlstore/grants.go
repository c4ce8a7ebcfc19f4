package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Grant records are found by the SHA-256 of a secret, which errors never
// show: it is as good as a secret to logs. Every Update* locks its row
// (Dialect.ForUpdate; SQLite's one writer needs no lock) before calling fn,
// so of two concurrent redemptions of one code the second sees the first's
// result.

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

func scanAuthCode(d Dialect, sc Row) (store.AuthCode, error) {
	var c store.AuthCode
	err := sc.Scan(&c.Hash, &c.Tenant, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI,
		d.StringsDest(&c.Scopes), &c.Nonce, &c.CodeChallenge, d.TimeDest(&c.AuthTime),
		d.TimeDest(&c.CreatedAt), d.TimeDest(&c.ExpiresAt), d.NullTimeDest(&c.RedeemedAt),
		&c.IssuedJTI, d.TimeDest(&c.IssuedExpiresAt), &c.IssuedFamily)
	c.Scopes = nilIfEmpty(c.Scopes)
	return c, err
}

// GetAuthCode implements store.GrantReader.
func (r Reader) GetAuthCode(ctx context.Context, hash []byte) (store.AuthCode, error) {
	return getOne(ctx, r.q, r.d, "auth code", "by hash", scanAuthCode,
		`SELECT `+authCodeCols+` FROM auth_codes WHERE hash = ?`, blob(hash))
}

// authCodeArgs returns a code's columns, the hash first.
func authCodeArgs(d Dialect, c store.AuthCode) ([]any, error) {
	e := encoder{d: d}
	return []any{blob(c.Hash), c.Tenant, c.ClientID, nullID(c.UserID), c.SessionID,
		c.RedirectURI, e.strings(c.Scopes), c.Nonce, c.CodeChallenge, d.Time(c.AuthTime),
		d.Time(c.CreatedAt), d.Time(c.ExpiresAt), d.NullTime(c.RedeemedAt), c.IssuedJTI,
		d.Time(c.IssuedExpiresAt), c.IssuedFamily}, e.err
}

// CreateAuthCode implements store.GrantTx.
func (t *Writer) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	args, err := authCodeArgs(t.d, c)
	if err != nil {
		return grantWriteErr("create", "auth code", err)
	}
	_, err = t.exec(ctx, `INSERT INTO auth_codes (hash, tenant, client_id, user_id,
		session_id, redirect_uri, scopes, nonce, code_challenge, auth_time, created_at,
		expires_at, redeemed_at, issued_jti, issued_expires_at, issued_family)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args...)
	if err != nil {
		return grantWriteErr("create", "auth code", err)
	}
	return nil
}

// UpdateAuthCode implements store.GrantTx.
func (t *Writer) UpdateAuthCode(ctx context.Context, hash []byte, fn func(store.AuthCode) (store.AuthCode, error)) error {
	c, err := modifyByHash(ctx, t, "auth code", hash, scanAuthCode,
		`SELECT `+authCodeCols+` FROM auth_codes WHERE hash = ?`,
		func(v store.AuthCode) []byte { return v.Hash }, fn)
	if err != nil {
		return err
	}
	args, err := authCodeArgs(t.d, c)
	if err != nil {
		return grantWriteErr("update", "auth code", err)
	}
	_, err = t.exec(ctx, `UPDATE auth_codes SET tenant = ?, client_id = ?, user_id = ?,
		session_id = ?, redirect_uri = ?, scopes = ?, nonce = ?, code_challenge = ?,
		auth_time = ?, created_at = ?, expires_at = ?, redeemed_at = ?,
		issued_jti = ?, issued_expires_at = ?, issued_family = ? WHERE hash = ?`,
		keyLast(args)...)
	if err != nil {
		return grantWriteErr("update", "auth code", err)
	}
	return nil
}

// Refresh token families.

const familyCols = `id, tenant, client_id, coalesce(user_id, ''), session_id, scopes,
	auth_time, current_hash, previous_hash, rotated_at, generation, last_jti,
	last_jti_expires_at, created_at, expires_at, revoked_at, revoke_reason`

func scanFamily(d Dialect, sc Row) (store.RefreshFamily, error) {
	var f store.RefreshFamily
	err := sc.Scan(&f.ID, &f.Tenant, &f.ClientID, &f.UserID, &f.SessionID, d.StringsDest(&f.Scopes),
		d.TimeDest(&f.AuthTime), &f.CurrentHash, &f.PreviousHash, d.TimeDest(&f.RotatedAt),
		&f.Generation, &f.LastJTI, d.TimeDest(&f.LastJTIExpiresAt), d.TimeDest(&f.CreatedAt),
		d.TimeDest(&f.ExpiresAt), d.NullTimeDest(&f.RevokedAt), &f.RevokeReason)
	f.Scopes = nilIfEmpty(f.Scopes)
	f.CurrentHash, f.PreviousHash = nilIfEmpty(f.CurrentHash), nilIfEmpty(f.PreviousHash)
	return f, err
}

// GetRefreshFamily implements store.GrantReader.
func (r Reader) GetRefreshFamily(ctx context.Context, id string) (store.RefreshFamily, error) {
	return getOne(ctx, r.q, r.d, "refresh family", id, scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE id = ?`, id)
}

// ListRefreshFamilies implements store.GrantReader.
func (r Reader) ListRefreshFamilies(ctx context.Context, tenant, userID, clientID string) ([]store.RefreshFamily, error) {
	var w where
	w.add(true, "tenant = ?", tenant)
	w.add(true, "user_id = ?", userID)
	w.add(clientID != "", "client_id = ?", clientID)
	return list(ctx, r.q, r.d, "refresh families", scanFamily,
		`SELECT `+familyCols+` FROM refresh_families`+w.sql()+` ORDER BY created_at, id`,
		w.args...)
}

// familyArgs returns a family's columns, the id first.
func familyArgs(d Dialect, f store.RefreshFamily) ([]any, error) {
	e := encoder{d: d}
	return []any{f.ID, f.Tenant, f.ClientID, nullID(f.UserID), f.SessionID, e.strings(f.Scopes),
		d.Time(f.AuthTime), blob(f.CurrentHash), blob(f.PreviousHash), d.Time(f.RotatedAt),
		f.Generation, f.LastJTI, d.Time(f.LastJTIExpiresAt), d.Time(f.CreatedAt),
		d.Time(f.ExpiresAt), d.NullTime(f.RevokedAt), f.RevokeReason}, e.err
}

// CreateRefreshFamily implements store.GrantTx.
func (t *Writer) CreateRefreshFamily(ctx context.Context, f store.RefreshFamily) error {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = t.now()
	}
	args, err := familyArgs(t.d, f)
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("refresh family %q", f.ID), err)
	}
	_, err = t.exec(ctx, `INSERT INTO refresh_families (id, tenant, client_id, user_id,
		session_id, scopes, auth_time, current_hash, previous_hash, rotated_at, generation,
		last_jti, last_jti_expires_at, created_at, expires_at, revoked_at, revoke_reason)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		args...)
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("refresh family %q", f.ID), err)
	}
	return nil
}

// UpdateRefreshFamily implements store.GrantTx.
func (t *Writer) UpdateRefreshFamily(ctx context.Context, id string, fn func(store.RefreshFamily) (store.RefreshFamily, error)) error {
	_, f, err := modify(ctx, t, "refresh family", id, scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE id = ?`,
		func(v store.RefreshFamily) string { return v.ID }, fn)
	if err != nil {
		return err
	}
	args, err := familyArgs(t.d, f)
	if err != nil {
		return grantWriteErr("update", fmt.Sprintf("refresh family %q", id), err)
	}
	_, err = t.exec(ctx, `UPDATE refresh_families SET tenant = ?, client_id = ?,
		user_id = ?, session_id = ?, scopes = ?, auth_time = ?, current_hash = ?,
		previous_hash = ?, rotated_at = ?, generation = ?, last_jti = ?,
		last_jti_expires_at = ?, created_at = ?, expires_at = ?, revoked_at = ?,
		revoke_reason = ? WHERE id = ?`, keyLast(args)...)
	if err != nil {
		return grantWriteErr("update", fmt.Sprintf("refresh family %q", id), err)
	}
	return nil
}

// Device codes.

const deviceCodeCols = `hash, user_code_hash, tenant, client_id, scopes, status,
	coalesce(user_id, ''), session_id, auth_time, poll_interval, last_polled_at,
	created_at, expires_at`

func scanDeviceCode(d Dialect, sc Row) (store.DeviceCode, error) {
	var c store.DeviceCode
	var interval int64
	err := sc.Scan(&c.Hash, &c.UserCodeHash, &c.Tenant, &c.ClientID, d.StringsDest(&c.Scopes),
		&c.Status, &c.UserID, &c.SessionID, d.TimeDest(&c.AuthTime), &interval,
		d.TimeDest(&c.LastPolledAt), d.TimeDest(&c.CreatedAt), d.TimeDest(&c.ExpiresAt))
	c.Scopes = nilIfEmpty(c.Scopes)
	c.Interval = time.Duration(interval)
	return c, err
}

// GetDeviceCode implements store.GrantReader.
func (r Reader) GetDeviceCode(ctx context.Context, hash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, r.d, "device code", "by hash", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE hash = ?`, blob(hash))
}

// GetDeviceCodeByUserCode implements store.GrantReader.
func (r Reader) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, r.d, "device code", "by user code", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE user_code_hash = ?`, blob(userCodeHash))
}

// deviceCodeArgs returns a device code's columns, the hash first.
func deviceCodeArgs(d Dialect, c store.DeviceCode) ([]any, error) {
	e := encoder{d: d}
	return []any{blob(c.Hash), blob(c.UserCodeHash), c.Tenant, c.ClientID, e.strings(c.Scopes),
		c.Status, nullID(c.UserID), c.SessionID, d.Time(c.AuthTime), int64(c.Interval),
		d.Time(c.LastPolledAt), d.Time(c.CreatedAt), d.Time(c.ExpiresAt)}, e.err
}

// deviceWriteErr explains a failed device code write.
func deviceWriteErr(op string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("%s device code: user code taken: %w", op, store.ErrConflict)
	}
	return grantWriteErr(op, "device code", err)
}

// CreateDeviceCode implements store.GrantTx.
func (t *Writer) CreateDeviceCode(ctx context.Context, c store.DeviceCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	args, err := deviceCodeArgs(t.d, c)
	if err != nil {
		return deviceWriteErr("create", err)
	}
	_, err = t.exec(ctx, `INSERT INTO device_codes (hash, user_code_hash, tenant, client_id,
		scopes, status, user_id, session_id, auth_time, poll_interval, last_polled_at,
		created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return deviceWriteErr("create", err)
	}
	return nil
}

// UpdateDeviceCode implements store.GrantTx.
func (t *Writer) UpdateDeviceCode(ctx context.Context, hash []byte, fn func(store.DeviceCode) (store.DeviceCode, error)) error {
	c, err := modifyByHash(ctx, t, "device code", hash, scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE hash = ?`,
		func(v store.DeviceCode) []byte { return v.Hash }, fn)
	if err != nil {
		return err
	}
	args, err := deviceCodeArgs(t.d, c)
	if err != nil {
		return deviceWriteErr("update", err)
	}
	_, err = t.exec(ctx, `UPDATE device_codes SET user_code_hash = ?, tenant = ?,
		client_id = ?, scopes = ?, status = ?, user_id = ?, session_id = ?,
		auth_time = ?, poll_interval = ?, last_polled_at = ?, created_at = ?,
		expires_at = ? WHERE hash = ?`, keyLast(args)...)
	if err != nil {
		return deviceWriteErr("update", err)
	}
	return nil
}

// Sessions.

const sessionCols = `hash, id, tenant, coalesce(user_id, ''), auth_time, created_at, expires_at`

func scanSession(d Dialect, sc Row) (store.Session, error) {
	var s store.Session
	err := sc.Scan(&s.Hash, &s.ID, &s.Tenant, &s.UserID, d.TimeDest(&s.AuthTime),
		d.TimeDest(&s.CreatedAt), d.TimeDest(&s.ExpiresAt))
	return s, err
}

// GetSession implements store.GrantReader.
func (r Reader) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	return getOne(ctx, r.q, r.d, "session", "by hash", scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, blob(hash))
}

// GetSessionByID implements store.GrantReader.
func (r Reader) GetSessionByID(ctx context.Context, id string) (store.Session, error) {
	return getOne(ctx, r.q, r.d, "session", id, scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id)
}

// CreateSession implements store.GrantTx.
func (t *Writer) CreateSession(ctx context.Context, s store.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO sessions (hash, id, tenant, user_id, auth_time,
		created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		blob(s.Hash), s.ID, s.Tenant, nullID(s.UserID), t.d.Time(s.AuthTime), t.d.Time(s.CreatedAt),
		t.d.Time(s.ExpiresAt))
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("create session %q: id taken: %w", s.ID, store.ErrConflict)
	}
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("session %q", s.ID), err)
	}
	return nil
}

// DeleteSession implements store.GrantTx.
func (t *Writer) DeleteSession(ctx context.Context, hash []byte) error {
	ok, err := t.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, blob(hash))
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

func scanConsent(d Dialect, sc Row) (store.Consent, error) {
	var c store.Consent
	err := sc.Scan(&c.Tenant, &c.UserID, &c.ClientID, d.StringsDest(&c.Scopes),
		d.TimeDest(&c.CreatedAt), d.TimeDest(&c.UpdatedAt))
	c.Scopes = nilIfEmpty(c.Scopes)
	return c, err
}

// GetConsent implements store.GrantReader.
func (r Reader) GetConsent(ctx context.Context, tenant, userID, clientID string) (store.Consent, error) {
	return getOne(ctx, r.q, r.d, "consent", tenant+"/"+userID+"/"+clientID, scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = ? AND user_id = ?
		AND client_id = ?`, tenant, userID, clientID)
}

// ListConsents implements store.GrantReader.
func (r Reader) ListConsents(ctx context.Context, tenant, userID string) ([]store.Consent, error) {
	return list(ctx, r.q, r.d, "consents", scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = ? AND user_id = ?
		ORDER BY client_id`, tenant, userID)
}

// PutConsent implements store.GrantTx.
func (t *Writer) PutConsent(ctx context.Context, c store.Consent) error {
	t.stamp(&c.CreatedAt, &c.UpdatedAt)
	// A replacement keeps the first consent's creation time.
	scopes, err := t.d.Strings(c.Scopes)
	if err != nil {
		return grantWriteErr("put", fmt.Sprintf("consent %s/%s/%s", c.Tenant, c.UserID, c.ClientID), err)
	}
	_, err = t.exec(ctx, `INSERT INTO consents (`+consentCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
			updated_at = excluded.updated_at`,
		c.Tenant, c.UserID, c.ClientID, scopes, t.d.Time(c.CreatedAt), t.d.Time(c.UpdatedAt))
	if err != nil {
		return grantWriteErr("put", fmt.Sprintf("consent %s/%s/%s", c.Tenant, c.UserID, c.ClientID), err)
	}
	return nil
}

// DeleteConsent implements store.GrantTx.
func (t *Writer) DeleteConsent(ctx context.Context, tenant, userID, clientID string) error {
	ok, err := t.exec(ctx, `DELETE FROM consents WHERE tenant = ? AND user_id = ?
		AND client_id = ?`, tenant, userID, clientID)
	if err != nil {
		return fmt.Errorf("delete consent %s/%s/%s: %w", tenant, userID, clientID, err)
	}
	if !ok {
		return fmt.Errorf("consent %s/%s/%s: %w", tenant, userID, clientID, store.ErrNotFound)
	}
	return nil
}

// Client assertions and collection.

// UseClientAssertion implements store.GrantTx.
func (t *Writer) UseClientAssertion(ctx context.Context, clientID, jti string, expiresAt time.Time) error {
	// An expired record not yet collected no longer blocks its jti, so
	// accepting it again depends on the clock only, not on the collector.
	// Of two concurrent uses, the second waits on the first's row lock and
	// then finds the row unexpired: it updates nothing.
	ok, err := t.exec(ctx, `INSERT INTO client_assertions (client_id, jti, expires_at)
		VALUES (?, ?, ?) ON CONFLICT (client_id, jti) DO UPDATE
		SET expires_at = excluded.expires_at WHERE client_assertions.expires_at <= ?`,
		clientID, jti, t.d.Time(expiresAt), t.d.Time(t.now()))
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

// DeleteExpiredGrants implements store.GrantTx.
func (t *Writer) DeleteExpiredGrants(ctx context.Context, now time.Time) (int, error) {
	// Expired at the expiry instant, as revocations are.
	total := 0
	for _, table := range grantTables {
		n, err := t.q.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, t.d.Time(now))
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, t.d.MapErr(err))
		}
		total += int(n)
	}
	return total, nil
}

// keyLast moves a row's key, first in args, to the end, for an
// UPDATE … WHERE key = ? that sets the other columns in order.
func keyLast(args []any) []any { return append(args[1:], args[0]) }
