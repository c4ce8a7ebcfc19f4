package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Client field values the API accepts.
const (
	DefaultAccessTokenTTL   = 24 * time.Hour
	MinAccessTokenTTL       = 5 * time.Minute
	clientIDPrefix          = "ksc_"
	clientIDLen             = 20
	secretIDPrefix          = "sec_"
	secretIDLen             = 16
	maxAccessTokenTTLSecond = int(DefaultAccessTokenTTL / time.Second)
	minAccessTokenTTLSecond = int(MinAccessTokenTTL / time.Second)
)

// idTokenAlgs are the ID token algorithms a client may ask for; "" means
// RS256, the OpenID Connect default.
var idTokenAlgs = []string{"RS256", "ES256", "EdDSA"}

// CreateClientRequest is the body of POST /admin/v1/tenants/{tenant}/clients.
type CreateClientRequest struct {
	Name         string        `json:"name"`
	GrantTypes   []string      `json:"grant_types,omitempty"`
	Scopes       []string      `json:"scopes"`
	RedirectURIs []string      `json:"redirect_uris,omitempty"`
	AuthMethod   string        `json:"token_endpoint_auth_method,omitempty"`
	Contact      store.Contact `json:"contact"`
	// AccessTokenTTLSeconds defaults to 86400 (24 h); 300..86400.
	AccessTokenTTLSeconds int `json:"access_token_ttl_seconds,omitempty"`
	// JWKS (a JWK Set of public keys) or JWKSURI (where it is published):
	// exactly one for private_key_jwt, neither otherwise.
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                string          `json:"jwks_uri,omitempty"`
	IDTokenAlg             string          `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris,omitempty"`
}

// ContactPatch changes some contact fields; nil fields stay unchanged.
type ContactPatch struct {
	Login     *string `json:"login,omitempty"`
	FirstName *string `json:"first_name,omitempty"`
	LastName  *string `json:"last_name,omitempty"`
	Email     *string `json:"email,omitempty"`
}

// UpdateClientRequest is the body of PATCH
// /admin/v1/tenants/{tenant}/clients/{client_id}; nil fields stay unchanged.
type UpdateClientRequest struct {
	Name                  *string       `json:"name,omitempty"`
	Contact               *ContactPatch `json:"contact,omitempty"`
	Scopes                *[]string     `json:"scopes,omitempty"`
	RedirectURIs          *[]string     `json:"redirect_uris,omitempty"`
	AuthMethod            *string       `json:"token_endpoint_auth_method,omitempty"`
	Status                *string       `json:"status,omitempty"`
	AccessTokenTTLSeconds *int          `json:"access_token_ttl_seconds,omitempty"`
	GrantTypes            *[]string     `json:"grant_types,omitempty"`
	// Setting one of JWKS and JWKSURI clears the other; a change of auth
	// method away from private_key_jwt clears both, and one to
	// private_key_jwt or none drops the client's secrets.
	JWKS                   *json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                *string          `json:"jwks_uri,omitempty"`
	IDTokenAlg             *string          `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs *[]string        `json:"post_logout_redirect_uris,omitempty"`
}

// SecretView describes a live client secret without its value or hash.
type SecretView struct {
	ID        string     `json:"id"`
	Hint      string     `json:"hint"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// ClientView is a client as the API shows it: never a secret or its hash.
type ClientView struct {
	ClientID              string        `json:"client_id"`
	Tenant                string        `json:"tenant"`
	Name                  string        `json:"name"`
	Contact               store.Contact `json:"contact"`
	GrantTypes            []string      `json:"grant_types"`
	Scopes                []string      `json:"scopes"`
	RedirectURIs          []string      `json:"redirect_uris"`
	AuthMethod            string        `json:"token_endpoint_auth_method"`
	AccessTokenTTLSeconds int           `json:"access_token_ttl_seconds"`
	Status                string        `json:"status"`
	ConvertedFromKey      string        `json:"converted_from_key,omitempty"`
	Secrets               []SecretView  `json:"secrets"`
	// JWKS holds public keys only, so it is shown as registered.
	JWKS                   json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                string          `json:"jwks_uri,omitempty"`
	IDTokenAlg             string          `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs []string        `json:"post_logout_redirect_uris"`
	CreatedAt              time.Time       `json:"created_at"`
	UpdatedAt              time.Time       `json:"updated_at"`
}

// CreateClientResponse is the answer of a client creation: the client and,
// this once, its secret; private_key_jwt and public ("none") clients have
// none.
type CreateClientResponse struct {
	ClientView
	ClientSecret string `json:"client_secret,omitempty"`
}

// ClientList is the answer of GET /admin/v1/tenants/{tenant}/clients.
type ClientList struct {
	Clients []ClientView `json:"clients"`
}

// NewClientView converts a stored client to its API view.
func NewClientView(c store.Client) ClientView {
	v := ClientView{
		ClientID: c.ID, Tenant: c.Tenant, Name: c.Name, Contact: c.Contact,
		GrantTypes: nonNil(c.GrantTypes), Scopes: nonNil(c.Scopes), RedirectURIs: nonNil(c.RedirectURIs),
		AuthMethod: c.AuthMethod, AccessTokenTTLSeconds: int(c.AccessTokenTTL / time.Second),
		Status: c.Status, ConvertedFromKey: c.ConvertedFromKey, Secrets: []SecretView{},
		JWKS: json.RawMessage(c.JWKS), JWKSURI: c.JWKSURI, IDTokenAlg: c.IDTokenAlg,
		PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		CreatedAt:              c.CreatedAt, UpdatedAt: c.UpdatedAt,
	}
	for _, s := range c.Secrets {
		v.Secrets = append(v.Secrets, SecretView{ID: s.ID, Hint: s.Hint, CreatedAt: s.CreatedAt, ExpiresAt: s.ExpiresAt})
	}
	return v
}

// CreateClient creates a client of tenant and returns it with its secret.
func (a *API) CreateClient(ctx context.Context, p Principal, tenant string, req CreateClientRequest) (CreateClientResponse, error) {
	if !p.canSeeTenant(tenant) {
		return CreateClientResponse{}, errNotFound("tenant")
	}
	req, err := validateClientCreate(req)
	if err != nil {
		return CreateClientResponse{}, err
	}

	secret, c := newClientRecord(tenant, req, a.clock())
	if err := checkClientShape(c); err != nil {
		return CreateClientResponse{}, err
	}
	err = a.st.Tx(ctx, func(tx store.Tx) error {
		if _, err := tx.GetTenant(ctx, tenant); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return errNotFound("tenant")
			}
			return err
		}
		return a.createClientTx(ctx, tx, p, c, req)
	})
	if errors.Is(err, store.ErrConflict) {
		return CreateClientResponse{}, errLoginTaken()
	}
	if err != nil {
		return CreateClientResponse{}, fmt.Errorf("create client in %s: %w", tenant, err)
	}
	return CreateClientResponse{ClientView: NewClientView(c), ClientSecret: secret}, nil
}

// newClientRecord builds the client of a validated creation request, with
// its first secret when its auth method uses one; the secret is returned
// once and only its hash is kept.
func newClientRecord(tenant string, req CreateClientRequest, now time.Time) (string, store.Client) {
	c := store.Client{
		ID: credential.ID(clientIDPrefix, clientIDLen), Tenant: tenant, Name: req.Name, Contact: req.Contact,
		GrantTypes: req.GrantTypes, Scopes: req.Scopes, RedirectURIs: nonNil(req.RedirectURIs),
		AuthMethod:     req.AuthMethod,
		AccessTokenTTL: time.Duration(req.AccessTokenTTLSeconds) * time.Second,
		JWKS:           req.JWKS, JWKSURI: req.JWKSURI, IDTokenAlg: req.IDTokenAlg,
		PostLogoutRedirectURIs: req.PostLogoutRedirectURIs,
		Status:                 store.StatusActive, CreatedAt: now, UpdatedAt: now,
	}
	if !oauth.UsesSecret(c.AuthMethod) {
		return "", c
	}
	secret, cs := newSecret(now)
	c.Secrets = []store.ClientSecret{cs}
	return secret, c
}

// createClientTx is the one path that stores a new client, in tx: the
// catalogue and login checks, the record and its audit event. Key
// conversion runs it inside its own transaction.
func (a *API) createClientTx(ctx context.Context, tx store.Tx, p Principal, c store.Client, req CreateClientRequest) error {
	if err := a.checkGrantable(ctx, tx, p, c.Tenant, c.Scopes); err != nil {
		return err
	}
	if err := checkLoginFree(ctx, tx, c.Tenant, c.ID, c.Contact.Login); err != nil {
		return err
	}
	if err := tx.CreateClient(ctx, c); err != nil {
		return err
	}
	var secretID string
	if len(c.Secrets) > 0 {
		secretID = c.Secrets[0].ID
	}
	return tx.AppendAudit(ctx, a.audit(p, c.Tenant, "client.create", "client", c.ID, details(
		"name", c.Name, "scopes", c.Scopes, "grant_types", c.GrantTypes,
		"token_endpoint_auth_method", c.AuthMethod, "login", c.Contact.Login,
		"access_token_ttl_seconds", req.AccessTokenTTLSeconds, "secret_id", secretID,
		"redirect_uris", emptyAsNil(c.RedirectURIs), "post_logout_redirect_uris", emptyAsNil(c.PostLogoutRedirectURIs),
		"jwks_uri", c.JWKSURI, "jwks_thumbprints", emptyAsNil(jwksThumbprints(c.JWKS)),
		"id_token_signed_response_alg", c.IDTokenAlg, "converted_from_key", c.ConvertedFromKey)))
}

// emptyAsNil leaves an empty list out of audit details.
func emptyAsNil(list []string) any {
	if len(list) == 0 {
		return nil
	}
	return list
}

// validateClientCreate applies the defaults and checks the fields that need
// no store; the catalogue and login checks happen in the transaction.
func validateClientCreate(req CreateClientRequest) (CreateClientRequest, error) {
	if len(req.GrantTypes) == 0 {
		req.GrantTypes = []string{oauth.GrantClientCredentials}
	}
	if req.AuthMethod == "" {
		req.AuthMethod = oauth.AuthClientSecretBasic
	}
	if req.AccessTokenTTLSeconds == 0 {
		req.AccessTokenTTLSeconds = maxAccessTokenTTLSecond
	}
	if string(req.JWKS) == "null" {
		req.JWKS = nil
	}
	var v validation
	checkText(&v, "name", req.Name, maxNameLen, true)
	checkGrantTypes(&v, req.GrantTypes)
	checkAuthMethod(&v, req.AuthMethod)
	checkContact(&v, req.Contact)
	checkTTL(&v, req.AccessTokenTTLSeconds)
	checkRedirectURIs(&v, req.RedirectURIs)
	checkURIList(&v, "post_logout_redirect_uris", req.PostLogoutRedirectURIs)
	checkScopeList(&v, req.Scopes)
	checkIDTokenAlg(&v, req.IDTokenAlg)
	if req.JWKS != nil {
		req.JWKS = checkJWKS(&v, req.JWKS)
	}
	if req.JWKSURI != "" {
		checkJWKSURI(&v, req.JWKSURI)
	}
	return req, v.err()
}

// newSecret makes a client secret and the record that stores its hash.
func newSecret(now time.Time) (string, store.ClientSecret) {
	secret := credential.New(credential.PrefixClientSecret)
	h := credential.Hash(secret)
	return secret, store.ClientSecret{
		ID: credential.ID(secretIDPrefix, secretIDLen), Hash: h[:], Hint: credential.Hint(secret), CreatedAt: now,
	}
}

// ListClients lists the clients of tenant.
func (a *API) ListClients(ctx context.Context, p Principal, tenant string) ([]ClientView, error) {
	if _, err := a.GetTenant(ctx, p, tenant); err != nil {
		return nil, err
	}
	cs, err := a.st.ListClients(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("list clients of %s: %w", tenant, err)
	}
	out := make([]ClientView, 0, len(cs))
	for _, c := range cs {
		out = append(out, NewClientView(c))
	}
	return out, nil
}

// GetClient returns one client of tenant.
func (a *API) GetClient(ctx context.Context, p Principal, tenant, id string) (ClientView, error) {
	c, err := getTenantClient(ctx, a.st, p, tenant, id)
	if err != nil {
		return ClientView{}, err
	}
	return NewClientView(c), nil
}

// getTenantClient loads client id and checks that it belongs to tenant and
// that p may see that tenant; anything else is the same 404.
func getTenantClient(ctx context.Context, r store.Reader, p Principal, tenant, id string) (store.Client, error) {
	if !p.canSeeTenant(tenant) {
		return store.Client{}, errNotFound("tenant")
	}
	c, err := r.GetClient(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.Tenant != tenant) {
		return store.Client{}, errNotFound("client")
	}
	if err != nil {
		return store.Client{}, fmt.Errorf("get client %s: %w", id, err)
	}
	return c, nil
}

// guardOperatorClient refuses a change to a client holding keyshift:admin by
// anyone but an operator: rotating its secret would hand out operator rights.
func guardOperatorClient(p Principal, c store.Client) error {
	if slices.Contains(c.Scopes, oauth.ScopeAdmin) && !p.IsOperator() {
		return errForbidden("only operators change clients that hold keyshift:admin")
	}
	return nil
}

// UpdateClient changes some fields of a client.
func (a *API) UpdateClient(ctx context.Context, p Principal, tenant, id string, req UpdateClientRequest) (ClientView, error) {
	if !p.canSeeTenant(tenant) {
		return ClientView{}, errNotFound("tenant")
	}
	if err := validateClientUpdate(&req); err != nil {
		return ClientView{}, err
	}
	var out store.Client
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		c, err := getTenantClient(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorClient(p, c); err != nil {
			return err
		}
		if req.Scopes != nil {
			if err := a.checkGrantable(ctx, tx, p, tenant, *req.Scopes); err != nil {
				return err
			}
		}
		if req.Contact != nil && req.Contact.Login != nil {
			if err := checkLoginFree(ctx, tx, tenant, id, *req.Contact.Login); err != nil {
				return err
			}
		}
		var dropped int
		err = tx.UpdateClient(ctx, id, func(c store.Client) (store.Client, error) {
			dropped = applyClientUpdate(&c, req)
			if err := checkClientShape(c); err != nil {
				return c, err
			}
			c.UpdatedAt = a.clock()
			out = c
			return c, nil
		})
		if err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "client.update", "client", id, updateDetails(req, dropped)))
	})
	if errors.Is(err, store.ErrConflict) {
		return ClientView{}, errLoginTaken()
	}
	if err != nil {
		return ClientView{}, fmt.Errorf("update client %s: %w", id, err)
	}
	return NewClientView(out), nil
}

// validateClientUpdate checks the fields of a PATCH one by one and
// compacts its jwks; the rules between fields are checked on the merged
// client (checkClientShape).
func validateClientUpdate(req *UpdateClientRequest) error {
	var v validation
	if req.GrantTypes != nil {
		checkGrantTypes(&v, *req.GrantTypes)
	}
	if req.JWKS != nil {
		compact := json.RawMessage(checkJWKS(&v, *req.JWKS))
		req.JWKS = &compact
	}
	if req.JWKSURI != nil && *req.JWKSURI != "" {
		checkJWKSURI(&v, *req.JWKSURI)
	}
	if req.IDTokenAlg != nil {
		checkIDTokenAlg(&v, *req.IDTokenAlg)
	}
	if req.PostLogoutRedirectURIs != nil {
		checkURIList(&v, "post_logout_redirect_uris", *req.PostLogoutRedirectURIs)
	}
	if req.Name != nil {
		checkText(&v, "name", *req.Name, maxNameLen, true)
	}
	if req.Contact != nil {
		cp := req.Contact
		c := store.Contact{Login: deref(cp.Login), FirstName: deref(cp.FirstName), LastName: deref(cp.LastName), Email: deref(cp.Email)}
		checkContact(&v, c)
	}
	if req.Scopes != nil {
		checkScopeList(&v, *req.Scopes)
	}
	if req.RedirectURIs != nil {
		checkRedirectURIs(&v, *req.RedirectURIs)
	}
	if req.AuthMethod != nil {
		checkAuthMethod(&v, *req.AuthMethod)
	}
	if req.Status != nil && *req.Status != store.StatusActive && *req.Status != store.StatusDisabled {
		v.add("status", `must be "active" or "disabled"`)
	}
	if req.AccessTokenTTLSeconds != nil {
		checkTTL(&v, *req.AccessTokenTTLSeconds)
	}
	return v.err()
}

// applyClientUpdate merges a validated PATCH into c and returns how many
// secrets it dropped: a client moving to private_key_jwt or none keeps no
// secret, and one moving away from private_key_jwt keeps no keys. A client
// moving to a secret method gets its secret from a rotation.
func applyClientUpdate(c *store.Client, req UpdateClientRequest) int {
	set := func(dst *string, src *string) {
		if src != nil {
			*dst = *src
		}
	}
	set(&c.Name, req.Name)
	set(&c.AuthMethod, req.AuthMethod)
	set(&c.Status, req.Status)
	set(&c.IDTokenAlg, req.IDTokenAlg)
	switch {
	case req.JWKS != nil:
		c.JWKS, c.JWKSURI = *req.JWKS, deref(req.JWKSURI)
	case req.JWKSURI != nil:
		c.JWKSURI = *req.JWKSURI
		if c.JWKSURI != "" {
			c.JWKS = nil
		}
	case c.AuthMethod != oauth.AuthPrivateKeyJWT:
		c.JWKS, c.JWKSURI = nil, ""
	}
	dropped := 0
	if !oauth.UsesSecret(c.AuthMethod) {
		dropped, c.Secrets = len(c.Secrets), nil
	}
	if req.GrantTypes != nil {
		c.GrantTypes = slices.Clone(*req.GrantTypes)
	}
	if req.PostLogoutRedirectURIs != nil {
		c.PostLogoutRedirectURIs = slices.Clone(*req.PostLogoutRedirectURIs)
	}
	if cp := req.Contact; cp != nil {
		set(&c.Contact.Login, cp.Login)
		set(&c.Contact.FirstName, cp.FirstName)
		set(&c.Contact.LastName, cp.LastName)
		set(&c.Contact.Email, cp.Email)
	}
	if req.Scopes != nil {
		c.Scopes = slices.Clone(*req.Scopes)
	}
	if req.RedirectURIs != nil {
		c.RedirectURIs = nonNil(slices.Clone(*req.RedirectURIs))
	}
	if req.AccessTokenTTLSeconds != nil {
		c.AccessTokenTTL = time.Duration(*req.AccessTokenTTLSeconds) * time.Second
	}
	return dropped
}

// updateDetails lists what a PATCH changed; contact details other than the
// login are personal data and only named, not copied. Keys are named by
// their thumbprints.
func updateDetails(req UpdateClientRequest, droppedSecrets int) []byte {
	var contact []string
	var login *string
	if cp := req.Contact; cp != nil {
		login = cp.Login
		for name, f := range map[string]*string{"first_name": cp.FirstName, "last_name": cp.LastName, "email": cp.Email} {
			if f != nil {
				contact = append(contact, name)
			}
		}
		slices.Sort(contact)
	}
	var changedContact any
	if len(contact) > 0 {
		changedContact = contact
	}
	var thumbprints any
	if req.JWKS != nil {
		thumbprints = jwksThumbprints(*req.JWKS)
	}
	var dropped any
	if droppedSecrets > 0 {
		dropped = droppedSecrets
	}
	return details("name", req.Name, "scopes", req.Scopes, "redirect_uris", req.RedirectURIs,
		"token_endpoint_auth_method", req.AuthMethod, "status", req.Status,
		"access_token_ttl_seconds", req.AccessTokenTTLSeconds, "login", login, "contact_changed", changedContact,
		"grant_types", req.GrantTypes, "post_logout_redirect_uris", req.PostLogoutRedirectURIs,
		"jwks_uri", req.JWKSURI, "jwks_thumbprints", thumbprints,
		"id_token_signed_response_alg", req.IDTokenAlg, "secrets_dropped", dropped)
}

// DeleteClient deletes a client and its secrets.
func (a *API) DeleteClient(ctx context.Context, p Principal, tenant, id string) error {
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		c, err := getTenantClient(ctx, tx, p, tenant, id)
		if err != nil {
			return err
		}
		if err := guardOperatorClient(p, c); err != nil {
			return err
		}
		if err := tx.DeleteClient(ctx, id); err != nil {
			return err
		}
		return tx.AppendAudit(ctx, a.audit(p, tenant, "client.delete", "client", id, details("name", c.Name)))
	})
	if err != nil {
		return fmt.Errorf("delete client %s: %w", id, err)
	}
	return nil
}

// checkGrantable checks, against the catalogue in tx, that p may give these
// scopes to a client of tenant.
func (a *API) checkGrantable(ctx context.Context, tx store.Tx, p Principal, tenant string, scopes []string) error {
	catalogue, err := tx.ListScopes(ctx)
	if err != nil {
		return fmt.Errorf("load scope catalogue: %w", err)
	}
	known := make(map[string]bool, len(catalogue))
	for _, s := range catalogue {
		known[s.Name] = true
	}
	var v validation
	for i, s := range scopes {
		field := fmt.Sprintf("scopes[%d]", i)
		switch {
		case !known[s]:
			v.add(field, fmt.Sprintf("unknown scope %q", s))
		case s == oauth.ScopeAdmin && tenant != store.PlatformTenant:
			v.add(field, "keyshift:admin is only for clients of the platform tenant")
		case s == oauth.ScopeAdmin && !p.IsOperator():
			v.add(field, "only operators grant keyshift:admin")
		case s == oauth.ScopeTenantAdmin && !p.canSeeTenant(tenant):
			v.add(field, "only operators and admins of this tenant grant keyshift:tenant-admin")
		}
	}
	return v.err()
}

// checkLoginFree refuses a contact login another client of tenant has.
func checkLoginFree(ctx context.Context, tx store.Tx, tenant, self, login string) error {
	if login == "" {
		return nil
	}
	cs, err := tx.ListClients(ctx, tenant)
	if err != nil {
		return fmt.Errorf("list clients of %s: %w", tenant, err)
	}
	for _, c := range cs {
		if c.ID != self && strings.EqualFold(c.Contact.Login, login) {
			return errLoginTaken()
		}
	}
	return nil
}

func (a *API) handleCreateClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req CreateClientRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	resp, err := a.CreateClient(r.Context(), p, tenant, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/admin/v1/tenants/"+tenant+"/clients/"+resp.ClientID)
	writeJSON(w, http.StatusCreated, resp)
	return nil
}

func (a *API) handleListClients(w http.ResponseWriter, r *http.Request, p Principal) error {
	cs, err := a.ListClients(r.Context(), p, r.PathValue("tenant"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ClientList{Clients: cs})
	return nil
}

func (a *API) handleGetClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	c, err := a.GetClient(r.Context(), p, r.PathValue("tenant"), r.PathValue("client_id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) handleUpdateClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	var req UpdateClientRequest
	if err := a.decodeJSON(w, r, &req, false); err != nil {
		return err
	}
	c, err := a.UpdateClient(r.Context(), p, tenant, r.PathValue("client_id"), req)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, c)
	return nil
}

func (a *API) handleDeleteClient(w http.ResponseWriter, r *http.Request, p Principal) error {
	if err := a.DeleteClient(r.Context(), p, r.PathValue("tenant"), r.PathValue("client_id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
