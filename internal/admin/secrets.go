package admin

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Secret rotation overlap: how long the previous secret stays valid after a
// rotation unless the request says otherwise, and the longest overlap allowed.
// A day covers a deploy cycle of most integrations; a month bounds how long
// a secret believed compromised can linger.
const (
	DefaultSecretOverlap = 24 * time.Hour
	MaxSecretOverlap     = 30 * 24 * time.Hour
)

// RotateSecretRequest is the body of POST
// /admin/v1/tenants/{tenant}/clients/{client_id}/secrets. Both fields are
// optional; the body itself may be empty.
type RotateSecretRequest struct {
	// PreviousExpiresAt is when the current secret stops working: after now
	// and at most 30 days ahead; default now + 24 h.
	PreviousExpiresAt *time.Time `json:"previous_expires_at,omitempty"`
	// RevokePrevious drops the current secret at once (a leaked secret).
	RevokePrevious bool `json:"revoke_previous,omitempty"`
}

// RotateSecretResponse carries the new secret, shown this once.
type RotateSecretResponse struct {
	ClientID     string `json:"client_id"`
	ClientSecret string `json:"client_secret"`
	SecretID     string `json:"secret_id"`
	// PreviousExpiresAt is when the previous secret stops working; absent
	// when there was none or it was revoked.
	PreviousExpiresAt *time.Time   `json:"previous_expires_at,omitempty"`
	Secrets           []SecretView `json:"secrets"`
}

// RotateClientSecret gives a client a new secret. The newest existing secret
// stays valid until the requested time so integrations can switch over; any
// older secret is dropped, so at most two are live.
func (a *API) RotateClientSecret(ctx context.Context, p Principal, tenant, id string, req RotateSecretRequest) (RotateSecretResponse, error) {
	if !p.canSeeTenant(tenant) {
		return RotateSecretResponse{}, errNotFound("tenant")
	}
	now := a.clock()
	prevExp, err := previousExpiry(now, req)
	if err != nil {
		return RotateSecretResponse{}, err
	}
	secret, cs := newSecret(now)
	var out store.Client
	var kept *time.Time
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		c, err := getTenantClient(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorClient(p, c); err != nil {
			return err
		}
		if !oauth.UsesSecret(c.AuthMethod) {
			return errConflict("Client has no secret", fmt.Sprintf("the client authenticates with %s, not a secret; change its token_endpoint_auth_method first", c.AuthMethod))
		}
		err = tx.UpdateClient(ctx, id, func(c store.Client) (store.Client, error) {
			var prev *store.ClientSecret
			prev, kept = currentSecret(c.Secrets, now), nil
			c.Secrets = []store.ClientSecret{cs}
			if prev != nil && !req.RevokePrevious {
				exp := prevExp
				if prev.ExpiresAt != nil && prev.ExpiresAt.Before(exp) {
					exp = *prev.ExpiresAt // a rotation never extends a secret's life
				}
				prev.ExpiresAt = &exp
				kept = &exp
				c.Secrets = append(c.Secrets, *prev)
			}
			c.UpdatedAt = now
			out = c
			return c, nil
		})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "client.secret.rotate", "client", id,
			details("secret_id", cs.ID, "previous_expires_at", kept, "revoke_previous", req.RevokePrevious)))
	})
	if err != nil {
		return RotateSecretResponse{}, fmt.Errorf("rotate secret of client %s: %w", id, err)
	}
	return RotateSecretResponse{
		ClientID: id, ClientSecret: secret, SecretID: cs.ID, PreviousExpiresAt: kept,
		Secrets: NewClientView(out).Secrets,
	}, nil
}

// previousExpiry validates and defaults the previous secret's expiry.
func previousExpiry(now time.Time, req RotateSecretRequest) (time.Time, error) {
	var v validation
	if req.PreviousExpiresAt == nil {
		return now.Add(DefaultSecretOverlap), nil
	}
	exp := req.PreviousExpiresAt.UTC().Truncate(time.Microsecond)
	switch {
	case req.RevokePrevious:
		v.add("previous_expires_at", "cannot be combined with revoke_previous")
	case !exp.After(now):
		v.add("previous_expires_at", "must be in the future (use revoke_previous to drop the secret now)")
	case exp.After(now.Add(MaxSecretOverlap)):
		v.add("previous_expires_at", "must be at most 30 days ahead")
	}
	return exp, v.err()
}

// currentSecret returns a copy of the newest secret still live at now.
func currentSecret(secrets []store.ClientSecret, now time.Time) *store.ClientSecret {
	live := slices.DeleteFunc(slices.Clone(secrets), func(s store.ClientSecret) bool {
		return s.ExpiresAt != nil && !s.ExpiresAt.After(now)
	})
	if len(live) == 0 {
		return nil
	}
	newest := slices.MaxFunc(live, func(x, y store.ClientSecret) int { return x.CreatedAt.Compare(y.CreatedAt) })
	return &newest
}

func (a *API) handleRotateSecret(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req RotateSecretRequest
	if err := a.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	resp, err := a.RotateClientSecret(r.Context(), p, tenant, r.PathValue("client_id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, resp)
	return nil
}
