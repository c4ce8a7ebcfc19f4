package server

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// startTestServer runs a real keyshift server on a loopback listener over a
// fresh SQLite store and returns its base URL and the operator credentials.
func startTestServer(t *testing.T) (string, *OperatorCredentials) {
	t.Helper()
	s := startServer(t, testServerOptions{})
	return s.base, s.op
}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestServer_HealthReadinessAndMetrics(t *testing.T) {
	base, op := startTestServer(t)

	if resp, body := get(t, base+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("/healthz = %d %q", resp.StatusCode, body)
	}
	if resp, body := get(t, base+"/readyz"); resp.StatusCode != 200 {
		t.Errorf("/readyz = %d %q", resp.StatusCode, body)
	}
	cc := clientcredentials.Config{ClientID: op.ClientID, ClientSecret: op.ClientSecret, TokenURL: base + "/oauth2/token"}
	if _, err := cc.Token(context.Background()); err != nil {
		t.Fatalf("operator token: %v", err)
	}
	bad := clientcredentials.Config{ClientID: op.ClientID, ClientSecret: "kss_wrong", TokenURL: base + "/oauth2/token", AuthStyle: oauth2.AuthStyleInHeader}
	if _, err := bad.Token(context.Background()); err == nil {
		t.Fatal("a wrong secret got a token")
	}
	resp, body := get(t, base+"/metrics")
	if resp.StatusCode != 200 {
		t.Fatalf("/metrics = %d", resp.StatusCode)
	}
	for _, want := range []string{
		`keyshift_token_requests_total{grant="client_credentials",outcome="issued"} 1`,
		`keyshift_token_requests_total{grant="client_credentials",outcome="invalid_client"} 1`,
		`keyshift_token_request_duration_seconds_bucket`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if strings.Contains(body, op.ClientSecret) || strings.Contains(body, "kss_wrong") {
		t.Error("/metrics contains a client secret")
	}
}

func TestServer_SecurityHeadersAndUnknownPath(t *testing.T) {
	base, _ := startTestServer(t)
	resp, _ := get(t, base+"/no/such/path")
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown path = %d, want 404", resp.StatusCode)
	}
	for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY"} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s = %q, want %q", h, got, want)
		}
	}
}

func TestInitialise_SecondCall_NoNewOperator(t *testing.T) {
	ctx := context.Background()
	st, err := OpenStore(ctx, filepath.Join(t.TempDir(), "ks.db"), slog.Default(), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	first, err := Initialise(ctx, st, "http://x", time.Now)
	if err != nil || first == nil {
		t.Fatalf("first initialise: %v, %v", first, err)
	}
	again, err := Initialise(ctx, st, "http://x", time.Now)
	if err != nil || again != nil {
		t.Fatalf("second initialise = %v, %v; want no new operator", again, err)
	}
}

func TestOpenStore_RefusesEmptyAndUnreachable(t *testing.T) {
	for _, dsn := range []string{"", "postgres://nobody@127.0.0.1:1/none?connect_timeout=1"} {
		if _, err := OpenStore(context.Background(), dsn, slog.Default(), time.Now); err == nil {
			t.Errorf("OpenStore(%q) succeeded", dsn)
		}
	}
}

func TestServer_TLS_ServesHTTPSWithGivenCertificate(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := OpenStore(ctx, filepath.Join(dir, "ks.db"), logger, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := Initialise(ctx, st, "https://127.0.0.1", time.Now); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(ctx, Config{Issuer: "https://" + ln.Addr().String(), Logger: logger, TLSCert: certFile, TLSKey: keyFile,
		SecretFile: filepath.Join(dir, "ks.secret")}, st)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + ln.Addr().String() + "/healthz")
	if err != nil {
		t.Fatalf("https request: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("https /healthz = %d, tls %v", resp.StatusCode, resp.TLS != nil)
	}
	plain, err := http.Get("http://" + ln.Addr().String() + "/healthz")
	if err == nil {
		plain.Body.Close()
		if plain.StatusCode == 200 {
			t.Error("plain HTTP was served on the TLS listener")
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
}

func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})
}
