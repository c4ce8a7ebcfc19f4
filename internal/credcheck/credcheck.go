// Package credcheck is the checklist of a client's OAuth credentials:
// resolve discovery, request a token, decode it (tenant, scopes granted vs
// requested, expiry, signing key in the JWKS), call a probe URL with it,
// and give a one-line fix for each failure. `keyshift credentials test`
// prints it; the console's "Test these credentials" page shows it. It
// knows nothing of flags or profiles files: callers say which client to
// test and how to reach it.
package credcheck

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/tokensource"
)

// Result is one line of the checklist.
type Result struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, fail, skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Code is the OAuth error code of a failed token check
	// (invalid_client, invalid_scope, ...), for callers that can say more.
	Code string `json:"code,omitempty"`
}

// Fail is a failed check with its fix.
func Fail(name, detail, fix string) Result {
	return Result{Name: name, Status: "fail", Detail: detail, Fix: fix}
}

// Target is the client the checklist tests.
type Target struct {
	// Config is how to get its token (issuer or token URL, client,
	// authentication, scopes, logger); Run sets its HTTPClient.
	Config tokensource.Config
	// Probe, if set, is a URL that must answer 2xx to a GET with the token.
	Probe string
}

// Run runs the checklist for t, making every request with hc (nil: the
// defaults); later checks are skipped when an earlier one they depend on
// failed.
func Run(ctx context.Context, t Target, hc *http.Client) []Result {
	if hc == nil {
		hc = http.DefaultClient
	}
	var out []Result
	add := func(c Result) { out = append(out, c) }
	cfg := t.Config
	cfg.HTTPClient = hc
	src, err := tokensource.New(cfg)
	if err != nil {
		add(Fail("profile", err.Error(), "fix the profile's URLs and auth_method"))
		return out
	}
	meta, c := discoveryCheck(ctx, src, cfg)
	add(c)
	if c.Status == "fail" {
		return out
	}
	tok, c := tokenCheck(ctx, src)
	add(c)
	if tok == nil {
		return out
	}
	add(clockCheck(tok))
	claims, c := claimsCheck(tok)
	add(c)
	add(scopeCheck(cfg.Scopes, tok, claims))
	add(signatureCheck(ctx, hc, tok.AccessToken, meta))
	add(probeCheck(ctx, hc, t.Probe, tok.AccessToken))
	return out
}

// ClientStatusFunc tells the client's status (store.StatusActive,
// store.StatusDisabled) as the admin API knows it.
type ClientStatusFunc func(ctx context.Context, clientID string) (string, error)

// ClientSecret runs the checklist for a client of issuer with a client
// secret, making every request with hc (nil: the defaults). A caller that
// can ask the admin API about the client (the console) passes status: when
// the token endpoint answers invalid_client, which hides its cause on
// purpose, the checklist then says whether the client is disabled or the
// secret is the one at fault. status may be nil.
func ClientSecret(ctx context.Context, issuer, clientID, secret string, scopes []string, hc *http.Client, status ClientStatusFunc) []Result {
	// The first line is the one `keyshift credentials test` prints for a
	// profile given by flags with an inline secret, so both read alike.
	var first Result
	switch {
	case clientID == "":
		first = Fail("profile", "no client_id: set it in the profile or with --client-id", setupFix)
	case issuer == "":
		first = Fail("profile", "no issuer or token_url: set one in the profile or with --issuer / --token-url", setupFix)
	case secret == "":
		first = Fail("profile", "set exactly one of client_secret_file, client_secret_env or client_secret", setupFix)
	default:
		first = Result{Name: "profile", Status: "ok", Detail: fmt.Sprintf(`profile "(flags only)": client %s, secret from inline in the profiles file, scopes %q`, clientID, strings.Join(scopes, " "))}
	}
	out := []Result{first}
	if first.Status == "fail" {
		return out
	}
	cfg := tokensource.Config{Issuer: issuer, ClientID: clientID, Scopes: scopes,
		SecretFunc: func(context.Context) (string, error) { return secret, nil },
		Logger:     slog.New(slog.DiscardHandler)}
	out = append(out, Run(ctx, Target{Config: cfg}, hc)...)
	if status == nil {
		return out
	}
	for i, c := range out {
		if c.Name == "token" && c.Code == oauth.CodeInvalidClient {
			out[i] = explainInvalidClient(ctx, c, clientID, status)
		}
	}
	return out
}

// setupFix is the fix for a client that cannot even be set up.
const setupFix = "complete the profile in the integrations file, or pass --client-id, --issuer/--token-url and --client-secret-env"

// explainInvalidClient narrows the two causes of invalid_client to one.
func explainInvalidClient(ctx context.Context, c Result, clientID string, status ClientStatusFunc) Result {
	st, err := status(ctx, clientID)
	switch {
	case err != nil:
		return c // the generic fix already names every cause
	case st == store.StatusDisabled:
		c.Detail = fmt.Sprintf("client %s is disabled: the token endpoint refuses it whatever the secret", clientID)
		c.Fix = "enable the client on its page (or create a new one) and test again"
	default:
		c.Detail = fmt.Sprintf("client %s is %s, so the secret is at fault: it is wrong, expired or was rotated", clientID, st)
		c.Fix = "copy the current secret, or rotate the client's secret on its page and use the new one"
	}
	return c
}

func tokenFix(err error) string {
	var te *tokensource.Error
	if errors.As(err, &te) {
		return te.Fix()
	}
	return "check the profile"
}

func discoveryCheck(ctx context.Context, src *tokensource.Source, cfg tokensource.Config) (*tokensource.Metadata, Result) {
	if cfg.Issuer == "" {
		return nil, Result{Name: "discovery", Status: "skip", Detail: "token_url " + cfg.TokenURL + " given; no issuer to discover (the signing key check needs one)"}
	}
	m, err := src.Metadata(ctx)
	if err != nil {
		return nil, Fail("discovery", err.Error(), tokenFix(err))
	}
	return m, Result{Name: "discovery", Status: "ok", Detail: fmt.Sprintf("issuer %s: token endpoint %s, JWKS %s", m.Issuer, m.TokenEndpoint, m.JWKSURI)}
}

func tokenCheck(ctx context.Context, src *tokensource.Source) (*tokensource.Token, Result) {
	start := time.Now()
	tok, err := src.Current(ctx)
	if err != nil {
		c := Result{Name: "token", Status: "fail", Detail: err.Error(), Fix: tokenFix(err)}
		if errors.Is(err, tokensource.ErrInvalidClient) {
			c.Code = oauth.CodeInvalidClient
		}
		return nil, c
	}
	return tok, Result{Name: "token", Status: "ok", Detail: fmt.Sprintf("Bearer token in %v, expires in %v (%s)",
		time.Since(start).Round(time.Millisecond), time.Until(tok.Expiry).Round(time.Second), tok.Expiry.UTC().Format(time.RFC3339))}
}

func clockCheck(tok *tokensource.Token) Result {
	if tok.Skew > time.Minute || tok.Skew < -time.Minute {
		return Fail("clock", fmt.Sprintf("the server's clock differs from this host's by %v", tok.Skew.Round(time.Second)),
			"synchronise this host's clock (NTP): a skewed clock makes tokens look expired or not yet valid to the API")
	}
	return Result{Name: "clock", Status: "ok", Detail: fmt.Sprintf("server and local clocks agree (skew %v)", tok.Skew.Round(time.Second))}
}

// jwtClaims are the claims the checklist shows; the token is decoded
// without verification here (signatureCheck verifies it).
type jwtClaims struct {
	Issuer   string `json:"iss"`
	Subject  string `json:"sub"`
	ClientID string `json:"client_id"`
	Tenant   string `json:"tenant"`
	Scope    string `json:"scope"`
	Expiry   int64  `json:"exp"`
}

func decodeJWT(token string) (*jwtClaims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, errors.New("not a JWT")
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	var c jwtClaims
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("payload: %w", err)
	}
	return &c, nil
}

func claimsCheck(tok *tokensource.Token) (*jwtClaims, Result) {
	c, err := decodeJWT(tok.AccessToken)
	if err != nil {
		return nil, Result{Name: "claims", Status: "skip", Detail: "opaque token (" + err.Error() + "): nothing to decode"}
	}
	exp := time.Unix(c.Expiry, 0)
	if c.Expiry != 0 && time.Until(exp) < time.Minute {
		return c, Fail("claims", fmt.Sprintf("token exp %s is already past or imminent", exp.UTC().Format(time.RFC3339)),
			"check this host's clock and the client's token lifetime")
	}
	return c, Result{Name: "claims", Status: "ok", Detail: fmt.Sprintf("tenant %q, client %q, issuer %s, exp %s",
		c.Tenant, c.ClientID, c.Issuer, exp.UTC().Format(time.RFC3339))}
}

func scopeCheck(requested []string, tok *tokensource.Token, claims *jwtClaims) Result {
	granted := tok.Scopes
	if claims != nil && claims.Scope != "" {
		granted = strings.Fields(claims.Scope)
	}
	var missing []string
	for _, r := range requested {
		if !contains(granted, r) {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return Fail("scopes", fmt.Sprintf("requested %q, granted %q", strings.Join(requested, " "), strings.Join(granted, " ")),
			fmt.Sprintf("add %s to the client, or remove them from the profile's scopes", strings.Join(missing, " ")))
	}
	return Result{Name: "scopes", Status: "ok", Detail: fmt.Sprintf("granted %q", strings.Join(granted, " "))}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

var jwsAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.ES256, jose.ES384, jose.ES512, jose.EdDSA}

// signatureCheck finds the token's key in the issuer's JWKS and verifies it.
func signatureCheck(ctx context.Context, hc *http.Client, token string, meta *tokensource.Metadata) Result {
	if meta == nil || meta.JWKSURI == "" {
		return Result{Name: "signing key", Status: "skip", Detail: "no JWKS URL known (configure the profile by issuer to check it)"}
	}
	jws, err := jose.ParseSignedCompact(token, jwsAlgs)
	if err != nil {
		return Result{Name: "signing key", Status: "skip", Detail: "opaque token: nothing to verify"}
	}
	kid := jws.Signatures[0].Header.KeyID
	set, err := fetchJWKS(ctx, hc, meta.JWKSURI)
	if err != nil {
		return Fail("signing key", err.Error(), "the jwks_uri from discovery must serve the server's public keys")
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return Fail("signing key", fmt.Sprintf("key %q is not in %s", kid, meta.JWKSURI),
			"the token was signed by another server than the issuer's, or its key is retired: check the issuer URL")
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		return Fail("signing key", "signature does not verify with key "+kid, "check the issuer URL: the token does not come from it")
	}
	return Result{Name: "signing key", Status: "ok", Detail: fmt.Sprintf("key %q found in the JWKS; signature valid", kid)}
}

func fetchJWKS(ctx context.Context, hc *http.Client, url string) (*jose.JSONWebKeySet, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, fmt.Errorf("JWKS request: %w", err)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch JWKS: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch JWKS: HTTP %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("decode JWKS: %w", err)
	}
	return &set, nil
}

func probeCheck(ctx context.Context, hc *http.Client, url, token string) Result {
	if url == "" {
		return Result{Name: "probe", Status: "skip", Detail: "no probe URL (--probe or the profile's probe)"}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return Fail("probe", err.Error(), "give an absolute http(s) probe URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return Fail("probe", err.Error(), "check the probe URL's host and port, and proxies")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return Result{Name: "probe", Status: "ok", Detail: fmt.Sprintf("GET %s answered %d", url, resp.StatusCode)}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return Fail("probe", fmt.Sprintf("GET %s answered %d %s", url, resp.StatusCode, resp.Header.Get("WWW-Authenticate")),
			"the API refused the token: give the client the scope this API needs, and check the API trusts this issuer")
	default:
		return Fail("probe", fmt.Sprintf("GET %s answered %d", url, resp.StatusCode), "check the probe URL: it should be a cheap GET the client may call")
	}
}
