package redact

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/credential"
)

func TestClientID(t *testing.T) {
	key := credential.New(credential.PrefixAPIKey)
	secret := credential.New(credential.PrefixClientSecret)
	for _, tc := range []struct{ in, want string }{
		{"ksc_abc123XYZ", "ksc_abc123XYZ"},
		{key, "(redacted ksk_ key, 53 chars)"},
		{secret, "(redacted kss_ secret, 53 chars)"},
		{"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", "(redacted JWT, 41 chars)"},
		{"sk_live_51H8legacyImportedKeyValue", "(redacted value, 34 chars)"},
		{"correct horse battery staple", "(redacted value, 28 chars)"},
		{"ksc_has space", "(redacted value, 13 chars)"},
		{"", "(empty)"},
	} {
		if got := ClientID(tc.in); got != tc.want {
			t.Errorf("ClientID(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestString_MasksCredentialShapes(t *testing.T) {
	key := credential.New(credential.PrefixAPIKey)
	secret := credential.New(credential.PrefixClientSecret)
	jwt := "eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.eyJzdWIiOiJrc2NfYWJjIn0.MEUCIQDx-_sig"
	for _, in := range []string{
		"key " + key + " refused",
		"secret=" + secret,
		`parse "` + jwt + `": bad`,
		"Authorization: Bearer abcdefghijklmnop1234",
		"basic dXNlcjpwYXNzd29yZA==",
	} {
		out := String(in)
		for _, c := range []string{key, secret, jwt, "abcdefghijklmnop1234", "dXNlcjpwYXNzd29yZA=="} {
			if strings.Contains(out, c) {
				t.Errorf("String(%q) = %q still holds %q", in, out, c)
			}
		}
	}
	for _, in := range []string{"client authentication failed", "ksc_abc123", "basic auth", "tasks done", "malformed Basic credentialsandmorewords"} {
		if out := String(in); out != in {
			t.Errorf("String(%q) = %q, want unchanged", in, out)
		}
	}
}

func TestHandler_RedactsEveryStringAttr(t *testing.T) {
	key := credential.New(credential.PrefixAPIKey)
	var buf bytes.Buffer
	log := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("ctx", "with "+key)
	log.Info("message "+key, "plain", key, "err", errors.New("lookup "+key+": not found"),
		slog.Group("g", "inner", key), "list", []string{key}, "n", 3)
	log.WithGroup("grp").Info("x", "k", key)
	if strings.Contains(buf.String(), key) {
		t.Fatalf("key in log: %s", buf.String())
	}
	if !strings.Contains(buf.String(), `"n":3`) {
		t.Fatalf("non-string attr changed: %s", buf.String())
	}
	if NewHandler(NewHandler(slog.DiscardHandler)) == nil {
		t.Fatal("nil handler")
	}
}

func FuzzString(f *testing.F) {
	f.Add("key " + credential.New(credential.PrefixAPIKey))
	f.Add("Bearer eyJhbGciOiJub25lIn0.eyJ9.")
	f.Fuzz(func(t *testing.T, s string) {
		out := String(s)
		if String(out) != out {
			t.Fatalf("String not idempotent on %q", s)
		}
	})
}
