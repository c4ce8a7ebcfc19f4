package admin

import (
	"errors"
	"fmt"
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
