package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
)

// ImportDeadline is how long one import request may take to send its body
// and receive its answer.
const ImportDeadline = 2 * time.Hour

// Media types of import bodies.
const (
	ContentTypeNDJSON = "application/x-ndjson"
	ContentTypeCSV    = "text/csv"
)

// importFormat maps a request's Content-Type onto an import format.
func importFormat(ct string) (apikey.ImportFormat, error) {
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil {
		switch mt {
		case ContentTypeNDJSON, "application/jsonl", "application/json-lines", "application/x-jsonlines":
			return apikey.ImportJSONL, nil
		case ContentTypeCSV:
			return apikey.ImportCSV, nil
		}
	}
	return "", newProblem(http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type",
		"the import body must be "+ContentTypeNDJSON+" (JSON lines) or "+ContentTypeCSV)
}

func (a *API) handleImportKeys(w http.ResponseWriter, r *http.Request, p Principal) error {
	tenant := r.PathValue("tenant")
	if !p.canSeeTenant(tenant) {
		return errNotFound("tenant")
	}
	format, err := importFormat(r.Header.Get("Content-Type"))
	if err != nil {
		return err
	}
	var opts ImportOptions
	if s := r.URL.Query().Get("dry_run"); s != "" {
		if opts.DryRun, err = strconv.ParseBool(s); err != nil {
			var v validation
			v.add("dry_run", "must be true or false")
			return v.err()
		}
	}
	// The only endpoint with a body this large; it is read as a stream,
	// for longer than the server's usual deadlines allow. The caller is an
	// authenticated admin, so the longer deadline is no slow-client risk.
	rc := http.NewResponseController(w)
	deadline := time.Now().Add(ImportDeadline)
	_ = rc.SetReadDeadline(deadline) // not supported by every ResponseWriter (tests); nothing to do then
	_ = rc.SetWriteDeadline(deadline)
	body := http.MaxBytesReader(w, r.Body, MaxImportBytes)
	res, err := a.ImportKeys(r.Context(), p, tenant, body, format, opts)
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return newProblem(http.StatusRequestEntityTooLarge, "too-large", "Request body too large",
			fmt.Sprintf("the body exceeds %d bytes; the rows before the limit were imported (%d created, %d updated): split the file",
				mbe.Limit, res.Created, res.Updated))
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

// ImportKeys streams body (JSON lines or CSV) to the import endpoint of
// tenant. The request has no overall timeout, since a large file takes
// minutes; cancel ctx to stop it.
func (c *Client) ImportKeys(ctx context.Context, tenant string, body io.Reader, format apikey.ImportFormat, dryRun bool) (ImportResult, error) {
	ct := ContentTypeNDJSON
	if format == apikey.ImportCSV {
		ct = ContentTypeCSV
	}
	path := keysPath(tenant) + "/import"
	if dryRun {
		path += "?dry_run=true"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/admin/v1"+path, body)
	if err != nil {
		return ImportResult{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Accept", "application/json, "+ProblemContentType)
	hc := *c.hc
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return ImportResult{}, tokenError(err, http.MethodPost, path)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return ImportResult{}, fmt.Errorf("POST %s: read answer: %w", path, err)
	}
	if resp.StatusCode >= 300 {
		return ImportResult{}, answerError(resp, raw)
	}
	var out ImportResult
	if err := json.Unmarshal(raw, &out); err != nil {
		return ImportResult{}, fmt.Errorf("POST %s: decode answer: %w", path, err)
	}
	return out, nil
}
