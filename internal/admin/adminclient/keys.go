package adminclient

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
)

// keysPath and keyPath build admin API paths of keys.
func keysPath(tenant string) string { return "/tenants/" + url.PathEscape(tenant) + "/keys" }

func keyPath(tenant, id string) string { return keysPath(tenant) + "/" + url.PathEscape(id) }

// ListKeys lists one page of a tenant's keys.
func (c *Client) ListKeys(ctx context.Context, tenant string, q admin.KeyQuery) (admin.KeyList, error) {
	path := keysPath(tenant)
	sep := "?"
	if q.After != "" {
		path += sep + "after=" + url.QueryEscape(q.After)
		sep = "&"
	}
	if q.Limit > 0 {
		path += fmt.Sprintf("%slimit=%d", sep, q.Limit)
	}
	var out admin.KeyList
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// CreateKey creates an API key; the answer holds the key.
func (c *Client) CreateKey(ctx context.Context, tenant string, req admin.CreateKeyRequest) (admin.CreateKeyResponse, error) {
	var out admin.CreateKeyResponse
	return out, c.do(ctx, http.MethodPost, keysPath(tenant), req, &out)
}

// GetKey returns one API key.
func (c *Client) GetKey(ctx context.Context, tenant, id string) (admin.KeyView, error) {
	var out admin.KeyView
	return out, c.do(ctx, http.MethodGet, keyPath(tenant, id), nil, &out)
}

// UpdateKey changes an API key's status or expiry.
func (c *Client) UpdateKey(ctx context.Context, tenant, id string, req admin.UpdateKeyRequest) (admin.KeyView, error) {
	var out admin.KeyView
	return out, c.do(ctx, http.MethodPatch, keyPath(tenant, id), req, &out)
}

// ConvertKey converts an API key into an OAuth client; the answer holds
// the client's secret.
func (c *Client) ConvertKey(ctx context.Context, tenant, id string, req admin.ConvertKeyRequest) (admin.ConvertKeyResponse, error) {
	var out admin.ConvertKeyResponse
	return out, c.do(ctx, http.MethodPost, keyPath(tenant, id)+"/convert", req, &out)
}

// ImportKeys streams body (JSON lines or CSV) to the import endpoint of
// tenant. The request has no overall timeout, since a large file takes
// minutes; cancel ctx to stop it.
func (c *Client) ImportKeys(ctx context.Context, tenant string, body io.Reader, format apikey.ImportFormat, dryRun bool) (admin.ImportResult, error) {
	ct := admin.ContentTypeNDJSON
	if format == apikey.ImportCSV {
		ct = admin.ContentTypeCSV
	}
	path := keysPath(tenant) + "/import"
	if dryRun {
		path += "?dry_run=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/admin/v1"+path, body)
	if err != nil {
		return admin.ImportResult{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json, "+admin.ProblemContentType)
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return admin.ImportResult{}, tokenError(err, http.MethodPost, path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return admin.ImportResult{}, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return admin.ImportResult{}, answerError(resp, raw)
	}
	var out admin.ImportResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return admin.ImportResult{}, fmt.Errorf("POST %s: decode answer: %w", path, err)
	}
	return out, nil
}

// Migration returns the migration report at at (zero = now).
func (c *Client) Migration(ctx context.Context, at time.Time) (apikey.Report, error) {
	path := "/migration"
	if !at.IsZero() {
		path += "?at=" + url.QueryEscape(at.UTC().Format(time.RFC3339))
	}
	var out apikey.Report
	return out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// GetTimeline returns the sunset timeline.
func (c *Client) GetTimeline(ctx context.Context) (apikey.Timeline, error) {
	var out apikey.Timeline
	return out, c.do(ctx, http.MethodGet, "/timeline", nil, &out)
}

// PutTimeline replaces the sunset timeline.
func (c *Client) PutTimeline(ctx context.Context, t apikey.Timeline) (apikey.Timeline, error) {
	var out apikey.Timeline
	return out, c.do(ctx, http.MethodPut, "/timeline", t, &out)
}
