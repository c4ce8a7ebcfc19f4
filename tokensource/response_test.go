package tokensource

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

var parseCases = []struct {
	name   string
	status int
	header http.Header
	body   string
	want   tokenResponse
	kind   Kind
}{
	{"bearer with number expiry and scope", 200, jsonHeader, `{"access_token":"a.b.c","token_type":"Bearer","expires_in":86399,"scope":"core.common.read core.invoice.read"}`,
		tokenResponse{AccessToken: "a.b.c", TokenType: "Bearer", ExpiresIn: 86399 * time.Second, Scope: []string{"core.common.read", "core.invoice.read"}}, 0},
	{"lower-case bearer, string expiry, no scope", 200, jsonHeader, `{"access_token":"x","token_type":"bearer","expires_in":"3600"}`,
		tokenResponse{AccessToken: "x", TokenType: "Bearer", ExpiresIn: time.Hour}, 0},
	{"no expires_in", 200, nil, `{"access_token":"x","token_type":"Bearer"}`, tokenResponse{AccessToken: "x", TokenType: "Bearer"}, 0},
	{"empty scope string", 200, jsonHeader, `{"access_token":"x","token_type":"Bearer","scope":""}`, tokenResponse{AccessToken: "x", TokenType: "Bearer", Scope: []string{}}, 0},
	{"missing access_token", 200, jsonHeader, `{"token_type":"Bearer"}`, tokenResponse{}, KindBadResponse},
	{"mac token type", 200, jsonHeader, `{"access_token":"x","token_type":"mac"}`, tokenResponse{}, KindBadResponse},
	{"negative expiry", 200, jsonHeader, `{"access_token":"x","token_type":"Bearer","expires_in":-1}`, tokenResponse{}, KindBadResponse},
	{"huge expiry", 200, jsonHeader, `{"access_token":"x","token_type":"Bearer","expires_in":1e300}`, tokenResponse{}, KindBadResponse},
	{"not JSON", 200, jsonHeader, `access_token=x`, tokenResponse{}, KindBadResponse},
	{"invalid_client", 401, jsonHeader, `{"error":"invalid_client","error_description":"client authentication failed"}`, tokenResponse{}, KindInvalidClient},
	{"invalid_scope", 400, jsonHeader, `{"error":"invalid_scope","error_description":"scope core.x.y is not allowed"}`, tokenResponse{}, KindInvalidScope},
	{"unauthorized_client", 400, jsonHeader, `{"error":"unauthorized_client"}`, tokenResponse{}, KindOAuth},
	{"rate limited", 429, jsonHeader, `{"error":"slow_down"}`, tokenResponse{}, KindServer},
	{"bare 502", 502, nil, `Bad Gateway`, tokenResponse{}, KindServer},
	{"HTML login page by content type", 200, http.Header{"Content-Type": {"text/html; charset=utf-8"}}, `<p>sign in</p>`, tokenResponse{}, KindHTML},
	{"HTML by body", 404, nil, "\n  <!DOCTYPE html><html>", tokenResponse{}, KindHTML},
}

func TestParseTokenResponse(t *testing.T) {
	t.Parallel()
	for _, tc := range parseCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseTokenResponse(tc.status, tc.header, []byte(tc.body))
			if tc.kind != 0 {
				var e *Error
				if !errors.As(err, &e) || e.Kind != tc.kind {
					t.Fatalf("err = %v, want kind %d", err, tc.kind)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func FuzzParseTokenResponse(f *testing.F) {
	for _, tc := range parseCases {
		f.Add(tc.status, tc.header.Get("Content-Type"), []byte(tc.body))
	}
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte) {
		tr, err := parseTokenResponse(status, http.Header{"Content-Type": {contentType}}, body)
		if err == nil {
			if tr.AccessToken == "" || tr.TokenType != "Bearer" || tr.ExpiresIn < 0 || status != 200 {
				t.Fatalf("accepted an invalid response: %+v", tr)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind == 0 {
			t.Fatalf("untyped error %v", err)
		}
		// A 200 body holds a token: its text must never reach an error.
		if len(body) > 8 && strings.Contains(err.Error(), string(body)) {
			t.Fatalf("error quotes the response body: %v", err)
		}
	})
}

func TestRefusedScopes(t *testing.T) {
	t.Parallel()
	req := []string{"core.invoice.read", "core.supplier.write"}
	if got := refusedScopes(req, `scope "core.supplier.write" is not on the client`); fmt.Sprint(got) != "[core.supplier.write]" {
		t.Errorf("named: %v", got)
	}
	if got := refusedScopes(req, "invalid scope"); len(got) != 2 {
		t.Errorf("unnamed: %v, want all requested", got)
	}
}

func TestSource_EndpointFailures_TypedErrors(t *testing.T) {
	t.Parallel()
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, "<html><body>Sign in</body></html>")
	}))
	defer html.Close()
	tlsSrv := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsSrv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + ln.Addr().String() + "/oauth2/token"
	ln.Close()

	for _, tc := range []struct {
		name, url string
		want      error
	}{
		{"login page instead of token endpoint", html.URL + "/login", ErrHTML},
		{"unknown certificate authority", tlsSrv.URL + "/oauth2/token", ErrTLS},
		{"nothing listening", closed, ErrUnreachable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _ := New(Config{TokenURL: tc.url, ClientID: "c", ClientSecret: "kss_secret", Logger: discard()})
			_, err := s.Current(context.Background())
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if strings.Contains(err.Error(), "kss_secret") {
				t.Error("error contains the secret")
			}
		})
	}
}

func TestSource_ServerClockSkew_WarnsKeepsLocalExpiry(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(-10*time.Minute).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":600}`)
	}))
	defer srv.Close()
	var logs syncBuffer
	s, _ := New(Config{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	tok, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if tok.Skew > -9*time.Minute || tok.Skew < -11*time.Minute || !strings.Contains(logs.String(), "clock differs") {
		t.Errorf("skew %v, logs %q; want about -10m and a warning", tok.Skew, logs.String())
	}
	if got := tok.Expiry.Sub(tok.IssuedAt); got != 10*time.Minute {
		t.Errorf("lifetime %v, want 10m on the local clock", got)
	}
}

func TestSource_PrivateKeyJWT_SignsAssertion(t *testing.T) {
	t.Parallel()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var got jwt.Claims
	var kid string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if r.Form.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		tok, err := jwt.ParseSigned(r.Form.Get("client_assertion"), []jose.SignatureAlgorithm{jose.ES256})
		if err == nil {
			kid = tok.Headers[0].KeyID
			err = tok.Claims(&key.PublicKey, &got)
		}
		if err != nil {
			http.Error(w, `{"error":"invalid_client"}`, http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":60}`)
	}))
	defer srv.Close()
	s, err := New(Config{TokenURL: srv.URL + "/token", ClientID: "svc", AuthMethod: AuthPrivateKeyJWT, PrivateKey: key, KeyID: "k1", Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Current(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got.Issuer != "svc" || got.Subject != "svc" || !got.Audience.Contains(srv.URL+"/token") || got.ID == "" || kid != "k1" {
		t.Errorf("assertion claims %+v kid %q", got, kid)
	}
	if err := got.ValidateWithLeeway(jwt.Expected{Time: time.Now()}, 0); err != nil {
		t.Errorf("assertion not valid now: %v", err)
	}
}

func TestNew_RejectsIncompleteConfig(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]Config{
		"no URL":                  {ClientID: "c", ClientSecret: "s"},
		"not http":                {TokenURL: "ftp://x/token", ClientID: "c", ClientSecret: "s"},
		"no client":               {TokenURL: "https://x/token", ClientSecret: "s"},
		"no secret":               {TokenURL: "https://x/token", ClientID: "c"},
		"private_key_jwt, no key": {TokenURL: "https://x/token", ClientID: "c", AuthMethod: AuthPrivateKeyJWT},
		"unknown method":          {TokenURL: "https://x/token", ClientID: "c", ClientSecret: "s", AuthMethod: "tls_client_auth"},
		"window out of range":     {TokenURL: "https://x/token", ClientID: "c", ClientSecret: "s", RefreshWindow: 1},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted it", name)
		}
	}
}

func BenchmarkSource_Current_Fresh(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":86400}`)
	}))
	defer srv.Close()
	s, _ := New(Config{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s", Logger: discard()})
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Current(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestSource_ShortLivedToken_UsableMostOfItsLife(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"t","token_type":"Bearer","expires_in":20}`)
	}))
	defer srv.Close()
	clock := newClock()
	s, _ := New(Config{TokenURL: srv.URL, ClientID: "c", ClientSecret: "s", Now: clock.Now, Logger: discard()})
	tok, err := s.Current(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !s.usable(tok, clock.Now().Add(17*time.Second)) || s.usable(tok, clock.Now().Add(18*time.Second)) {
		t.Errorf("a 20 s token: want usable until 18 s (leeway 2 s)")
	}
	if d := tok.RefreshAt.Sub(tok.IssuedAt); d < 15*time.Second || d > 18*time.Second {
		t.Errorf("refresh point of a 20 s token at %v", d)
	}
}
