package apikey

import (
	"encoding/hex"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"
)

const legacyKey40 = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd"

func readAll(t *testing.T, format ImportFormat, body string) ([]ImportRow, []*RowError) {
	t.Helper()
	ir, err := NewImportReader(strings.NewReader(body), format)
	if err != nil {
		t.Fatalf("NewImportReader: %v", err)
	}
	var rows []ImportRow
	var errs []*RowError
	for {
		row, err := ir.Next()
		var re *RowError
		switch {
		case err == nil:
			rows = append(rows, row)
		case errors.As(err, &re):
			errs = append(errs, re)
		case errors.Is(err, io.EOF):
			return rows, errs
		default:
			t.Fatalf("Next: %v", err)
		}
	}
}

func TestImportReader_JSONL_GoodRow(t *testing.T) {
	body := `{"key":"` + legacyKey40 + `","id":"legacy-17","name":"ERP","description":"nightly","permissions":["invoices:read","invoices:read","suppliers:read"],` +
		`"contact_login":"jdoe","contact_email":"jdoe@acme.example","contact_first_name":"Jane","contact_last_name":"Doe",` +
		`"expires_at":"2027-03-01T18:00:00-08:00","owner":"tenant","status":"disabled","created_at":"2021-05-01T10:00:00Z","last_used_at":"2026-11-20"}` + "\n\n"
	rows, errs := readAll(t, ImportJSONL, body)
	if len(errs) != 0 || len(rows) != 1 {
		t.Fatalf("rows %d errs %v", len(rows), errs)
	}
	r := rows[0]
	if r.Hash != Hash(legacyKey40) || r.Hint != "abcd" || r.ID != "legacy-17" || r.Status != StatusDisabled || r.Owner != OwnerTenant ||
		!slices.Equal(r.Permissions, []string{"invoices:read", "suppliers:read"}) || r.Contact.LastName != "Doe" || r.Line != 1 {
		t.Errorf("row = %+v", r)
	}
	if !r.ExpiresAt.Equal(at("2027-03-01T00:00:00Z")) || !r.CreatedAt.Equal(at("2021-05-01T10:00:00Z")) ||
		!r.LastUsedAt.Equal(at("2026-11-20T00:00:00Z")) {
		t.Errorf("dates %v %v %v", r.ExpiresAt, r.CreatedAt, r.LastUsedAt)
	}
}

func TestImportReader_Defaults_HashOnly(t *testing.T) {
	h := Hash(legacyKey40)
	rows, errs := readAll(t, ImportJSONL, `{"key_sha256":"`+strings.ToUpper(hex.EncodeToString(h[:]))+`"}`)
	if len(errs) != 0 || len(rows) != 1 {
		t.Fatalf("rows %v errs %v", rows, errs)
	}
	r := rows[0]
	if r.Hash != h || r.Hint != "" || r.Name != defaultImportName || r.Owner != OwnerTenant || r.Status != StatusActive || r.ExpiresAt != nil {
		t.Errorf("row = %+v", r)
	}
}

func TestImportReader_BadFields(t *testing.T) {
	h := Hash(legacyKey40)
	hx := hex.EncodeToString(h[:])
	k := `"key":"` + legacyKey40 + `"`
	cases := []struct {
		name, line, field string
	}{
		{"no key", `{"name":"x"}`, "key"},
		{"short key", `{"key":"abc"}`, "key"},
		{"key with space", `{"key":"abcdefgh ijklmnopqrst"}`, "key"},
		{"keyshift prefix, bad checksum", `{"key":"ksk_0000000000000000000000000000000000000000000000000"}`, "key"},
		{"hash not hex", `{"key_sha256":"zz"}`, "key_sha256"},
		{"hash too short", `{"key_sha256":"` + hx[:62] + `"}`, "key_sha256"},
		{"hash does not match key", `{` + k + `,"key_sha256":"` + strings.Repeat("0", 64) + `"}`, "key_sha256"},
		{"bad id", `{` + k + `,"id":"has space"}`, "id"},
		{"long name", `{` + k + `,"name":"` + strings.Repeat("n", 201) + `"}`, "name"},
		{"control in description", `{` + k + `,"description":"a\u0007b"}`, "description"},
		{"bad permission", `{` + k + `,"permissions":["invoices"]}`, "permissions"},
		{"permissions not strings", `{` + k + `,"permissions":[1]}`, "permissions"},
		{"login with space", `{` + k + `,"contact_login":"j doe"}`, "contact_login"},
		{"bad email", `{` + k + `,"contact_email":"nope"}`, "contact_email"},
		{"long first name", `{` + k + `,"contact_first_name":"` + strings.Repeat("f", 101) + `"}`, "contact_first_name"},
		{"bad expiry", `{` + k + `,"expires_at":"03/01/2027"}`, "expires_at"},
		{"unknown owner", `{` + k + `,"owner":"robot"}`, "owner"},
		{"platform without purpose", `{` + k + `,"owner":"platform"}`, "purpose"},
		{"unknown status", `{` + k + `,"status":"paused"}`, "status"},
		{"bad created_at", `{` + k + `,"created_at":"yesterday"}`, "created_at"},
		{"bad last_used_at", `{` + k + `,"last_used_at":"1700000000"}`, "last_used_at"},
		{"unknown field", `{` + k + `,"colour":"red"}`, "colour"},
		{"wrong type", `{` + k + `,"name":5}`, "name"},
		{"not an object", `[1,2]`, ""},
		{"two values", `{` + k + `} {}`, ""},
		{"malformed", `{"key":`, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rows, errs := readAll(t, ImportJSONL, "\n"+tc.line+"\n")
			if len(rows) != 0 || len(errs) != 1 {
				t.Fatalf("rows %v errs %v", rows, errs)
			}
			re := errs[0]
			if re.Line != 2 {
				t.Errorf("line %d, want 2", re.Line)
			}
			var fields []string
			for _, p := range re.Problems {
				fields = append(fields, p.Field)
				if strings.Contains(p.Message, legacyKey40) || strings.Contains(p.Message, hx) {
					t.Errorf("message leaks the key: %q", p.Message)
				}
			}
			if !slices.Contains(fields, tc.field) {
				t.Errorf("fields %v, want %q (%v)", fields, tc.field, re)
			}
		})
	}
}

func TestImportReader_LongLineSkipped_ReadingGoesOn(t *testing.T) {
	body := `{"name":"` + strings.Repeat("x", MaxImportLine+10) + `"}` + "\n" + `{"key":"` + legacyKey40 + `"}`
	rows, errs := readAll(t, ImportJSONL, body)
	if len(rows) != 1 || len(errs) != 1 || errs[0].Line != 1 || rows[0].Line != 2 {
		t.Fatalf("rows %+v errs %v", rows, errs)
	}
}

func TestImportReader_CSV(t *testing.T) {
	body := "\ufeffkey , name,permissions,expires_at,owner,purpose\n" +
		legacyKey40 + ",ERP,invoices:read;suppliers:read invoices:write,2027-01-01,,\n" +
		"short,x,,,,\n" +
		legacyKey40 + ",\"multi\nline\",,,platform,mobile\n" +
		legacyKey40 + ",too,many,fields,,,\n"
	rows, errs := readAll(t, ImportCSV, body)
	// Line 4 starts a quoted name holding a newline: a control character,
	// refused like any other, and reported at the record's first line.
	if len(rows) != 1 || len(errs) != 3 {
		t.Fatalf("rows %+v errs %v", rows, errs)
	}
	if !slices.Equal(rows[0].Permissions, []string{"invoices:read", "suppliers:read", "invoices:write"}) || rows[0].Line != 2 ||
		!rows[0].ExpiresAt.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("row 0 = %+v", rows[0])
	}
	for i, want := range []struct {
		line  int
		field string
	}{{3, "key"}, {4, "name"}, {6, ""}} {
		if errs[i].Line != want.line || errs[i].Problems[0].Field != want.field {
			t.Errorf("error %d = %v, want line %d field %q", i, errs[i], want.line, want.field)
		}
	}
}

func TestNewImportReader_RefusesBadHeadersAndFormats(t *testing.T) {
	for _, tc := range []struct {
		name, body string
		format     ImportFormat
	}{
		{"empty csv", "", ImportCSV},
		{"no key column", "name,owner\n", ImportCSV},
		{"unknown column", "key,colour\n", ImportCSV},
		{"repeated column", "key,name,name\n", ImportCSV},
		{"unknown format", "", ImportFormat("xml")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewImportReader(strings.NewReader(tc.body), tc.format); err == nil {
				t.Error("accepted")
			}
		})
	}
}

func FuzzImportReader(f *testing.F) {
	f.Add(`{"key":"`+legacyKey40+`","permissions":"a:b c:d"}`, false)
	f.Add("key,name\n"+legacyKey40+",x\n", true)
	f.Add(`{"key_sha256":"00"}`+"\n{", false)
	f.Fuzz(func(t *testing.T, body string, csv bool) {
		format := ImportJSONL
		if csv {
			format = ImportCSV
		}
		ir, err := NewImportReader(strings.NewReader(body), format)
		if err != nil {
			return
		}
		for range 10000 {
			row, err := ir.Next()
			var re *RowError
			switch {
			case err == nil:
				if row.Name == "" || (row.Owner != OwnerTenant && row.Owner != OwnerPlatform) {
					t.Fatalf("invalid row accepted: %+v", row)
				}
			case errors.As(err, &re):
				if len(re.Problems) == 0 {
					t.Fatal("row error without problems")
				}
			case errors.Is(err, io.EOF):
				return
			default:
				return
			}
		}
		t.Fatal("reader does not reach EOF")
	})
}
