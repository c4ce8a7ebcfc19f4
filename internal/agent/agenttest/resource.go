package agenttest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/keyshift/keyshift/internal/oauth"
)

// Resource is an API that accepts only bearer tokens signed by keyshift,
// checked against its JWKS — the guarded API an integration calls.
type Resource struct {
	URL string
	// Calls counts requests; Refused counts the 401 answers.
	Calls, Refused atomic.Int64

	issuer string
	keys   *oidc.RemoteKeySet
	scope  string
	// introspect, when set, is asked about every verified token, so the
	// resource honours keyshift's revocations.
	introspect func(ctx context.Context, token string) (bool, error)

	mu         sync.Mutex
	rejected   map[string]bool // jti refused as if revoked
	lastHeader http.Header
	lastBody   string
}

// Claims are the access token claims the resource looks at.
type Claims struct {
	Issuer    string `json:"iss"`
	Subject   string `json:"sub"`
	ClientID  string `json:"client_id"`
	Tenant    string `json:"tenant"`
	Scope     string `json:"scope"`
	JTI       string `json:"jti"`
	ExpiresAt int64  `json:"exp"`
}

// StartResource serves GET/POST /api/... for tokens of k that carry scope.
// Answers are JSON: {"tenant","client_id","path","method","body"}.
func StartResource(t testing.TB, k *Keyshift, scope string) *Resource {
	t.Helper()
	return StartResourceFor(t, k.URL, scope)
}

// StartIntrospectingResource is StartResource for a resource that also asks
// k's introspection endpoint about every token, so a token revoked at k is
// refused at once, as by a guard in keyshift's process. Answers carry the
// body's length and SHA-256 ("body_len", "body_sha256") besides "body".
func StartIntrospectingResource(t testing.TB, k *Keyshift, scope string) *Resource {
	t.Helper()
	r := StartResourceFor(t, k.URL, scope)
	r.introspect = k.active
	return r
}

// StartResourceFor is StartResource for a keyshift running elsewhere (e.g.
// a `keyshift serve` process) with the given issuer.
func StartResourceFor(t testing.TB, issuer, scope string) *Resource {
	t.Helper()
	r := &Resource{issuer: issuer, scope: scope, rejected: map[string]bool{},
		keys: oidc.NewRemoteKeySet(context.Background(), issuer+oauth.PathJWKS)}
	srv := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// Reject makes the resource refuse the token with this jti from now on, as a
// resource that learned of a revocation would.
func (r *Resource) Reject(jti string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rejected[jti] = true
}

// LastHeader returns the headers of the last request that reached the
// resource.
func (r *Resource) LastHeader() http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.lastHeader.Clone()
}

// Verify checks a token as the resource does and returns its claims.
func (r *Resource) Verify(ctx context.Context, token string) (Claims, error) {
	payload, err := r.keys.VerifySignature(ctx, token)
	if err != nil {
		return Claims{}, fmt.Errorf("signature: %w", err)
	}
	var c Claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Claims{}, fmt.Errorf("claims: %w", err)
	}
	switch {
	case c.Issuer != r.issuer:
		return c, fmt.Errorf("issuer %q", c.Issuer)
	case time.Now().Unix() >= c.ExpiresAt:
		return c, fmt.Errorf("expired")
	case r.scope != "" && !slices.Contains(strings.Fields(c.Scope), r.scope):
		return c, fmt.Errorf("scope %s missing", r.scope)
	}
	r.mu.Lock()
	rejected := r.rejected[c.JTI]
	r.mu.Unlock()
	if rejected {
		return c, fmt.Errorf("revoked")
	}
	if r.introspect != nil {
		active, err := r.introspect(ctx, token)
		if err != nil {
			return c, fmt.Errorf("introspect: %w", err)
		}
		if !active {
			return c, fmt.Errorf("not active at the issuer")
		}
	}
	return c, nil
}

func (r *Resource) serve(w http.ResponseWriter, req *http.Request) {
	r.Calls.Add(1)
	var body []byte
	if req.Body != nil {
		body, _ = io.ReadAll(io.LimitReader(req.Body, 64<<20))
	}
	r.mu.Lock()
	r.lastHeader = req.Header.Clone()
	r.lastBody = string(body)
	r.mu.Unlock()
	tok, ok := strings.CutPrefix(req.Header.Get("Authorization"), "Bearer ")
	c, err := r.Verify(req.Context(), tok)
	if !ok || err != nil {
		r.Refused.Add(1)
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = fmt.Fprintf(w, `{"error":"invalid_token"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	_ = json.NewEncoder(w).Encode(map[string]string{"tenant": c.Tenant, "client_id": c.ClientID,
		"path": req.URL.Path, "method": req.Method, "body": string(body), "jti": c.JTI,
		"body_len": strconv.Itoa(len(body)), "body_sha256": hex.EncodeToString(sum[:])})
}
