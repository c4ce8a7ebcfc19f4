package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// Import limits.
const (
	// ImportBatch is how many rows one transaction (and one audit event)
	// covers: large enough to amortise the commit, small enough to keep the
	// write lock briefly and memory flat.
	ImportBatch = 1000
	// MaxImportErrors caps the row errors an answer lists; ErrorsTotal
	// still counts them all.
	MaxImportErrors = 1000
	// MaxImportBytes bounds an import request body (2 GiB, about ten
	// million keys with their records).
	MaxImportBytes = 2 << 30
)

// ImportOptions tune an import.
type ImportOptions struct {
	// DryRun checks every row against the store, counts what would change
	// and rolls every batch back.
	DryRun bool
	// BatchSize is how many rows each transaction covers: 0 or anything
	// above ImportBatch means ImportBatch.
	BatchSize int
}

// ImportError is one problem of one row.
type ImportError struct {
	Line    int    `json:"line"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// ImportResult is the answer of an import.
type ImportResult struct {
	Created   int  `json:"created"`
	Updated   int  `json:"updated"`
	Unchanged int  `json:"unchanged"`
	Failed    int  `json:"failed"` // rows refused
	DryRun    bool `json:"dry_run"`
	// Errors lists the first MaxImportErrors problems; ErrorsTotal counts
	// every problem.
	Errors      []ImportError `json:"errors"`
	ErrorsTotal int           `json:"errors_total"`
}

func (r *ImportResult) fail(re *apikey.RowError) {
	r.Failed++
	for _, p := range re.Problems {
		r.ErrorsTotal++
		if len(r.Errors) < MaxImportErrors {
			r.Errors = append(r.Errors, ImportError{Line: re.Line, Field: p.Field, Message: p.Message})
		}
	}
}

// errDryRun rolls back a dry run's batch.
var errDryRun = errors.New("dry run")

// importer runs one import.
type importer struct {
	a       *API
	p       Principal
	tenant  string
	opts    ImportOptions
	stamp   time.Time // UpdatedAt of every key this run writes
	known   map[string]bool
	state   *importState
	res     ImportResult
	batchOK ImportResult // counts of the current batch, for its audit event
}

// ImportKeys reads keys from r (JSON lines or CSV, see apikey.NewImportReader)
// and creates or updates them in tenant, ImportBatch rows per transaction,
// each with one audit event. Rows are matched by key hash, so importing a
// file again updates keys and never duplicates them. A bad row is reported
// and skipped; it never aborts the rest. Memory does not grow with the
// number of rows, except about 40 bytes per distinct contact login.
//
// Imports describe keys that already exist elsewhere, so the timeline's
// creation rules do not apply to operators; tenant admins may import only
// while the timeline lets them create keys.
func (a *API) ImportKeys(ctx context.Context, p Principal, tenant string, r io.Reader, format apikey.ImportFormat, opts ImportOptions) (ImportResult, error) {
	t, err := a.GetTenant(ctx, p, tenant)
	if err != nil {
		return ImportResult{}, err
	}
	ir, err := apikey.NewImportReader(r, format)
	if err != nil {
		return ImportResult{}, errBadRequest(err.Error())
	}
	if !p.IsOperator() {
		if err := checkCreateAllowed(ctx, a.st, t, apikey.OwnerTenant, a.clock()); err != nil {
			return ImportResult{}, err
		}
	}
	known, _, err := catalogPermissions(ctx, a.st)
	if err != nil {
		return ImportResult{}, err
	}
	state, err := newImportState(ctx, a.st, tenant)
	if err != nil {
		return ImportResult{}, fmt.Errorf("import into %s: %w", tenant, err)
	}
	im := &importer{a: a, p: p, tenant: tenant, opts: opts, stamp: a.clock(), known: known, state: state,
		res: ImportResult{DryRun: opts.DryRun, Errors: []ImportError{}}}
	if opts.BatchSize <= 0 || opts.BatchSize > ImportBatch {
		im.opts.BatchSize = ImportBatch
	}
	batch := make([]apikey.ImportRow, 0, im.opts.BatchSize)
	for done := false; !done; {
		var readErr error
		batch, done, readErr = im.read(ir, batch[:0])
		// The rows read before a failure (a body over the limit, a dropped
		// connection) are whole and valid: keep them.
		if err := im.commit(ctx, batch); err != nil {
			return im.res, fmt.Errorf("import into %s: %w", tenant, err)
		}
		if readErr != nil {
			return im.res, fmt.Errorf("import into %s: read: %w", tenant, readErr)
		}
	}
	return im.res, nil
}

// read fills batch with up to BatchSize valid rows, recording bad ones.
func (im *importer) read(ir *apikey.ImportReader, batch []apikey.ImportRow) ([]apikey.ImportRow, bool, error) {
	for len(batch) < im.opts.BatchSize {
		row, err := ir.Next()
		var re *apikey.RowError
		switch {
		case err == nil:
			batch = append(batch, row)
		case errors.As(err, &re):
			im.res.fail(re)
			im.batchOK.Failed++
		case errors.Is(err, io.EOF):
			return batch, true, nil
		default:
			return batch, true, err
		}
	}
	return batch, false, nil
}

// commit writes one batch in one transaction with its audit event.
func (im *importer) commit(ctx context.Context, batch []apikey.ImportRow) error {
	if len(batch) == 0 && im.batchOK.Failed == 0 {
		return nil
	}
	var counts ImportResult
	var failures []*apikey.RowError
	err := im.a.st.Tx(ctx, func(tx store.Tx) error {
		counts, failures = ImportResult{Failed: im.batchOK.Failed}, nil
		for _, row := range batch {
			outcome, re, err := im.row(ctx, tx, row)
			switch {
			case err != nil:
				return fmt.Errorf("line %d: %w", row.Line, err)
			case re != nil:
				failures = append(failures, re)
				counts.Failed++
			default:
				*outcome(&counts)++
			}
		}
		if im.opts.DryRun {
			return errDryRun
		}
		first, last := 0, 0
		if len(batch) > 0 {
			first, last = batch[0].Line, batch[len(batch)-1].Line
		}
		return tx.AppendAudit(ctx, im.a.audit(im.p, im.tenant, "api_key.import", "tenant", im.tenant, details(
			"created", counts.Created, "updated", counts.Updated, "unchanged", counts.Unchanged,
			"failed", counts.Failed, "first_line", first, "last_line", last)))
	})
	if err != nil && !errors.Is(err, errDryRun) {
		return err
	}
	im.res.Created += counts.Created
	im.res.Updated += counts.Updated
	im.res.Unchanged += counts.Unchanged
	for _, re := range failures {
		im.res.fail(re)
	}
	im.batchOK = ImportResult{}
	return nil
}

type outcomeFn func(*ImportResult) *int

func created(r *ImportResult) *int   { return &r.Created }
func updated(r *ImportResult) *int   { return &r.Updated }
func unchanged(r *ImportResult) *int { return &r.Unchanged }

func rowProblem(line int, field, msg string) *apikey.RowError {
	return &apikey.RowError{Line: line, Problems: []apikey.Problem{{Field: field, Message: field + " " + msg}}}
}

// row creates or updates the key of one row. A *RowError refuses the row;
// an error aborts the batch.
func (im *importer) row(ctx context.Context, tx store.Tx, row apikey.ImportRow) (outcomeFn, *apikey.RowError, error) {
	maybeSeen := im.state.seen.testAndAdd(row.Hash)
	old, err := tx.GetAPIKeyByHash(ctx, row.Hash[:])
	switch {
	case errors.Is(err, store.ErrNotFound):
		if maybeSeen && im.opts.DryRun {
			// A dry run keeps no earlier batch, so the filter alone speaks.
			return nil, rowProblem(row.Line, "key", "repeats a key of an earlier row of this file"), nil
		}
		return im.create(ctx, tx, row)
	case err != nil:
		return nil, nil, err
	case old.Tenant != im.tenant:
		return nil, rowProblem(row.Line, "key", "is registered to another tenant"), nil
	case maybeSeen && old.UpdatedAt.Equal(im.stamp):
		return nil, rowProblem(row.Line, "key", "repeats a key of an earlier row of this file"), nil
	}
	return im.update(ctx, tx, row, old)
}

// check applies the rules that need the store or the principal.
func (im *importer) check(row apikey.ImportRow, keyID string) *apikey.RowError {
	var ps []apikey.Problem
	if row.Owner == apikey.OwnerPlatform && !im.p.IsOperator() {
		ps = append(ps, apikey.Problem{Field: "owner", Message: "owner is platform: only operators import platform-owned keys"})
	}
	for _, perm := range row.Permissions {
		if !im.known[perm] {
			ps = append(ps, apikey.Problem{Field: "permissions",
				Message: fmt.Sprintf("permissions lists unknown permission %q: no scope of the catalogue covers it", perm)})
		}
	}
	if im.state.loginTaken(row.Contact.Login, keyID) {
		ps = append(ps, apikey.Problem{Field: "contact_login", Message: "contact_login has already been taken by another key of this tenant"})
	}
	if len(ps) > 0 {
		return &apikey.RowError{Line: row.Line, Problems: ps}
	}
	return nil
}

func (im *importer) create(ctx context.Context, tx store.Tx, row apikey.ImportRow) (outcomeFn, *apikey.RowError, error) {
	id := row.ID
	if id == "" {
		id = credential.ID(keyIDPrefix, keyIDLen)
	} else if _, err := tx.GetAPIKey(ctx, id); err == nil {
		return nil, rowProblem(row.Line, "id", "is already the id of another key"), nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, nil, err
	}
	if re := im.check(row, id); re != nil {
		return nil, re, nil
	}
	k := store.APIKey{ID: id, Tenant: im.tenant, Hash: row.Hash[:], Hint: row.Hint, Imported: true,
		CreatedAt: im.stamp, UpdatedAt: im.stamp}
	applyRow(&k, row)
	if err := tx.CreateAPIKey(ctx, k); err != nil {
		return nil, nil, err
	}
	im.state.setLogin(k.Contact.Login, k.ID)
	return created, nil, nil
}

func (im *importer) update(ctx context.Context, tx store.Tx, row apikey.ImportRow, old store.APIKey) (outcomeFn, *apikey.RowError, error) {
	if row.ID != "" && row.ID != old.ID {
		return nil, rowProblem(row.Line, "id", "does not match the id of the key already stored with this key"), nil
	}
	if old.Owner == store.OwnerPlatform && !im.p.IsOperator() {
		return nil, rowProblem(row.Line, "owner", "is platform: only operators change platform-owned keys"), nil
	}
	k := old
	k.Permissions = slices.Clone(old.Permissions)
	applyRow(&k, row)
	if keyRecordEqual(k, old) {
		return unchanged, nil, nil
	}
	if old.Status == store.StatusRevoked {
		return nil, rowProblem(row.Line, "status", "cannot change a revoked key: revoking is final"), nil
	}
	if re := im.check(row, old.ID); re != nil {
		return nil, re, nil
	}
	k.UpdatedAt = im.stamp
	if err := tx.UpdateAPIKey(ctx, old.ID, func(store.APIKey) (store.APIKey, error) { return k, nil }); err != nil {
		return nil, nil, err
	}
	im.state.dropLogin(old.Contact.Login, old.ID)
	im.state.setLogin(k.Contact.Login, k.ID)
	return updated, nil, nil
}

// applyRow copies the fields of row onto k. Dates the row leaves out keep
// their stored value; last use only moves forward.
func applyRow(k *store.APIKey, row apikey.ImportRow) {
	k.Name, k.Description, k.Purpose = row.Name, row.Description, row.Purpose
	k.Contact = store.Contact(row.Contact)
	k.Permissions = nonNil(slices.Clone(row.Permissions))
	k.ExpiresAt = row.ExpiresAt
	k.Owner, k.Status = string(row.Owner), string(row.Status)
	if row.Hint != "" {
		k.Hint = row.Hint
	}
	if row.CreatedAt != nil {
		k.CreatedAt = *row.CreatedAt
	}
	if row.LastUsedAt != nil && (k.LastUsedAt == nil || row.LastUsedAt.After(*k.LastUsedAt)) {
		t := *row.LastUsedAt
		k.LastUsedAt = &t
	}
}

// keyRecordEqual compares the fields an import sets.
func keyRecordEqual(a, b store.APIKey) bool {
	eqTime := func(x, y *time.Time) bool { return (x == nil) == (y == nil) && (x == nil || x.Equal(*y)) }
	return a.Name == b.Name && a.Description == b.Description && a.Purpose == b.Purpose &&
		a.Contact == b.Contact && slices.Equal(a.Permissions, b.Permissions) && eqTime(a.ExpiresAt, b.ExpiresAt) &&
		a.Owner == b.Owner && a.Status == b.Status && a.Hint == b.Hint && a.CreatedAt.Equal(b.CreatedAt) &&
		eqTime(a.LastUsedAt, b.LastUsedAt)
}
