package admin

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/notify"
	"github.com/keyshift/keyshift/internal/store"
)

// keyPatch is a validated UpdateKeyRequest.
type keyPatch struct {
	status     *string
	setExpiry  bool
	expiresAt  *time.Time
	rawExpires string // for the audit trail
}

func validateKeyUpdate(req UpdateKeyRequest, now time.Time) (keyPatch, error) {
	var v validation
	var kp keyPatch
	if req.Status != nil {
		switch *req.Status {
		case store.StatusActive, store.StatusDisabled, store.StatusRevoked:
			kp.status = req.Status
		default:
			v.add("status", `must be "active", "disabled" or "revoked"`)
		}
	}
	if len(req.ExpiresAt) > 0 {
		kp.setExpiry = true
		if !bytes.Equal(bytes.TrimSpace(req.ExpiresAt), []byte("null")) {
			var s string
			if err := json.Unmarshal(req.ExpiresAt, &s); err != nil || s == "" {
				v.add("expires_at", "must be a date (YYYY-MM-DD), an RFC 3339 time or null")
			} else {
				kp.expiresAt, kp.rawExpires = checkExpiry(&v, s, now), s
			}
		} else {
			kp.rawExpires = "none"
		}
	}
	if kp.status == nil && !kp.setExpiry {
		v.add("", "nothing to change: give status or expires_at")
	}
	return kp, v.err()
}

// UpdateKey changes a key's status or expiry. Tenant admins never change a
// platform-owned key (403); a revoked key is final (409). Disabling or
// revoking a key queues a key.disabled notification in the same
// transaction.
func (a *API) UpdateKey(ctx context.Context, p Principal, tenant, id string, req UpdateKeyRequest) (KeyView, error) {
	if !p.canSeeTenant(tenant) {
		return KeyView{}, errNotFound("tenant")
	}
	now := a.clock()
	kp, err := validateKeyUpdate(req, now)
	if err != nil {
		return KeyView{}, err
	}
	var out store.APIKey
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		k, err := getTenantKey(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardPlatformKey(p, k); err != nil {
			return err
		}
		if k.Status == store.StatusRevoked {
			return errConflict("Key revoked", "a revoked key is final and cannot be changed")
		}
		old := k.Status
		err = tx.UpdateAPIKey(ctx, id, func(k store.APIKey) (store.APIKey, error) {
			if kp.status != nil {
				k.Status = *kp.status
			}
			if kp.setExpiry {
				k.ExpiresAt = kp.expiresAt
			}
			k.UpdatedAt = now
			out = k
			return k, nil
		})
		if err != nil {
			return err
		}
		if old == store.StatusActive && out.Status != store.StatusActive {
			if err := notify.KeyDisabled(ctx, tx, out, "status set to "+out.Status+" by an admin", p.actor(), now); err != nil {
				return err
			}
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "api_key.update", "api_key", id,
			details("status", kp.status, "expires_at", kp.rawExpires)))
	})
	if err != nil {
		return KeyView{}, fmt.Errorf("update key %s: %w", id, err)
	}
	usage, err := keyUsage(ctx, a.st, tenant, id, now)
	if err != nil {
		return KeyView{}, err
	}
	return newKeyView(p, out, usage[id]), nil
}

// guardPlatformKey refuses a change to a platform-owned key by anyone but
// an operator: the platform's loaders and apps depend on them.
func guardPlatformKey(p Principal, k store.APIKey) error {
	if k.Owner == store.OwnerPlatform && !p.IsOperator() {
		return errForbidden("this key is owned by the platform: only operators change it")
	}
	return nil
}

func (a *API) handleUpdateKey(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req UpdateKeyRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	k, err := a.UpdateKey(r.Context(), p, tenant, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}
