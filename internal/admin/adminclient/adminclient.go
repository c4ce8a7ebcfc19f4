// Package adminclient is the Go HTTP client of keyshift's admin API
// (/admin/v1/), used by the admin verbs of the CLI (package admincli) and by
// tests that drive the API over HTTP. It lives outside package admin so the
// service does not carry its callers' code; it imports admin only for the
// request and response types and *admin.Problem, which are the API's
// contract.
package adminclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// Client calls the admin API with a token it gets, and renews, through the
// client credentials grant at baseURL/oauth2/token. Errors the API answers
// with are *admin.Problem values.
type Client struct {
	base string
	hc   *http.Client
}

// ClientOption configures a Client.
type ClientOption func(*clientOptions)

type clientOptions struct {
	hc         *http.Client
	authInBody bool
}

// WithHTTPClient sets the HTTP client used for both the token and the API
// requests (TLS settings, timeouts, test servers).
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(o *clientOptions) { o.hc = hc }
}

// WithAuthInBody sends the client credentials in the token request body
// (client_secret_post) instead of HTTP Basic.
func WithAuthInBody() ClientOption {
	return func(o *clientOptions) { o.authInBody = true }
}

// New returns a client of the admin API at baseURL (keyshift's issuer
// URL, without /admin/v1).
func New(baseURL, clientID, clientSecret string, scopes []string, opts ...ClientOption) *Client {
	o := clientOptions{hc: &http.Client{Timeout: 30 * time.Second}}
	for _, opt := range opts {
		opt(&o)
	}
	base := strings.TrimRight(baseURL, "/")
	cfg := clientcredentials.Config{
		ClientID: clientID, ClientSecret: clientSecret, Scopes: scopes,
		TokenURL: base + oauth.PathToken, AuthStyle: oauth2.AuthStyleInHeader,
	}
	if o.authInBody {
		cfg.AuthStyle = oauth2.AuthStyleInParams
	}
	// The token source keeps this context for every renewal, so it must not
	// be a request's context.
	ctx := context.WithValue(context.Background(), oauth2.HTTPClient, o.hc)
	hc := cfg.Client(ctx)
	hc.Timeout = o.hc.Timeout
	return &Client{base: base, hc: hc}
}

// ListTenants lists the tenants the caller can see.
func (c *Client) ListTenants(ctx context.Context) ([]store.Tenant, error) {
	var out admin.TenantList
	return out.Tenants, c.do(ctx, http.MethodGet, "/tenants", nil, &out)
}

// CreateTenant creates a tenant.
func (c *Client) CreateTenant(ctx context.Context, req admin.CreateTenantRequest) (store.Tenant, error) {
	var out store.Tenant
	return out, c.do(ctx, http.MethodPost, "/tenants", req, &out)
}

// GetTenant returns one tenant.
func (c *Client) GetTenant(ctx context.Context, id string) (store.Tenant, error) {
	var out store.Tenant
	return out, c.do(ctx, http.MethodGet, "/tenants/"+url.PathEscape(id), nil, &out)
}

// UpdateTenant changes a tenant's name or status.
func (c *Client) UpdateTenant(ctx context.Context, id string, req admin.UpdateTenantRequest) (store.Tenant, error) {
	var out store.Tenant
	return out, c.do(ctx, http.MethodPatch, "/tenants/"+url.PathEscape(id), req, &out)
}

// DeleteTenant deletes a tenant and everything it owns.
func (c *Client) DeleteTenant(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, "/tenants/"+url.PathEscape(id), nil, nil)
}

// ListScopes returns the scope catalogue.
func (c *Client) ListScopes(ctx context.Context) ([]store.Scope, error) {
	var out admin.ScopeList
	return out.Scopes, c.do(ctx, http.MethodGet, "/scopes", nil, &out)
}

// PutScope creates or replaces a catalogue scope.
func (c *Client) PutScope(ctx context.Context, name string, req admin.PutScopeRequest) (store.Scope, error) {
	var out store.Scope
	return out, c.do(ctx, http.MethodPut, "/scopes/"+url.PathEscape(name), req, &out)
}

func clientsPath(tenant string) string { return "/tenants/" + url.PathEscape(tenant) + "/clients" }

func clientPath(tenant, id string) string { return clientsPath(tenant) + "/" + url.PathEscape(id) }

// ListClients lists a tenant's clients.
func (c *Client) ListClients(ctx context.Context, tenant string) ([]admin.ClientView, error) {
	var out admin.ClientList
	return out.Clients, c.do(ctx, http.MethodGet, clientsPath(tenant), nil, &out)
}

// CreateClient creates a client; the answer holds its secret.
func (c *Client) CreateClient(ctx context.Context, tenant string, req admin.CreateClientRequest) (admin.CreateClientResponse, error) {
	var out admin.CreateClientResponse
	return out, c.do(ctx, http.MethodPost, clientsPath(tenant), req, &out)
}

// GetClient returns one client.
func (c *Client) GetClient(ctx context.Context, tenant, id string) (admin.ClientView, error) {
	var out admin.ClientView
	return out, c.do(ctx, http.MethodGet, clientPath(tenant, id), nil, &out)
}

// UpdateClient changes some fields of a client.
func (c *Client) UpdateClient(ctx context.Context, tenant, id string, req admin.UpdateClientRequest) (admin.ClientView, error) {
	var out admin.ClientView
	return out, c.do(ctx, http.MethodPatch, clientPath(tenant, id), req, &out)
}

// DeleteClient deletes a client.
func (c *Client) DeleteClient(ctx context.Context, tenant, id string) error {
	return c.do(ctx, http.MethodDelete, clientPath(tenant, id), nil, nil)
}

// RotateClientSecret gives a client a new secret; the answer holds it.
func (c *Client) RotateClientSecret(ctx context.Context, tenant, id string, req admin.RotateSecretRequest) (admin.RotateSecretResponse, error) {
	var out admin.RotateSecretResponse
	return out, c.do(ctx, http.MethodPost, clientPath(tenant, id)+"/secrets", req, &out)
}

// ListSigningKeys lists the signing keys.
func (c *Client) ListSigningKeys(ctx context.Context) ([]admin.SigningKeyView, error) {
	var out admin.SigningKeyList
	return out.SigningKeys, c.do(ctx, http.MethodGet, "/signing-keys", nil, &out)
}

// RotateSigningKeys rotates the signing keys and returns them afterwards.
func (c *Client) RotateSigningKeys(ctx context.Context) ([]admin.SigningKeyView, error) {
	var out admin.SigningKeyList
	return out.SigningKeys, c.do(ctx, http.MethodPost, "/signing-keys/rotate", nil, &out)
}

// ListAudit returns audit events, newest first.
func (c *Client) ListAudit(ctx context.Context, q admin.AuditQuery) (admin.AuditList, error) {
	v := url.Values{}
	for k, s := range map[string]string{"tenant": q.Tenant, "action": q.Action, "object_id": q.ObjectID} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if !q.Before.IsZero() {
		v.Set("before", q.Before.UTC().Format(time.RFC3339Nano))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/audit"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out admin.AuditList
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// do sends one request to the admin API and decodes the answer into out.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("encode request: %w", err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+"/admin/v1"+path, body)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json, "+admin.ProblemContentType)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return tokenError(err, method, path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		return answerError(resp, raw)
	}
	if out == nil || len(raw) == 0 {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// tokenError explains a failed token request in OAuth terms.
func tokenError(err error, method, path string) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		msg := re.ErrorCode
		if msg == "" {
			msg = fmt.Sprintf("HTTP %d", re.Response.StatusCode)
		}
		if re.ErrorDescription != "" {
			msg += ": " + re.ErrorDescription
		}
		return fmt.Errorf("get access token: %s", msg)
	}
	return fmt.Errorf("%s %s: %w", method, path, err)
}

// answerError turns an error answer into an *admin.Problem.
func answerError(resp *http.Response, raw []byte) error {
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt == admin.ProblemContentType || mt == "application/json" {
		var p admin.Problem
		if json.Unmarshal(raw, &p) == nil && p.Title != "" {
			if p.Status == 0 {
				p.Status = resp.StatusCode
			}
			return &p
		}
	}
	return &admin.Problem{Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode}
}

// Traffic returns the daily key and token requests of tenant ("" = every
// tenant, for an operator) over the last days days (0 = the server's
// default).
func (c *Client) Traffic(ctx context.Context, tenant string, days int) (admin.TrafficReport, error) {
	path := "/traffic"
	if tenant != "" {
		path = "/tenants/" + url.PathEscape(tenant) + "/traffic"
	}
	if days != 0 {
		path += "?days=" + strconv.Itoa(days)
	}
	var out admin.TrafficReport
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}
