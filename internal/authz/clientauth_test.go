package authz

import (
	"encoding/base64"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

func basic(id, secret string) string {
	return base64.StdEncoding.EncodeToString([]byte(url.QueryEscape(id) + ":" + url.QueryEscape(secret)))
}

func TestParseBasic(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		id, secret string
		ok         bool
	}{
		{"plain", basic("c1", "s1"), "c1", "s1", true},
		{"form-encoded id and secret", basic("a b:c", "x+y%z"), "a b:c", "x+y%z", true},
		{"raw colon in secret", base64.StdEncoding.EncodeToString([]byte("id:se:cret")), "id", "se:cret", true},
		{"surrounding spaces", "  " + basic("c", "s") + " ", "c", "s", true},
		{"empty id and secret", base64.StdEncoding.EncodeToString([]byte(":")), "", "", true},
		{"no colon", base64.StdEncoding.EncodeToString([]byte("idsecret")), "", "", false},
		{"not base64", "!!!", "", "", false},
		{"missing padding", strings.TrimRight(basic("c1", "s1"), "="), "", "", false},
		{"empty", "", "", "", false},
		{"bad percent encoding", base64.StdEncoding.EncodeToString([]byte("a%zz:b")), "", "", false},
		{"NUL in secret", base64.StdEncoding.EncodeToString([]byte("a:b\x00")), "", "", false},
		{"too long", strings.Repeat("A", maxAuthorizationLen+4), "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, secret, err := parseBasic(tt.in)
			if (err == nil) != tt.ok {
				t.Fatalf("parseBasic(%q) err = %v, want ok=%v", tt.in, err, tt.ok)
			}
			if tt.ok && (id != tt.id || secret != tt.secret) {
				t.Fatalf("parseBasic = %q, %q; want %q, %q", id, secret, tt.id, tt.secret)
			}
		})
	}
}

func TestParseClientCredentials(t *testing.T) {
	k := genKeys(t)["es256"]
	assertion := k.sign(t, k.kid, map[string]any{"sub": "c"})
	jwtBearer := func(extra form) form {
		f := form{"client_assertion_type": oauth.ClientAssertionTypeJWT, "client_assertion": assertion}
		maps.Copy(f, extra)
		return f
	}
	tests := []struct {
		name         string
		auth         []string
		form         form
		method       string
		id, secret   string
		hasAssertion bool
		code         string
	}{
		{"basic", []string{"Basic " + basic("c", "s")}, form{}, oauth.AuthClientSecretBasic, "c", "s", false, ""},
		{"basic scheme any case", []string{"bAsIc " + basic("c", "s")}, form{}, oauth.AuthClientSecretBasic, "c", "s", false, ""},
		{"basic with same client_id in body", []string{"Basic " + basic("c", "s")}, form{"client_id": "c"}, oauth.AuthClientSecretBasic, "c", "s", false, ""},
		{"post", nil, form{"client_id": "c", "client_secret": "s"}, oauth.AuthClientSecretPost, "c", "s", false, ""},
		{"assertion", nil, jwtBearer(nil), oauth.AuthPrivateKeyJWT, "c", "", true, ""},
		{"assertion with client_id", nil, jwtBearer(form{"client_id": "d"}), oauth.AuthPrivateKeyJWT, "d", "", true, ""},
		{"malformed assertion", nil, jwtBearer(form{"client_assertion": "x.y.z", "client_id": "c"}), oauth.AuthPrivateKeyJWT, "c", "", false, ""},
		{"id alone is a public client", nil, form{"client_id": "c"}, oauth.AuthNone, "c", "", false, ""},
		{"basic and post secret", []string{"Basic " + basic("c", "s")}, form{"client_id": "c", "client_secret": "s"}, "", "", "", false, oauth.CodeInvalidRequest},
		{"basic and assertion", []string{"Basic " + basic("c", "s")}, jwtBearer(nil), "", "", "", false, oauth.CodeInvalidRequest},
		{"secret and assertion", nil, jwtBearer(form{"client_id": "c", "client_secret": "s"}), "", "", "", false, oauth.CodeInvalidRequest},
		{"assertion without type", nil, form{"client_assertion": assertion}, "", "", "", false, oauth.CodeInvalidRequest},
		{"type without assertion", nil, form{"client_assertion_type": oauth.ClientAssertionTypeJWT}, "", "", "", false, oauth.CodeInvalidRequest},
		{"other assertion type", nil, jwtBearer(form{"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:saml2-bearer"}), "", "", "", false, oauth.CodeInvalidClient},
		{"basic with other client_id", []string{"Basic " + basic("c", "s")}, form{"client_id": "d"}, "", "", "", false, oauth.CodeInvalidRequest},
		{"two Authorization headers", []string{"Basic " + basic("c", "s"), "Basic " + basic("c", "s")}, form{}, "", "", "", false, oauth.CodeInvalidRequest},
		{"malformed basic", []string{"Basic ###"}, form{}, "", "", "", false, oauth.CodeInvalidRequest},
		{"bearer scheme", []string{"Bearer abc"}, form{}, "", "", "", false, oauth.CodeInvalidClient},
		{"secret without id", nil, form{"client_secret": "s"}, "", "", "", false, oauth.CodeInvalidRequest},
		{"nothing", nil, form{}, "", "", "", false, oauth.CodeInvalidClient},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range tt.auth {
				h.Add("Authorization", v)
			}
			cred, e := parseClientCredentials(h, tt.form)
			if tt.code != "" {
				if e == nil || e.Code != tt.code {
					t.Fatalf("got %+v, %v; want %s", cred, e, tt.code)
				}
				return
			}
			if e != nil || cred.method != tt.method || cred.id != tt.id || cred.secret != tt.secret || (cred.assertion != nil) != tt.hasAssertion {
				t.Fatalf("got %+v, %v", cred, e)
			}
		})
	}
}

func TestSecretMatches(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cur, prev, other := credential.New(credential.PrefixClientSecret), credential.New(credential.PrefixClientSecret), credential.New(credential.PrefixClientSecret)
	hc, hp := credential.Hash(cur), credential.Hash(prev)
	past, future := now.Add(-time.Second), now.Add(time.Hour)
	c := &store.Client{Secrets: []store.ClientSecret{{Hash: hc[:]}, {Hash: hp[:], ExpiresAt: &future}}}
	expired := &store.Client{Secrets: []store.ClientSecret{{Hash: hc[:]}, {Hash: hp[:], ExpiresAt: &past}}}
	tests := []struct {
		name   string
		c      *store.Client
		secret string
		want   bool
	}{
		{"current secret", c, cur, true},
		{"previous secret before expiry", c, prev, true},
		{"previous secret after expiry", expired, prev, false},
		{"current next to expired", expired, cur, true},
		{"other secret", c, other, false},
		{"malformed secret", c, "kss_short", false},
		{"unknown client", nil, cur, false},
		{"empty", c, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := secretMatches(tt.c, tt.secret, now); got != tt.want {
				t.Fatalf("secretMatches = %v, want %v", got, tt.want)
			}
		})
	}
}

func FuzzParseBasic(f *testing.F) {
	for _, s := range []string{
		basic("c1", "s1"), basic("a b", "x+y"), "", "!!!", base64.StdEncoding.EncodeToString([]byte("nocolon")),
		base64.StdEncoding.EncodeToString([]byte("a%zz:b")), base64.StdEncoding.EncodeToString([]byte(":")),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		id, secret, err := parseBasic(in)
		if err != nil {
			if id != "" || secret != "" {
				t.Fatal("credentials returned with an error")
			}
			return
		}
		if !cleanText(id) || !cleanText(secret) {
			t.Fatalf("unclean credentials %q %q", id, secret)
		}
		// What we accept, an RFC 6749 client would have encoded the same way.
		id2, secret2, err := parseBasic(basic(id, secret))
		if err != nil || id2 != id || secret2 != secret {
			t.Fatalf("round trip %q %q: %q %q %v", id, secret, id2, secret2, err)
		}
		// The header parser must agree with the value parser.
		h := http.Header{"Authorization": {"Basic " + in}}
		cred, e := parseClientCredentials(h, form{})
		if e != nil || cred.id != id || cred.secret != secret {
			t.Fatalf("parseClientCredentials: %+v %v", cred, e)
		}
	})
}

// BenchmarkAuthenticateClientBasic measures client authentication alone on
// the client_credentials hot path: header parsing, the cache lookup and the
// secret comparison, without form parsing or signing.
func BenchmarkAuthenticateClientBasic(b *testing.B) {
	e := newEnv(b)
	e.tenant("acme", store.StatusActive)
	c := e.client("acme", []string{"core.invoice.read"})
	r := httptest.NewRequest(http.MethodPost, oauth.PathToken, nil)
	r.Header.Set("Authorization", "Basic "+basicOf(c.ID, c.Secret))
	f := form{"grant_type": oauth.GrantClientCredentials, "scope": "core.invoice.read"}
	b.ReportAllocs()
	for b.Loop() {
		cred, e1 := parseClientCredentials(r.Header, f)
		if e1 != nil {
			b.Fatal(e1)
		}
		if _, e2 := e.srv.authenticateClient(r, cred, "token"); e2 != nil {
			b.Fatal(e2)
		}
	}
}
