package gateway_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/guard"
	"github.com/keyshift/keyshift/internal/gateway"
)

// benchToken returns a key set and a token signed with it, so the
// benchmark needs no token endpoint.
func benchToken(b *testing.B) (*jose.JSONWebKeySet, string) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	sg, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", "k"))
	now := time.Now()
	body, _ := json.Marshal(map[string]any{"iss": "https://auth.example.com", "aud": "https://auth.example.com",
		"sub": "ksc_1", "client_id": "ksc_1", "tenant": "acme", "jti": "j", "iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(), "scope": "core.invoice.read"})
	obj, _ := sg.Sign(body)
	tok, _ := obj.CompactSerialize()
	return &jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &priv.PublicKey, KeyID: "k", Algorithm: "ES256"}}}, tok
}

// BenchmarkGateway_VsBareProxy measures requests per second through the
// gateway (guard with a cached token, identity headers, metrics; rate limit
// off) and through a bare httputil.ReverseProxy with the same transport, to
// the same upstream, over real loopback connections. Each iteration sends a
// round of requests through each, alternately, so both see the same machine
// load; the ratio is reported as a metric.
func BenchmarkGateway_VsBareProxy(b *testing.B) {
	const workers, perWorker = 8, 8
	up := newUpstream(b, nil)
	u, _ := url.Parse(up.URL)
	set, tok := benchToken(b)
	rs := routes(b, "rate_limit: {per_second: -1}\n")
	gw := newGateway(b, gateway.Config{Guard: guard.Config{Issuer: "https://auth.example.com", KeySet: set}, Routes: rs, Upstream: up.URL})
	bare := &httputil.ReverseProxy{
		Rewrite:   func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() },
		Transport: gateway.NewTransport(gateway.DefaultDialTimeout, gateway.DefaultResponseHeaderTimeout),
	}
	urls := make([]string, 2)
	for i, h := range []http.Handler{bare, gw} {
		srv := httptest.NewServer(h)
		b.Cleanup(srv.Close)
		urls[i] = srv.URL + "/api/invoices/1"
	}
	client := &http.Client{Transport: gateway.NewTransport(time.Second, 10*time.Second)}
	round := func(target string) {
		var wg sync.WaitGroup
		for range workers {
			wg.Go(func() {
				req, _ := http.NewRequest("GET", target, nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				for range perWorker {
					resp, err := client.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		}
		wg.Wait()
	}
	round(urls[0]) // warm connections and the token cache
	round(urls[1])
	var spent [2]time.Duration
	rounds := 0
	for b.Loop() {
		for i, target := range urls {
			start := time.Now()
			round(target)
			spent[i] += time.Since(start)
		}
		rounds++
	}
	reqs := float64(rounds * workers * perWorker)
	bareRate, gwRate := reqs/spent[0].Seconds(), reqs/spent[1].Seconds()
	b.ReportMetric(bareRate, "bare-req/s")
	b.ReportMetric(gwRate, "gateway-req/s")
	b.ReportMetric(gwRate/bareRate, "ratio")
}

// discard is a reusable ResponseWriter, so the benchmark counts the guard's
// allocations and not a recorder's.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkGuard_LocalKey is the steady state of a legacy key checked in
// process: guard, keyshift's key service (cache, timeline decision, usage
// count) and the prepared answer.
func BenchmarkGuard_LocalKey(b *testing.B) {
	k := startKeyshift(b)
	key, _, _ := seedKeys(b, k)
	g, err := guard.New(guard.Config{Issuer: k.URL, KeySource: k.ring, KeyChecker: gateway.NewLocalKeys(k.keys), Logger: quiet()})
	if err != nil {
		b.Fatal(err)
	}
	check := g.Compile(guard.Requirement{Scopes: []string{"core.invoice.read"}, Permissions: []string{"invoices:read"}})
	r := httptest.NewRequest("GET", "/api/invoices/1", nil)
	r.Header.Set("X-API-Key", key)
	w := &discard{h: http.Header{}}
	if _, _, ok := g.Admit(w, r, check); !ok {
		b.Fatal("key refused")
	}
	b.ReportAllocs()
	for b.Loop() {
		clear(w.h)
		if _, _, ok := g.Admit(w, r, check); !ok {
			b.Fatal("key refused")
		}
	}
}
