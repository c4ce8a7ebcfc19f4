package apikey

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"regexp"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/keyshift/keyshift/internal/credential"
)

// ImportFormat is the encoding of an import file.
type ImportFormat string

// Import formats.
const (
	// ImportJSONL is one JSON object per line (JSON Lines / NDJSON).
	ImportJSONL ImportFormat = "jsonl"
	// ImportCSV is RFC 4180 CSV with a header row naming the columns with the
	// JSON field names.
	ImportCSV ImportFormat = "csv"
)

// Limits of an import row. A line longer than MaxImportLine is reported as
// one bad row and skipped, so a garbage file costs bounded memory.
const (
	MaxImportLine      = 64 << 10
	maxImportName      = 200
	maxImportDesc      = 1000
	maxImportLogin     = 128
	maxImportPerson    = 100
	maxImportEmail     = 254
	maxImportPurpose   = 100
	maxImportPerms     = 500
	defaultImportName  = "Imported key"
	importKeyHashField = "key_sha256"
)

var importIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// ImportRow is one valid row of an import file: a key known by its hash,
// with the record to create or update. The plain key, when the file had it,
// is hashed at once and not kept.
type ImportRow struct {
	// Line is the row's line number in the file (1-based).
	Line int
	// Hash is the SHA-256 of the key.
	Hash [32]byte
	// Hint is the key's last characters; empty when only the hash was given.
	Hint string
	// ID is the key's identifier in the old system, kept when set.
	ID          string
	Name        string
	Description string
	Permissions []string
	Contact     Contact
	ExpiresAt   *time.Time
	Owner       Owner
	Purpose     string
	Status      Status
	CreatedAt   *time.Time
	LastUsedAt  *time.Time
}

// RowError reports why one row of an import file was refused. Its messages
// never contain the key or its hash.
type RowError struct {
	Line     int
	Problems []Problem
}

// Error lists the row's problems.
func (e *RowError) Error() string {
	msgs := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		msgs[i] = p.Message
	}
	return fmt.Sprintf("line %d: %s", e.Line, strings.Join(msgs, "; "))
}

// rawRow is a row as written in the file, before validation. CSV columns and
// JSON fields share these names.
type rawRow struct {
	Key              string   `json:"key"`
	KeySHA256        string   `json:"key_sha256"`
	ID               string   `json:"id"`
	Name             string   `json:"name"`
	Description      string   `json:"description"`
	Permissions      permList `json:"permissions"`
	ContactLogin     string   `json:"contact_login"`
	ContactEmail     string   `json:"contact_email"`
	ContactFirstName string   `json:"contact_first_name"`
	ContactLastName  string   `json:"contact_last_name"`
	ExpiresAt        string   `json:"expires_at"`
	Owner            string   `json:"owner"`
	Purpose          string   `json:"purpose"`
	Status           string   `json:"status"`
	CreatedAt        string   `json:"created_at"`
	LastUsedAt       string   `json:"last_used_at"`
}

// permList accepts a JSON array of strings or, as in CSV, one string of
// permissions separated by spaces or semicolons.
type permList []string

func (p *permList) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*p = splitPermissions(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return err
	}
	*p = list
	return nil
}

func splitPermissions(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
}

// csvColumns maps each CSV column name to the field it fills.
var csvColumns = map[string]func(*rawRow) *string{
	"key": func(r *rawRow) *string { return &r.Key }, importKeyHashField: func(r *rawRow) *string { return &r.KeySHA256 },
	"id": func(r *rawRow) *string { return &r.ID }, "name": func(r *rawRow) *string { return &r.Name },
	"description":        func(r *rawRow) *string { return &r.Description },
	"contact_login":      func(r *rawRow) *string { return &r.ContactLogin },
	"contact_email":      func(r *rawRow) *string { return &r.ContactEmail },
	"contact_first_name": func(r *rawRow) *string { return &r.ContactFirstName },
	"contact_last_name":  func(r *rawRow) *string { return &r.ContactLastName },
	"expires_at":         func(r *rawRow) *string { return &r.ExpiresAt },
	"owner":              func(r *rawRow) *string { return &r.Owner },
	"purpose":            func(r *rawRow) *string { return &r.Purpose },
	"status":             func(r *rawRow) *string { return &r.Status },
	"created_at":         func(r *rawRow) *string { return &r.CreatedAt },
	"last_used_at":       func(r *rawRow) *string { return &r.LastUsedAt },
}

// ImportReader reads an import file one row at a time, so a file of any
// size is read in bounded memory.
type ImportReader struct {
	format ImportFormat
	// jsonl
	br   *bufio.Reader
	line int
	// csv
	cr   *csv.Reader
	cols []func(*rawRow) *string
	perm int // index of the permissions column, or -1
}

// NewImportReader returns a reader of r in the given format. For CSV it
// reads the header row at once and refuses unknown or repeated columns and a
// header without a key or key_sha256 column.
func NewImportReader(r io.Reader, format ImportFormat) (*ImportReader, error) {
	switch format {
	case ImportJSONL:
		return &ImportReader{format: format, br: bufio.NewReaderSize(r, MaxImportLine)}, nil
	case ImportCSV:
		return newCSVReader(r)
	default:
		return nil, fmt.Errorf("import format %q: want %q or %q", format, ImportJSONL, ImportCSV)
	}
}

func newCSVReader(r io.Reader) (*ImportReader, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("csv import: the file is empty: a header row is required")
	}
	if err != nil {
		return nil, fmt.Errorf("csv import: read header: %w", err)
	}
	ir := &ImportReader{format: ImportCSV, cr: cr, perm: -1}
	seen := make(map[string]bool, len(header))
	for i, name := range header {
		name = strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")) // spreadsheets write a BOM
		switch {
		case seen[name]:
			return nil, fmt.Errorf("csv import: column %q appears twice", name)
		case name == "permissions":
			ir.perm = i
			ir.cols = append(ir.cols, nil)
		case csvColumns[name] != nil:
			ir.cols = append(ir.cols, csvColumns[name])
		default:
			return nil, fmt.Errorf("csv import: unknown column %q", name)
		}
		seen[name] = true
	}
	if !seen["key"] && !seen[importKeyHashField] {
		return nil, errors.New(`csv import: the header needs a "key" or "key_sha256" column`)
	}
	return ir, nil
}

// Next returns the next row. A malformed row returns a *RowError and reading
// may go on; io.EOF ends the file; any other error means the input cannot be
// read any further.
func (ir *ImportReader) Next() (ImportRow, error) {
	if ir.format == ImportCSV {
		return ir.nextCSV()
	}
	return ir.nextJSONL()
}

func (ir *ImportReader) nextJSONL() (ImportRow, error) {
	for {
		line, err := ir.readLine()
		if err != nil {
			return ImportRow{}, err
		}
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue // blank lines, including a final newline, are not rows
		}
		var raw rawRow
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&raw); err != nil {
			return ImportRow{}, rowErr(ir.line, jsonField(err), jsonRowMessage(err))
		}
		if dec.More() {
			return ImportRow{}, rowErr(ir.line, "", "the line holds more than one JSON value")
		}
		return raw.validate(ir.line)
	}
}

// readLine returns the next line without its newline. A line over
// MaxImportLine is consumed and reported as a row error.
func (ir *ImportReader) readLine() ([]byte, error) {
	ir.line++
	line, err := ir.br.ReadSlice('\n')
	switch {
	case err == nil, errors.Is(err, io.EOF) && len(line) > 0:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = ir.br.ReadSlice('\n')
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("read line %d: %w", ir.line, err)
		}
		return nil, rowErr(ir.line, "", fmt.Sprintf("the line is longer than %d bytes", MaxImportLine))
	case errors.Is(err, io.EOF):
		return nil, io.EOF
	default:
		return nil, fmt.Errorf("read line %d: %w", ir.line, err)
	}
}

func (ir *ImportReader) nextCSV() (ImportRow, error) {
	rec, err := ir.cr.Read()
	if err != nil {
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			return ImportRow{}, rowErr(pe.StartLine, "", "malformed CSV: "+pe.Err.Error())
		}
		if errors.Is(err, io.EOF) {
			return ImportRow{}, io.EOF
		}
		return ImportRow{}, fmt.Errorf("read csv: %w", err)
	}
	line, _ := ir.cr.FieldPos(0)
	var raw rawRow
	for i, v := range rec {
		if i == ir.perm {
			raw.Permissions = splitPermissions(v)
			continue
		}
		*ir.cols[i](&raw) = strings.Clone(v) // the record is reused
	}
	return raw.validate(line)
}

func rowErr(line int, field, msg string) *RowError {
	return &RowError{Line: line, Problems: []Problem{{Field: field, Message: msg}}}
}

func jsonField(err error) string {
	var typ *json.UnmarshalTypeError
	if errors.As(err, &typ) {
		return typ.Field
	}
	if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return strings.Trim(f, `"`)
	}
	return ""
}

// jsonRowMessage describes a decoding error without echoing the line, which
// may hold a key.
func jsonRowMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d of the line", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "the line must be a JSON object"
		}
		return fmt.Sprintf("must be a JSON %s", typ.Type.Kind())
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field"
	default:
		return "malformed JSON"
	}
}

// validate checks every field of a row and returns the row or all of its
// problems.
func (raw *rawRow) validate(line int) (ImportRow, error) {
	row := ImportRow{Line: line, ID: raw.ID, Name: raw.Name, Description: raw.Description,
		Purpose: raw.Purpose, Permissions: []string(raw.Permissions),
		Contact: Contact{Login: raw.ContactLogin, Email: raw.ContactEmail,
			FirstName: raw.ContactFirstName, LastName: raw.ContactLastName}}
	var ps problems
	raw.validateKey(&ps, &row)
	if row.ID != "" && !importIDPattern.MatchString(row.ID) {
		ps.add("id", "must be 1 to 64 letters, digits, '_', '.' or '-'")
	}
	if strings.TrimSpace(row.Name) == "" {
		row.Name = defaultImportName
	}
	checkImportText(&ps, "name", row.Name, maxImportName)
	checkImportText(&ps, "description", row.Description, maxImportDesc)
	checkImportText(&ps, "purpose", row.Purpose, maxImportPurpose)
	checkImportText(&ps, "contact_first_name", row.Contact.FirstName, maxImportPerson)
	checkImportText(&ps, "contact_last_name", row.Contact.LastName, maxImportPerson)
	if l := row.Contact.Login; l != "" && (len(l) > maxImportLogin || strings.IndexFunc(l, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r)
	}) >= 0 || !utf8.ValidString(l)) {
		ps.add("contact_login", "must be at most %d characters without spaces", maxImportLogin)
	}
	raw.validateEnums(&ps, &row)
	row.Permissions = checkImportPermissions(&ps, row.Permissions)
	row.ExpiresAt = importTime(&ps, "expires_at", raw.ExpiresAt, true)
	row.CreatedAt = importTime(&ps, "created_at", raw.CreatedAt, false)
	row.LastUsedAt = importTime(&ps, "last_used_at", raw.LastUsedAt, false)
	if row.Owner == OwnerPlatform && strings.TrimSpace(row.Purpose) == "" {
		ps.add("purpose", "is required for a platform-owned key (e.g. sftp-loader)")
	}
	if e := row.Contact.Email; e != "" {
		if a, err := mail.ParseAddress(e); err != nil || a.Address != e || len(e) > maxImportEmail {
			ps.add("contact_email", "must be a plain e-mail address")
		}
	}
	if len(ps) > 0 {
		return ImportRow{}, &RowError{Line: line, Problems: ps}
	}
	return row, nil
}

func (raw *rawRow) validateKey(ps *problems, row *ImportRow) {
	switch {
	case raw.Key == "" && raw.KeySHA256 == "":
		ps.add("key", "or key_sha256 is required")
	case raw.Key != "":
		if err := CheckFormat(raw.Key); err != nil {
			ps.add("key", "is malformed: %v", err)
			return
		}
		row.Hash, row.Hint = Hash(raw.Key), credential.Hint(raw.Key)
		if raw.KeySHA256 != "" {
			if h, err := hex.DecodeString(raw.KeySHA256); err != nil || !bytes.Equal(h, row.Hash[:]) {
				ps.add(importKeyHashField, "does not match the SHA-256 of key")
			}
		}
	default:
		h, err := hex.DecodeString(raw.KeySHA256)
		if err != nil || len(h) != len(row.Hash) {
			ps.add(importKeyHashField, "must be 64 hexadecimal digits (the SHA-256 of the key)")
			return
		}
		copy(row.Hash[:], h)
	}
}

func (raw *rawRow) validateEnums(ps *problems, row *ImportRow) {
	switch Owner(raw.Owner) {
	case "", OwnerTenant:
		row.Owner = OwnerTenant
	case OwnerPlatform:
		row.Owner = OwnerPlatform
	default:
		ps.add("owner", "must be %q or %q", OwnerTenant, OwnerPlatform)
	}
	switch Status(raw.Status) {
	case "":
		row.Status = StatusActive
	case StatusActive, StatusDisabled, StatusRevoked:
		row.Status = Status(raw.Status)
	default:
		ps.add("status", "must be active, disabled or revoked")
	}
}

func checkImportPermissions(ps *problems, perms []string) []string {
	if len(perms) > maxImportPerms {
		ps.add("permissions", "lists more than %d permissions", maxImportPerms)
		return nil
	}
	seen := make(map[string]bool, len(perms))
	out := perms[:0:0]
	for _, p := range perms {
		switch err := ValidatePermission(p); {
		case err != nil:
			ps.add("permissions", "%v", err)
		case seen[p]:
			// A repeated permission is harmless in a legacy export; keep one.
		default:
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

func checkImportText(ps *problems, field, s string, max int) {
	switch {
	case !utf8.ValidString(s):
		ps.add(field, "must be valid UTF-8")
	case utf8.RuneCountInString(s) > max:
		ps.add(field, "is longer than %d characters", max)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		ps.add(field, "must not contain control characters")
	}
}

// importTime parses a date or RFC 3339 time; dateOnly makes it midnight UTC
// of its date (expiry dates).
func importTime(ps *problems, field, s string, dateOnly bool) *time.Time {
	if s == "" {
		return nil
	}
	if dateOnly {
		t, err := ParseDate(s)
		if err != nil {
			ps.add(field, "must be a date (YYYY-MM-DD) or an RFC 3339 time")
			return nil
		}
		return &t
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		d, derr := time.Parse(time.DateOnly, s)
		if derr != nil {
			ps.add(field, "must be an RFC 3339 time or a date (YYYY-MM-DD)")
			return nil
		}
		t = d
	}
	t = t.UTC().Truncate(time.Microsecond)
	return &t
}
