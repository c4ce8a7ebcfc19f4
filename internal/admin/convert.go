package admin

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// ConvertKeyRequest is the (optional) body of POST
// /admin/v1/tenants/{tenant}/keys/{id}/convert.
type ConvertKeyRequest struct {
	// DisableKeyAt is when the key is disabled automatically: a date
	// (midnight UTC) or an RFC 3339 time, in the future. Empty keeps the
	// key as it is.
	DisableKeyAt string `json:"disable_key_at,omitempty"`
}

// ConvertKeyResponse carries the new client and, this once, its secret.
type ConvertKeyResponse struct {
	ClientID     string   `json:"client_id"`
	ClientSecret string   `json:"client_secret"`
	Scopes       []string `json:"scopes"`
	// UnmappedPermissions are key permissions no granted scope covers.
	UnmappedPermissions []string   `json:"unmapped_permissions"`
	KeyID               string     `json:"key_id"`
	DisableKeyAt        *time.Time `json:"disable_key_at,omitempty"`
	Client              ClientView `json:"client"`
}

// ConvertKey creates an OAuth client of the key's tenant with the scopes
// that cover exactly the key's permissions, copies the key's contact, links
// key and client both ways and schedules the key's disabling, all in one
// transaction. A key converts once (409); platform keys only by operators.
func (a *API) ConvertKey(ctx context.Context, p Principal, tenant, id string, req ConvertKeyRequest) (ConvertKeyResponse, error) {
	if !p.canSeeTenant(tenant) {
		return ConvertKeyResponse{}, errNotFound("tenant")
	}
	now := a.clock()
	var v validation
	var disableAt *time.Time
	if req.DisableKeyAt != "" {
		disableAt = parseInstant(&v, "disable_key_at", req.DisableKeyAt, now)
	}
	if err := v.err(); err != nil {
		return ConvertKeyResponse{}, err
	}
	var out ConvertKeyResponse
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		k, err := getTenantKey(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := checkConvertible(p, k); err != nil {
			return err
		}
		_, cat, err := catalogPermissions(ctx, tx)
		if err != nil {
			return err
		}
		scopes, unmapped := apikey.MapPermissions(k.Permissions, cat)
		if len(scopes) == 0 {
			return errConflict("No scope covers this key",
				"no scope of the catalogue covers only permissions of this key; add scopes to the catalogue first")
		}
		creq, err := validateClientCreate(CreateClientRequest{Name: k.Name, Scopes: scopes, Contact: k.Contact})
		if err != nil {
			return err
		}
		secret, c := newClientRecord(tenant, creq, now)
		c.ConvertedFromKey = k.ID
		if err := a.createClientTx(ctx, tx, p, c, creq); err != nil {
			return err
		}
		err = tx.UpdateAPIKey(ctx, id, func(k store.APIKey) (store.APIKey, error) {
			k.ConvertedToClient, k.UpdatedAt = c.ID, now
			if disableAt != nil {
				k.DisableAt = disableAt
			}
			return k, nil
		})
		if err != nil {
			return err
		}
		out = ConvertKeyResponse{ClientID: c.ID, ClientSecret: secret, Scopes: scopes,
			UnmappedPermissions: nonNil(unmapped), KeyID: id, DisableKeyAt: disableAt, Client: NewClientView(c)}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "api_key.convert", "api_key", id, details(
			"client_id", c.ID, "scopes", scopes, "unmapped_permissions", unmapped, "disable_at", disableAt)))
	})
	if err != nil {
		return ConvertKeyResponse{}, fmt.Errorf("convert key %s: %w", id, err)
	}
	return out, nil
}

func checkConvertible(p Principal, k store.APIKey) error {
	if err := guardPlatformKey(p, k); err != nil {
		return err
	}
	switch {
	case k.ConvertedToClient != "":
		return errConflict("Key already converted", "this key was already converted to client "+k.ConvertedToClient)
	case k.Status == store.StatusRevoked:
		return errConflict("Key revoked", "a revoked key cannot be converted")
	}
	return nil
}

// parseInstant reads a date (midnight UTC) or an RFC 3339 time that must be
// in the future.
func parseInstant(v *validation, field, s string, now time.Time) *time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	switch {
	case err != nil:
		v.add(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		return nil
	case !t.After(now):
		v.add(field, "must be in the future")
		return nil
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}

func (a *API) handleConvertKey(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req ConvertKeyRequest
	if err := a.decodeJSON(w, r, &req, true); err != nil {
		return err
	}
	resp, err := a.ConvertKey(r.Context(), p, tenant, r.PathValue("id"), req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+tenant+"/clients/"+resp.ClientID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}
