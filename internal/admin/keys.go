package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// API key identifiers and listing limits.
const (
	keyIDPrefix     = "key_"
	keyIDLen        = 20
	maxPurposeLen   = 100
	DefaultKeyLimit = 1000
)

// CreateKeyRequest is the body of POST /admin/v1/tenants/{tenant}/keys.
type CreateKeyRequest struct {
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Permissions []string      `json:"permissions,omitempty"`
	Contact     store.Contact `json:"contact"`
	// ExpiresAt is a date (YYYY-MM-DD) or an RFC 3339 time; the key expires
	// at midnight UTC of that date.
	ExpiresAt string `json:"expires_at,omitempty"`
	// Owner is "tenant" (default) or "platform" (operators only).
	Owner   string `json:"owner,omitempty"`
	Purpose string `json:"purpose,omitempty"`
}

// UpdateKeyRequest is the body of PATCH
// /admin/v1/tenants/{tenant}/keys/{id}. ExpiresAt is a date, an RFC 3339
// time or null (no expiry); absent fields stay unchanged.
type UpdateKeyRequest struct {
	Status    *string         `json:"status,omitempty"`
	ExpiresAt json.RawMessage `json:"expires_at,omitempty"`
}

// KeyView is an API key as the API shows it: never the key or its hash.
type KeyView struct {
	ID          string        `json:"id"`
	Tenant      string        `json:"tenant"`
	Hint        string        `json:"hint,omitempty"`
	Name        string        `json:"name"`
	Description string        `json:"description,omitempty"`
	Contact     store.Contact `json:"contact"`
	Permissions []string      `json:"permissions"`
	ExpiresAt   *time.Time    `json:"expires_at"`
	Owner       string        `json:"owner"`
	Purpose     string        `json:"purpose,omitempty"`
	Status      string        `json:"status"`
	// ConvertedToClient is the OAuth client that replaced the key.
	ConvertedToClient string          `json:"converted_to_client,omitempty"`
	DisableAt         *time.Time      `json:"disable_at,omitempty"`
	Imported          bool            `json:"imported"`
	CreatedAt         time.Time       `json:"created_at"`
	UpdatedAt         time.Time       `json:"updated_at"`
	LastUsedAt        *time.Time      `json:"last_used_at"`
	Usage             apikey.KeyUsage `json:"usage"`
}

// CreateKeyResponse is the answer of a key creation: the key record and,
// this once, the key itself.
type CreateKeyResponse struct {
	KeyView
	Key string `json:"key"`
}

// KeyList is the answer of GET /admin/v1/tenants/{tenant}/keys. NextAfter,
// when set, is the after value that fetches the next page.
type KeyList struct {
	Keys      []KeyView `json:"keys"`
	NextAfter string    `json:"next_after,omitempty"`
}

// KeyQuery pages through a tenant's keys in ID order.
type KeyQuery struct {
	After string
	Limit int // 0 = 1000; at most 1000
}

// newKeyView shows k to p; the hint of a platform key stays with operators.
func newKeyView(p Principal, k store.APIKey, u apikey.KeyUsage) KeyView {
	v := KeyView{
		ID: k.ID, Tenant: k.Tenant, Hint: k.Hint, Name: k.Name, Description: k.Description, Contact: k.Contact,
		Permissions: nonNil(k.Permissions), ExpiresAt: k.ExpiresAt, Owner: k.Owner, Purpose: k.Purpose,
		Status: k.Status, ConvertedToClient: k.ConvertedToClient, DisableAt: k.DisableAt, Imported: k.Imported,
		CreatedAt: k.CreatedAt, UpdatedAt: k.UpdatedAt, LastUsedAt: k.LastUsedAt, Usage: u,
	}
	if k.Owner == store.OwnerPlatform && !p.IsOperator() {
		v.Hint = ""
	}
	return v
}

// domainKey converts a stored key for the pure functions of apikey.
func domainKey(k store.APIKey) apikey.Key {
	return apikey.Key{
		ID: k.ID, Tenant: k.Tenant, Name: k.Name, Description: k.Description, Contact: apikey.Contact(k.Contact),
		Permissions: k.Permissions, ExpiresAt: k.ExpiresAt, Owner: apikey.Owner(k.Owner), Purpose: k.Purpose,
		Status: apikey.Status(k.Status), ConvertedToClient: k.ConvertedToClient, CreatedAt: k.CreatedAt,
		LastUsedAt: k.LastUsedAt,
	}
}

// CreateKey creates an API key of tenant and returns it with the key, which
// is shown this once. The timeline may refuse tenant-owned keys (409).
func (a *API) CreateKey(ctx context.Context, p Principal, tenant string, req CreateKeyRequest) (CreateKeyResponse, error) {
	if !p.canSeeTenant(tenant) {
		return CreateKeyResponse{}, errNotFound("tenant")
	}
	now := a.clock()
	k, err := validateKeyCreate(req, now)
	if err != nil {
		return CreateKeyResponse{}, err
	}
	if k.Owner == store.OwnerPlatform && !p.IsOperator() {
		return CreateKeyResponse{}, errForbidden("only operators create platform-owned keys")
	}
	secret := apikey.Generate()
	h := apikey.Hash(secret)
	k.ID, k.Tenant, k.Hash, k.Hint = credential.ID(keyIDPrefix, keyIDLen), tenant, h[:], credential.Hint(secret)
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		t, err := tx.GetTenant(ctx, tenant)
		if errors.Is(err, store.ErrNotFound) {
			return errNotFound("tenant")
		} else if err != nil {
			return err
		}
		if err := checkCreateAllowed(ctx, tx, t, apikey.Owner(k.Owner), now); err != nil {
			return err
		}
		if err := checkKnownPermissions(ctx, tx, k.Permissions); err != nil {
			return err
		}
		if err := checkKeyLoginFree(ctx, tx, tenant, k.ID, k.Contact.Login); err != nil {
			return err
		}
		if err := tx.CreateAPIKey(ctx, k); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "api_key.create", "api_key", k.ID, details(
			"name", k.Name, "owner", k.Owner, "purpose", k.Purpose, "permissions", k.Permissions,
			"expires_at", k.ExpiresAt, "login", k.Contact.Login)))
	})
	if err != nil {
		return CreateKeyResponse{}, fmt.Errorf("create key in %s: %w", tenant, err)
	}
	return CreateKeyResponse{KeyView: newKeyView(p, k, apikey.KeyUsage{}), Key: secret}, nil
}

func validateKeyCreate(req CreateKeyRequest, now time.Time) (store.APIKey, error) {
	if req.Owner == "" {
		req.Owner = store.OwnerTenant
	}
	var v validation
	checkText(&v, "name", req.Name, maxNameLen, true)
	checkText(&v, "description", req.Description, maxDescriptionLen, false)
	checkContact(&v, req.Contact)
	switch req.Owner {
	case store.OwnerTenant:
	case store.OwnerPlatform:
		checkText(&v, "purpose", req.Purpose, maxPurposeLen, true)
	default:
		v.add("owner", `must be "tenant" or "platform"`)
	}
	if req.Owner != store.OwnerPlatform {
		checkText(&v, "purpose", req.Purpose, maxPurposeLen, false)
	}
	checkKeyPermissions(&v, req.Permissions)
	exp := checkExpiry(&v, req.ExpiresAt, now)
	k := store.APIKey{
		Name: req.Name, Description: req.Description, Contact: req.Contact, Permissions: nonNil(req.Permissions),
		ExpiresAt: exp, Owner: req.Owner, Purpose: req.Purpose, Status: store.StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	return k, v.err()
}

func checkKeyPermissions(v *validation, perms []string) {
	if len(perms) > maxListLen {
		v.add("permissions", "too many permissions")
		return
	}
	for i, perm := range perms {
		if err := apikey.ValidatePermission(perm); err != nil {
			v.add(fmt.Sprintf("permissions[%d]", i), "must be object:action in lowercase letters, digits, '_' or '-'")
		}
	}
	if hasDuplicates(perms) {
		v.add("permissions", "must not repeat a permission")
	}
}

// checkExpiry parses an expiry date and requires it to be in the future.
func checkExpiry(v *validation, s string, now time.Time) *time.Time {
	if s == "" {
		return nil
	}
	t, err := apikey.ParseDate(s)
	switch {
	case err != nil:
		v.add("expires_at", "must be a date (YYYY-MM-DD) or an RFC 3339 time")
		return nil
	case !t.After(now):
		v.add("expires_at", "must be a future date (the key expires at midnight UTC of that date)")
	}
	return &t
}

// checkCreateAllowed asks the timeline whether tenant t may get a key.
func checkCreateAllowed(ctx context.Context, r store.Reader, t store.Tenant, owner apikey.Owner, now time.Time) error {
	tl, err := loadTimeline(ctx, r)
	if err != nil {
		return err
	}
	d := apikey.DecideCreate(tl, apikey.TenantInfo{ID: t.ID, CreatedAt: t.CreatedAt}, owner, now)
	if d.Allowed {
		return nil
	}
	prob := newProblem(http.StatusConflict, "key-creation-refused", "API key creation refused", d.Reason)
	prob.Errors = []FieldError{{Field: "timeline", Message: d.Code}}
	return prob
}

// catalogPermissions returns every permission some scope of the catalogue
// covers.
func catalogPermissions(ctx context.Context, r store.Reader) (map[string]bool, []apikey.CatalogueScope, error) {
	ss, err := r.ListScopes(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("load scope catalogue: %w", err)
	}
	known := map[string]bool{}
	cat := make([]apikey.CatalogueScope, 0, len(ss))
	for _, s := range ss {
		for _, perm := range s.Permissions {
			known[perm] = true
		}
		cat = append(cat, apikey.CatalogueScope{Name: s.Name, Permissions: s.Permissions})
	}
	return known, cat, nil
}

// checkKnownPermissions refuses permissions no scope of the catalogue
// covers: such a key could never be converted to a client.
func checkKnownPermissions(ctx context.Context, r store.Reader, perms []string) error {
	known, _, err := catalogPermissions(ctx, r)
	if err != nil {
		return err
	}
	var v validation
	for i, perm := range perms {
		if !known[perm] {
			v.add(fmt.Sprintf("permissions[%d]", i), fmt.Sprintf("unknown permission %q: no scope of the catalogue covers it", perm))
		}
	}
	return v.err()
}

// errKeyLoginTaken is the answer to a contact login another key of the
// tenant has, worded as the reference platform words it.
func errKeyLoginTaken() *Problem {
	p := errConflict("Login has already been taken", "another API key of this tenant has the same contact login")
	p.Errors = []FieldError{{Field: "contact.login", Message: "has already been taken"}}
	return p
}

// checkKeyLoginFree refuses a contact login that another key of tenant has.
func checkKeyLoginFree(ctx context.Context, r store.Reader, tenant, self, login string) error {
	if login == "" {
		return nil
	}
	return eachKey(ctx, r, store.APIKeyFilter{Tenant: tenant}, func(k store.APIKey) error {
		if k.ID != self && strings.EqualFold(k.Contact.Login, login) {
			return errKeyLoginTaken()
		}
		return nil
	})
}

// eachKey calls fn for every key matching f, one page at a time.
func eachKey(ctx context.Context, r store.Reader, f store.APIKeyFilter, fn func(store.APIKey) error) error {
	f.Limit = DefaultKeyLimit
	for {
		ks, err := r.ListAPIKeys(ctx, f)
		if err != nil {
			return fmt.Errorf("list api keys: %w", err)
		}
		for _, k := range ks {
			if err := fn(k); err != nil {
				return err
			}
		}
		if len(ks) < f.Limit {
			return nil
		}
		f.After = ks[len(ks)-1].ID
	}
}

// getTenantKey loads key id and checks that it belongs to tenant and that p
// may see that tenant; anything else is the same 404.
func getTenantKey(ctx context.Context, r store.Reader, p Principal, tenant, id string) (store.APIKey, error) {
	if !p.canSeeTenant(tenant) {
		return store.APIKey{}, errNotFound("tenant")
	}
	k, err := r.GetAPIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && k.Tenant != tenant) {
		return store.APIKey{}, errNotFound("key")
	}
	if err != nil {
		return store.APIKey{}, fmt.Errorf("get api key %s: %w", id, err)
	}
	return k, nil
}

// keyUsage sums the stored usage of a tenant's keys (or one key) over the
// last 30 days.
func keyUsage(ctx context.Context, r store.Reader, tenant, keyID string, now time.Time) (map[string]apikey.KeyUsage, error) {
	since := apikey.MidnightUTC(now).AddDate(0, 0, -29)
	days, err := r.ListUsage(ctx, store.UsageFilter{Tenant: tenant, KeyID: keyID, Since: since})
	if err != nil {
		return nil, fmt.Errorf("list usage of %s: %w", tenant, err)
	}
	out := map[string]apikey.KeyUsage{}
	for _, d := range days {
		u := out[d.KeyID]
		n := d.Accepted
		for _, c := range d.Refused {
			n += c
		}
		u.AddDay(d.Day, n, now)
		out[d.KeyID] = u
	}
	return out, nil
}

// ListKeys lists a tenant's keys with their usage, one page at a time.
func (a *API) ListKeys(ctx context.Context, p Principal, tenant string, q KeyQuery) (KeyList, error) {
	if _, err := a.GetTenant(ctx, p, tenant); err != nil {
		return KeyList{}, err
	}
	var v validation
	switch {
	case q.Limit == 0:
		q.Limit = DefaultKeyLimit
	case q.Limit < 0 || q.Limit > DefaultKeyLimit:
		v.add("limit", fmt.Sprintf("must be between 1 and %d", DefaultKeyLimit))
	}
	if err := v.err(); err != nil {
		return KeyList{}, err
	}
	ks, err := a.st.ListAPIKeys(ctx, store.APIKeyFilter{Tenant: tenant, After: q.After, Limit: q.Limit})
	if err != nil {
		return KeyList{}, fmt.Errorf("list keys of %s: %w", tenant, err)
	}
	usage, err := keyUsage(ctx, a.st, tenant, "", a.clock())
	if err != nil {
		return KeyList{}, err
	}
	out := KeyList{Keys: make([]KeyView, 0, len(ks))}
	for _, k := range ks {
		out.Keys = append(out.Keys, newKeyView(p, k, usage[k.ID]))
	}
	if len(ks) == q.Limit {
		out.NextAfter = ks[len(ks)-1].ID
	}
	return out, nil
}

// GetKey returns one key of tenant with its usage.
func (a *API) GetKey(ctx context.Context, p Principal, tenant, id string) (KeyView, error) {
	k, err := getTenantKey(ctx, a.st, p, tenant, id)
	if err != nil {
		return KeyView{}, err
	}
	usage, err := keyUsage(ctx, a.st, tenant, id, a.clock())
	if err != nil {
		return KeyView{}, err
	}
	return newKeyView(p, k, usage[id]), nil
}

func (a *API) handleCreateKey(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req CreateKeyRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	resp, err := a.CreateKey(r.Context(), p, tenant, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+tenant+"/keys/"+resp.ID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (a *API) handleListKeys(w http.ResponseWriter, r *http.Request, p Principal) error {
	q := KeyQuery{After: r.URL.Query().Get("after")}
	if s := r.URL.Query().Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			var v validation
			v.add("limit", fmt.Sprintf("must be between 1 and %d", DefaultKeyLimit))
			return v.err()
		}
		q.Limit = n
	}
	list, err := a.ListKeys(r.Context(), p, r.PathValue("tenant"), q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

func (a *API) handleGetKey(w http.ResponseWriter, r *http.Request, p Principal) error {
	k, err := a.GetKey(r.Context(), p, r.PathValue("tenant"), r.PathValue("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, k)
	return nil
}
