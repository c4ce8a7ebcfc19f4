package tokensource

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/keyshift/keyshift/internal/agent/agenttest"
)

// oidcProviderVersion is the npm package oidc-provider, an independent
// OAuth 2.0 / OpenID Connect implementation, pinned to a version that runs
// on Node 20.
const oidcProviderVersion = "9.13.3"

// startOIDCProvider runs testdata/oidc-provider.mjs on a free loopback port
// and returns its issuer.
func startOIDCProvider(t *testing.T, clientID, secret, jwks string) string {
	t.Helper()
	modules := agenttest.NPMPackage(t, "oidc-provider", oidcProviderVersion)
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("npm is installed but node is not: %v", err)
	}
	port := agenttest.FreePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, "testdata/oidc-provider.mjs", modules, fmt.Sprint(port), clientID, secret, jwks)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = cmd.Wait() })
	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if issuer, ok := strings.CutPrefix(sc.Text(), "listening "); ok {
				ready <- issuer
			}
		}
	}()
	select {
	case issuer := <-ready:
		return issuer
	case <-time.After(20 * time.Second):
		t.Fatalf("oidc-provider did not start: %s", stderr.String())
	}
	return ""
}

func TestSource_AgainstOIDCProvider(t *testing.T) {
	t.Parallel()
	const id, secret = "erp-sync", "a-long-enough-client-secret-for-oidc-provider"
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	issuer := startOIDCProvider(t, id, secret, string(pub))
	ctx := context.Background()

	t.Run("discovery, basic auth, refresh", func(t *testing.T) {
		clock := newClock()
		s, err := New(Config{Issuer: issuer, ClientID: id, ClientSecret: secret, Scopes: []string{"api:read"},
			Now: clock.Now, Logger: discard()})
		if err != nil {
			t.Fatal(err)
		}
		tok, err := s.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if life := tok.Expiry.Sub(tok.IssuedAt); life != time.Hour {
			t.Errorf("lifetime %v, want the server's 3600 s", life)
		}
		if strings.Join(tok.Scopes, " ") != "api:read" {
			t.Errorf("scopes %v", tok.Scopes)
		}
		clock.Advance(tok.RefreshAt.Sub(clock.Now()) + time.Second)
		_, _ = s.Current(ctx)
		waitIdle(t, s)
		next, err := s.Current(ctx)
		if err != nil || next.AccessToken == tok.AccessToken {
			t.Fatalf("refresh: err %v, new token %v", err, next != nil && next.AccessToken != tok.AccessToken)
		}
	})
	t.Run("private_key_jwt", func(t *testing.T) {
		s, _ := New(Config{Issuer: issuer, ClientID: id + "-jwt", AuthMethod: AuthPrivateKeyJWT, PrivateKey: key, KeyID: "k1",
			Scopes: []string{"api:read"}, Logger: discard()})
		if _, err := s.Current(ctx); err != nil {
			t.Fatal(err)
		}
		other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		s, _ = New(Config{Issuer: issuer, ClientID: id + "-jwt", AuthMethod: AuthPrivateKeyJWT, PrivateKey: other, KeyID: "k1", Logger: discard()})
		if _, err := s.Current(ctx); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("a key the server does not know: err = %v, want ErrInvalidClient", err)
		}
	})
	t.Run("wrong secret is invalid_client", func(t *testing.T) {
		s, _ := New(Config{Issuer: issuer, ClientID: id, ClientSecret: "wrong", Logger: discard()})
		if _, err := s.Current(ctx); !errors.Is(err, ErrInvalidClient) {
			t.Fatalf("err = %v, want ErrInvalidClient", err)
		}
	})
	t.Run("scope not granted: token with fewer scopes and a warning", func(t *testing.T) {
		var logs syncBuffer
		s, _ := New(Config{Issuer: issuer, ClientID: id, ClientSecret: secret, Scopes: []string{"api:read", "api:admin"},
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		tok, err := s.Current(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Join(tok.Scopes, " ") != "api:read" || !strings.Contains(logs.String(), "missing=api:admin") {
			t.Errorf("scopes %v, logs %q; want api:read and a warning naming api:admin", tok.Scopes, logs.String())
		}
	})
}
