package sqlite

import (
	"bytes"
	"context"
	"database/sql"
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
// show: it is as good as a secret to logs. Updates need no row lock: every write
// transaction runs alone on the one writer connection (BEGIN IMMEDIATE), so
// two redemptions of one code are serialised by SQLite itself.

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
	var scopes, authTime, created, expires, issuedExp string
	var redeemed sql.NullString
	err := sc.Scan(&c.Hash, &c.Tenant, &c.ClientID, &c.UserID, &c.SessionID, &c.RedirectURI,
		&scopes, &c.Nonce, &c.CodeChallenge, &authTime, &created, &expires, &redeemed,
		&c.IssuedJTI, &issuedExp, &c.IssuedFamily)
	if err != nil {
		return c, err
	}
	var d decoder
	c.Scopes = d.strings(scopes)
	c.AuthTime, c.CreatedAt, c.ExpiresAt = d.time(authTime), d.time(created), d.time(expires)
	c.RedeemedAt, c.IssuedExpiresAt = d.timePtr(redeemed), d.time(issuedExp)
	return c, d.err
}

func (r reader) GetAuthCode(ctx context.Context, hash []byte) (store.AuthCode, error) {
	return getOne(ctx, r.q, "auth code", "by hash", scanAuthCode,
		`SELECT `+authCodeCols+` FROM auth_codes WHERE hash = ?`, hash)
}

// authCodeArgs returns a code's columns in insert order, the hash last.
func authCodeArgs(c store.AuthCode) ([]any, error) {
	scopes, err := jsonText(c.Scopes)
	if err != nil {
		return nil, err
	}
	return []any{c.Tenant, c.ClientID, nullID(c.UserID), c.SessionID, c.RedirectURI, scopes,
		c.Nonce, c.CodeChallenge, fmtTime(c.AuthTime), fmtTime(c.CreatedAt), fmtTime(c.ExpiresAt),
		nullTime(c.RedeemedAt), c.IssuedJTI, fmtTime(c.IssuedExpiresAt), c.IssuedFamily,
		blob(c.Hash)}, nil
}

func (t *tx) CreateAuthCode(ctx context.Context, c store.AuthCode) error {
	if c.CreatedAt.IsZero() {
		c.CreatedAt = t.now()
	}
	args, err := authCodeArgs(c)
	if err != nil {
		return grantWriteErr("create", "auth code", err)
	}
	_, err = t.exec(ctx, `INSERT INTO auth_codes (tenant, client_id, user_id, session_id,
		redirect_uri, scopes, nonce, code_challenge, auth_time, created_at, expires_at,
		redeemed_at, issued_jti, issued_expires_at, issued_family, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return grantWriteErr("create", "auth code", err)
	}
	return nil
}

func (t *tx) UpdateAuthCode(ctx context.Context, hash []byte, fn func(store.AuthCode) (store.AuthCode, error)) error {
	old, err := t.GetAuthCode(ctx, hash)
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
	args, err := authCodeArgs(c)
	if err != nil {
		return grantWriteErr("update", "auth code", err)
	}
	_, err = t.exec(ctx, `UPDATE auth_codes SET tenant = ?, client_id = ?, user_id = ?,
		session_id = ?, redirect_uri = ?, scopes = ?, nonce = ?, code_challenge = ?,
		auth_time = ?, created_at = ?, expires_at = ?, redeemed_at = ?, issued_jti = ?,
		issued_expires_at = ?, issued_family = ? WHERE hash = ?`, args...)
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
	var scopes, authTime, rotated, lastExp, created, expires string
	var revoked sql.NullString
	err := sc.Scan(&f.ID, &f.Tenant, &f.ClientID, &f.UserID, &f.SessionID, &scopes, &authTime,
		&f.CurrentHash, &f.PreviousHash, &rotated, &f.Generation, &f.LastJTI, &lastExp,
		&created, &expires, &revoked, &f.RevokeReason)
	if err != nil {
		return f, err
	}
	var d decoder
	f.Scopes = d.strings(scopes)
	f.AuthTime, f.RotatedAt, f.LastJTIExpiresAt = d.time(authTime), d.time(rotated), d.time(lastExp)
	f.CreatedAt, f.ExpiresAt, f.RevokedAt = d.time(created), d.time(expires), d.timePtr(revoked)
	f.CurrentHash, f.PreviousHash = bytesOrNil(f.CurrentHash), bytesOrNil(f.PreviousHash)
	return f, d.err
}

// bytesOrNil reads an empty blob back as nil, as it was written.
func bytesOrNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

func (r reader) GetRefreshFamily(ctx context.Context, id string) (store.RefreshFamily, error) {
	return getOne(ctx, r.q, "refresh family", id, scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE id = ?`, id)
}

func (r reader) ListRefreshFamilies(ctx context.Context, tenant, userID, clientID string) ([]store.RefreshFamily, error) {
	if clientID == "" {
		return list(ctx, r.q, "refresh families", scanFamily,
			`SELECT `+familyCols+` FROM refresh_families WHERE tenant = ? AND user_id = ?
			ORDER BY created_at, id`, tenant, userID)
	}
	return list(ctx, r.q, "refresh families", scanFamily,
		`SELECT `+familyCols+` FROM refresh_families WHERE tenant = ? AND user_id = ?
		AND client_id = ? ORDER BY created_at, id`, tenant, userID, clientID)
}

// familyArgs returns a family's columns in insert order, the id last.
func familyArgs(f store.RefreshFamily) ([]any, error) {
	scopes, err := jsonText(f.Scopes)
	if err != nil {
		return nil, err
	}
	return []any{f.Tenant, f.ClientID, nullID(f.UserID), f.SessionID, scopes,
		fmtTime(f.AuthTime), blob(f.CurrentHash), blob(f.PreviousHash), fmtTime(f.RotatedAt),
		f.Generation, f.LastJTI, fmtTime(f.LastJTIExpiresAt), fmtTime(f.CreatedAt),
		fmtTime(f.ExpiresAt), nullTime(f.RevokedAt), f.RevokeReason, f.ID}, nil
}

func (t *tx) CreateRefreshFamily(ctx context.Context, f store.RefreshFamily) error {
	if f.CreatedAt.IsZero() {
		f.CreatedAt = t.now()
	}
	args, err := familyArgs(f)
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("refresh family %q", f.ID), err)
	}
	_, err = t.exec(ctx, `INSERT INTO refresh_families (tenant, client_id, user_id,
		session_id, scopes, auth_time, current_hash, previous_hash, rotated_at, generation,
		last_jti, last_jti_expires_at, created_at, expires_at, revoked_at, revoke_reason, id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("refresh family %q", f.ID), err)
	}
	return nil
}

func (t *tx) UpdateRefreshFamily(ctx context.Context, id string, fn func(store.RefreshFamily) (store.RefreshFamily, error)) error {
	old, err := t.GetRefreshFamily(ctx, id)
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
	args, err := familyArgs(f)
	if err != nil {
		return grantWriteErr("update", fmt.Sprintf("refresh family %q", id), err)
	}
	_, err = t.exec(ctx, `UPDATE refresh_families SET tenant = ?, client_id = ?, user_id = ?,
		session_id = ?, scopes = ?, auth_time = ?, current_hash = ?, previous_hash = ?,
		rotated_at = ?, generation = ?, last_jti = ?, last_jti_expires_at = ?, created_at = ?,
		expires_at = ?, revoked_at = ?, revoke_reason = ? WHERE id = ?`, args...)
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
	var scopes, authTime, polled, created, expires string
	var interval int64
	err := sc.Scan(&c.Hash, &c.UserCodeHash, &c.Tenant, &c.ClientID, &scopes, &c.Status,
		&c.UserID, &c.SessionID, &authTime, &interval, &polled, &created, &expires)
	if err != nil {
		return c, err
	}
	var d decoder
	c.Scopes = d.strings(scopes)
	c.Interval = time.Duration(interval)
	c.AuthTime, c.LastPolledAt = d.time(authTime), d.time(polled)
	c.CreatedAt, c.ExpiresAt = d.time(created), d.time(expires)
	return c, d.err
}

func (r reader) GetDeviceCode(ctx context.Context, hash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, "device code", "by hash", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE hash = ?`, hash)
}

func (r reader) GetDeviceCodeByUserCode(ctx context.Context, userCodeHash []byte) (store.DeviceCode, error) {
	return getOne(ctx, r.q, "device code", "by user code", scanDeviceCode,
		`SELECT `+deviceCodeCols+` FROM device_codes WHERE user_code_hash = ?`, userCodeHash)
}

// deviceCodeArgs returns a device code's columns in insert order, the hash last.
func deviceCodeArgs(c store.DeviceCode) ([]any, error) {
	scopes, err := jsonText(c.Scopes)
	if err != nil {
		return nil, err
	}
	return []any{blob(c.UserCodeHash), c.Tenant, c.ClientID, scopes, c.Status, nullID(c.UserID),
		c.SessionID, fmtTime(c.AuthTime), int64(c.Interval), fmtTime(c.LastPolledAt),
		fmtTime(c.CreatedAt), fmtTime(c.ExpiresAt), blob(c.Hash)}, nil
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
	args, err := deviceCodeArgs(c)
	if err != nil {
		return deviceWriteErr("create", err)
	}
	_, err = t.exec(ctx, `INSERT INTO device_codes (user_code_hash, tenant, client_id, scopes,
		status, user_id, session_id, auth_time, poll_interval, last_polled_at, created_at,
		expires_at, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, args...)
	if err != nil {
		return deviceWriteErr("create", err)
	}
	return nil
}

func (t *tx) UpdateDeviceCode(ctx context.Context, hash []byte, fn func(store.DeviceCode) (store.DeviceCode, error)) error {
	old, err := t.GetDeviceCode(ctx, hash)
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
	args, err := deviceCodeArgs(c)
	if err != nil {
		return deviceWriteErr("update", err)
	}
	_, err = t.exec(ctx, `UPDATE device_codes SET user_code_hash = ?, tenant = ?, client_id = ?,
		scopes = ?, status = ?, user_id = ?, session_id = ?, auth_time = ?, poll_interval = ?,
		last_polled_at = ?, created_at = ?, expires_at = ? WHERE hash = ?`, args...)
	if err != nil {
		return deviceWriteErr("update", err)
	}
	return nil
}

// Sessions.

const sessionCols = `hash, id, tenant, coalesce(user_id, ''), auth_time, created_at, expires_at`

func scanSession(sc scanner) (store.Session, error) {
	var s store.Session
	var authTime, created, expires string
	err := sc.Scan(&s.Hash, &s.ID, &s.Tenant, &s.UserID, &authTime, &created, &expires)
	if err != nil {
		return s, err
	}
	var d decoder
	s.AuthTime, s.CreatedAt, s.ExpiresAt = d.time(authTime), d.time(created), d.time(expires)
	return s, d.err
}

func (r reader) GetSession(ctx context.Context, hash []byte) (store.Session, error) {
	return getOne(ctx, r.q, "session", "by hash", scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, hash)
}

func (r reader) GetSessionByID(ctx context.Context, id string) (store.Session, error) {
	return getOne(ctx, r.q, "session", id, scanSession,
		`SELECT `+sessionCols+` FROM sessions WHERE id = ?`, id)
}

func (t *tx) CreateSession(ctx context.Context, s store.Session) error {
	if s.CreatedAt.IsZero() {
		s.CreatedAt = t.now()
	}
	_, err := t.exec(ctx, `INSERT INTO sessions (hash, id, tenant, user_id, auth_time,
		created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		blob(s.Hash), s.ID, s.Tenant, nullID(s.UserID), fmtTime(s.AuthTime),
		fmtTime(s.CreatedAt), fmtTime(s.ExpiresAt))
	if errors.Is(err, store.ErrConflict) {
		return fmt.Errorf("create session %q: id taken: %w", s.ID, store.ErrConflict)
	}
	if err != nil {
		return grantWriteErr("create", fmt.Sprintf("session %q", s.ID), err)
	}
	return nil
}

func (t *tx) DeleteSession(ctx context.Context, hash []byte) error {
	ok, err := t.exec(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
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
	var scopes, created, updated string
	err := sc.Scan(&c.Tenant, &c.UserID, &c.ClientID, &scopes, &created, &updated)
	if err != nil {
		return c, err
	}
	var d decoder
	c.Scopes = d.strings(scopes)
	c.CreatedAt, c.UpdatedAt = d.time(created), d.time(updated)
	return c, d.err
}

func (r reader) GetConsent(ctx context.Context, tenant, userID, clientID string) (store.Consent, error) {
	return getOne(ctx, r.q, "consent", tenant+"/"+userID+"/"+clientID, scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = ? AND user_id = ? AND client_id = ?`,
		tenant, userID, clientID)
}

func (r reader) ListConsents(ctx context.Context, tenant, userID string) ([]store.Consent, error) {
	return list(ctx, r.q, "consents", scanConsent,
		`SELECT `+consentCols+` FROM consents WHERE tenant = ? AND user_id = ? ORDER BY client_id`,
		tenant, userID)
}

func (t *tx) PutConsent(ctx context.Context, c store.Consent) error {
	t.stamp(&c.CreatedAt, &c.UpdatedAt)
	scopes, err := jsonText(c.Scopes)
	if err != nil {
		return fmt.Errorf("put consent %s/%s/%s: %w", c.Tenant, c.UserID, c.ClientID, err)
	}
	// A replacement keeps the first consent's creation time.
	_, err = t.exec(ctx, `INSERT INTO consents (`+consentCols+`) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (tenant, user_id, client_id) DO UPDATE SET scopes = excluded.scopes,
			updated_at = excluded.updated_at`,
		c.Tenant, c.UserID, c.ClientID, scopes, fmtTime(c.CreatedAt), fmtTime(c.UpdatedAt))
	if err != nil {
		return grantWriteErr("put", fmt.Sprintf("consent %s/%s/%s", c.Tenant, c.UserID, c.ClientID), err)
	}
	return nil
}

func (t *tx) DeleteConsent(ctx context.Context, tenant, userID, clientID string) error {
	ok, err := t.exec(ctx, `DELETE FROM consents WHERE tenant = ? AND user_id = ? AND client_id = ?`,
		tenant, userID, clientID)
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
	ok, err := t.exec(ctx, `INSERT INTO client_assertions (client_id, jti, expires_at)
		VALUES (?, ?, ?) ON CONFLICT (client_id, jti) DO UPDATE
		SET expires_at = excluded.expires_at WHERE client_assertions.expires_at <= ?`,
		clientID, jti, fmtTime(expiresAt), fmtTime(t.now()))
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
		res, err := t.tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, fmtTime(now))
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, mapErr(err))
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("delete expired %s: %w", table, err)
		}
		total += int(n)
	}
	return total, nil
}
