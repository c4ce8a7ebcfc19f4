package authz

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// The OAuth 2.0 Device Authorization Grant (RFC 8628): a device without a
// browser (a CLI, a TV, a build agent) asks for a device code and a short
// user code, the person types the user code at oauth.PathDevice on a phone or
// laptop and approves, and the device meanwhile polls the token endpoint
// with the device code until it gets its tokens.

const (
	// deviceCodePrefix marks device codes for secret scanners.
	deviceCodePrefix = "ksd_"
	// maxDeviceCodeLen bounds what we hash; ours are 56 characters.
	maxDeviceCodeLen = 128
	// userCodeAlphabet is RFC 8628 §6.1's: consonants only, so no word is
	// spelled by accident, and no letter is mistaken for a digit. Eight of
	// them are 34.5 bits, enough with the per-address failure limit.
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLen      = 8
	// maxUserCodeInput bounds a typed user code before normalising; room
	// for spaces and dashes people add.
	maxUserCodeInput = 32
	// userCodeAttempts bounds the retries on a user code collision, which
	// only a store with millions of live codes would see at all.
	userCodeAttempts = 5
	// slowDownStep is what every slow_down adds to the interval (RFC 8628
	// §3.5).
	slowDownStep = 5 * time.Second
)

// deviceAuthResponse is the device authorization response (RFC 8628 §3.2).
type deviceAuthResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

// handleDeviceAuthorization is the device authorization endpoint (RFC 8628
// §3.1), framed like the token endpoint.
func (s *Server) handleDeviceAuthorization(w http.ResponseWriter, r *http.Request) {
	resp, c, err := s.deviceAuthorization(w, r)
	if err != nil {
		outcome := oauth.CodeServerError
		var e *Error
		if errors.As(err, &e) {
			outcome = e.Code
		}
		if outcome != oauth.CodeInvalidClient && outcome != oauth.CodeServerError {
			clientID := ""
			if c != nil {
				clientID = c.ID
			}
			s.log.Info("device authorization refused", "error", outcome, "client_id", clientID, "remote_addr", remoteAddr(r))
		}
		s.metrics.authorizations.WithLabelValues(outcome).Inc()
		writeError(w, s.log, err)
		return
	}
	s.metrics.authorizations.WithLabelValues("device_code").Inc()
	s.log.Info("device code issued", "client_id", c.ID, "tenant", c.Tenant)
	writeJSON(w, http.StatusOK, resp)
}

func (s *Server) deviceAuthorization(w http.ResponseWriter, r *http.Request) (*deviceAuthResponse, *store.Client, error) {
	f, e := readForm(w, r, s.cfg.MaxBodyBytes)
	if e != nil {
		return nil, nil, e
	}
	cred, e := parseClientCredentials(r.Header, f)
	if e != nil {
		return nil, nil, e
	}
	c, e := s.authenticateClient(r, cred, "device_authorization")
	if e != nil {
		return nil, nil, e
	}
	if !slices.Contains(c.GrantTypes, oauth.GrantDeviceCode) {
		return nil, c, &Error{Code: oauth.CodeUnauthorizedClient, Description: "the client is not registered for the device code flow", Status: http.StatusBadRequest}
	}
	scopes, err := parseScope(f.get("scope"))
	if err != nil {
		return nil, c, errInvalidScope(err.Error())
	}
	if len(scopes) == 0 {
		return nil, c, errInvalidScope("scope is missing")
	}
	if refused := outside(scopes, grantCeiling(c)); len(refused) > 0 {
		return nil, c, errInvalidScope("scope not allowed for this client: " + joinScopes(refused))
	}
	ctx := r.Context()
	now := s.cfg.Now()
	deviceCode := deviceCodePrefix + rand.Text() + rand.Text() // 2×128 bits
	dh := credential.Hash(deviceCode)
	d := store.DeviceCode{
		Hash: dh[:], Tenant: c.Tenant, ClientID: c.ID, Scopes: scopes, Status: store.DevicePending,
		Interval: s.cfg.DevicePollInterval, CreatedAt: now, ExpiresAt: now.Add(s.cfg.DeviceCodeTTL),
	}
	var userCode string
	for attempt := 1; ; attempt++ {
		userCode, err = newUserCode()
		if err != nil {
			return nil, c, err
		}
		norm, _ := normaliseUserCode(userCode)
		uh := credential.Hash(norm)
		d.UserCodeHash = uh[:]
		err = s.st.Tx(ctx, func(tx store.Tx) error { return tx.CreateDeviceCode(ctx, d) })
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || attempt == userCodeAttempts {
			return nil, c, fmt.Errorf("store device code for client %s: %w", c.ID, err)
		}
	}
	verify := s.cfg.Issuer + oauth.PathDevice
	return &deviceAuthResponse{
		DeviceCode:              deviceCode,
		UserCode:                userCode,
		VerificationURI:         verify,
		VerificationURIComplete: verify + "?" + url.Values{"user_code": {userCode}}.Encode(),
		ExpiresIn:               int64(s.cfg.DeviceCodeTTL / time.Second),
		Interval:                int64(s.cfg.DevicePollInterval / time.Second),
	}, c, nil
}

// newUserCode returns a random user code shown as XXXX-XXXX. Each letter
// comes from one random byte, rejecting bytes at or above the largest
// multiple of the alphabet's size so every letter is equally likely.
func newUserCode() (string, error) {
	const n = len(userCodeAlphabet)
	const limit = 256 / n * n
	out := make([]byte, 0, userCodeLen+1)
	var buf [16]byte
	for len(out) < userCodeLen+1 {
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("user code: %w", err)
		}
		for _, b := range buf {
			if int(b) >= limit || len(out) == userCodeLen+1 {
				continue
			}
			if len(out) == userCodeLen/2 {
				out = append(out, '-')
			}
			out = append(out, userCodeAlphabet[int(b)%n])
		}
	}
	return string(out), nil
}

// normaliseUserCode turns a typed user code into the form that is hashed:
// upper case, without the dashes and spaces people type or leave out. It
// reports whether the result can be a user code at all.
func normaliseUserCode(s string) (string, bool) {
	if len(s) > maxUserCodeInput {
		return "", false
	}
	var b strings.Builder
	for _, r := range strings.ToUpper(s) {
		switch {
		case r == '-' || r == ' ':
		case r < 0x80 && strings.IndexByte(userCodeAlphabet, byte(r)) >= 0:
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	if b.Len() != userCodeLen {
		return "", false
	}
	return b.String(), true
}

// formatUserCode shows a normalised user code as XXXX-XXXX.
func formatUserCode(norm string) string {
	if len(norm) != userCodeLen {
		return norm
	}
	return norm[:userCodeLen/2] + "-" + norm[userCodeLen/2:]
}

// tooSoon reports whether a poll came before the device code's interval
// was over. Polls sent on time reach us a little early or late with
// network jitter, so a fifth of the interval is forgiven.
func tooSoon(d store.DeviceCode, now time.Time) bool {
	return !d.LastPolledAt.IsZero() && now.Sub(d.LastPolledAt) < d.Interval-d.Interval/5
}

func deviceError(code, desc string) *Error {
	return &Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

// deviceCodeGrant is RFC 8628 §3.4: the device polls with its device code
// until the person has approved or denied, or the code expires.
type deviceCodeGrant struct{ s *Server }

func (g deviceCodeGrant) handle(ctx context.Context, req *tokenRequest, c *store.Client) (issuance, error) {
	s := g.s
	raw := req.form.get("device_code")
	if raw == "" {
		return issuance{}, errInvalidRequest("device_code is missing")
	}
	if len(raw) > maxDeviceCodeLen || !strings.HasPrefix(raw, deviceCodePrefix) {
		return issuance{}, errInvalidGrant("the device code is unknown or has expired")
	}
	now := s.cfg.Now()
	h := credential.Hash(raw)
	jti, err := newJTI()
	if err != nil {
		return issuance{}, err
	}
	var (
		iss issuance
		// refusal is an answer that still commits the poll's bookkeeping
		// (last poll time, a raised interval).
		refusal *Error
	)
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		refusal = nil
		var d store.DeviceCode
		err := tx.UpdateDeviceCode(ctx, h[:], func(cur store.DeviceCode) (store.DeviceCode, error) {
			switch {
			case cur.ClientID != c.ID:
				return cur, errInvalidGrant("the device code was issued to another client")
			case cur.Status == store.DeviceRedeemed:
				return cur, errInvalidGrant("the device code was already used")
			case !now.Before(cur.ExpiresAt):
				return cur, deviceError(oauth.CodeExpiredToken, "the device code has expired; start again")
			}
			if tooSoon(cur, now) {
				cur.Interval += slowDownStep
				cur.LastPolledAt = now
				refusal = deviceError(oauth.CodeSlowDown, fmt.Sprintf("polling too fast; wait %d seconds between requests", int64(cur.Interval/time.Second)))
				return cur, nil
			}
			cur.LastPolledAt = now
			switch cur.Status {
			case store.DevicePending:
				refusal = deviceError(oauth.CodeAuthorizationPending, "the user has not yet approved the request")
			case store.DeviceDenied:
				refusal = deviceError(oauth.CodeAccessDenied, "the user denied the request")
			case store.DeviceApproved:
				cur.Status = store.DeviceRedeemed
			default:
				return cur, fmt.Errorf("device code of client %s in unknown state %q", c.ID, cur.Status)
			}
			d = cur
			return cur, nil
		})
		if errors.Is(err, store.ErrNotFound) {
			return errInvalidGrant("the device code is unknown or has expired")
		}
		if err != nil || refusal != nil {
			return err
		}
		var e error
		iss, e = s.issueDevice(ctx, tx, req, c, d, jti, now)
		return e
	})
	if err != nil {
		return issuance{}, err
	}
	if refusal != nil {
		return issuance{}, refusal
	}
	return iss, nil
}

// issueDevice decides what an approved device code issues, within the
// transaction that marks it redeemed.
func (s *Server) issueDevice(ctx context.Context, tx store.Tx, req *tokenRequest, c *store.Client, d store.DeviceCode, jti string, now time.Time) (issuance, error) {
	u, err := tx.GetUser(ctx, d.UserID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return issuance{}, errInvalidGrant("the user is no longer active")
	case err != nil:
		return issuance{}, fmt.Errorf("get user of device code: %w", err)
	case !s.userActive(u):
		return issuance{}, errInvalidGrant("the user is no longer active")
	}
	scopes := entitledScopes(intersect(d.Scopes, grantCeiling(c)), u)
	if req.scopes != nil {
		// Some clients (golang.org/x/oauth2) repeat the scope when they
		// poll; it may narrow what was approved, never widen it.
		if refused := outside(req.scopes, d.Scopes); len(refused) > 0 {
			return issuance{}, errInvalidScope("scope not in the device authorization: " + joinScopes(refused))
		}
		scopes = intersect(scopes, req.scopes)
	}
	if len(scopes) == 0 {
		return issuance{}, errInvalidGrant("the user holds none of the approved scopes")
	}
	p := &personGrant{user: u, authTime: d.AuthTime, sessionID: d.SessionID, jti: jti}
	if wantsRefresh(c, scopes) {
		fam, tok, err := s.newRefreshFamily(c, u, d.SessionID, d.AuthTime, scopes, now)
		if err != nil {
			return issuance{}, err
		}
		if err := tx.CreateRefreshFamily(ctx, fam); err != nil {
			return issuance{}, fmt.Errorf("create refresh family: %w", err)
		}
		// The access token belongs to the family: it carries its jti.
		p.refreshToken, p.jti = tok, fam.LastJTI
	}
	return issuance{subject: u.ID, scopes: scopes, person: p}, nil
}
