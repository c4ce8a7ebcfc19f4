package agentcli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/spf13/cobra"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/tokensource"
)

// check is one line of the checklist.
type check struct {
	Name   string `json:"name"`
	Status string `json:"status"` // ok, fail, skip
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
	// Code is the OAuth error code of a failed token check
	// (invalid_client, invalid_scope, ...), for callers that can say more.
	Code string `json:"code,omitempty"`
}

func newCredentialsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "credentials", Short: "Check an integration's OAuth client credentials"}
	var (
		pf    profileFlags
		probe string
	)
	test := &cobra.Command{
		Use:   "test [--profile P] [--probe URL]",
		Short: "Request a token, inspect it and call a probe URL with it; print a checklist with a fix per failure",
		Long: `Do what admins used to do by hand with an HTTP client: resolve discovery, request
a token, decode it (tenant, scopes granted vs requested, expiry, signing key in
the JWKS), call a probe URL with it, and print a checklist with a one-line fix
for each failure. The exit code is 0 only when every check passed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, p, err := pf.resolve()
			if err != nil {
				return err
			}
			if probe != "" {
				p.Probe = probe
			}
			p.CacheFile = "off" // test the credentials, not the cache
			checks := runChecks(cmd.Context(), name, p, pf.verbose, cmd.ErrOrStderr(), nil)
			failed := printChecks(cmd.OutOrStdout(), checks)
			if failed > 0 {
				return fmt.Errorf("%d of %d checks failed", failed, len(checks))
			}
			return nil
		},
	}
	pf.register(test)
	test.Flags().StringVar(&probe, "probe", "", "URL that must answer 2xx to a GET with the token (default the profile's probe)")
	cmd.AddCommand(test, newProfilesCmd())
	return cmd
}

// fail is a failed check with its fix.
func fail(name, detail, fix string) check {
	return check{Name: name, Status: "fail", Detail: detail, Fix: fix}
}

func printChecks(w io.Writer, checks []check) (failed int) {
	for _, c := range checks {
		mark := map[string]string{"ok": "[ ok ]", "fail": "[FAIL]", "skip": "[skip]"}[c.Status]
		fmt.Fprintf(w, "%s %-12s %s\n", mark, c.Name, c.Detail)
		if c.Fix != "" {
			fmt.Fprintf(w, "       %-12s fix: %s\n", "", c.Fix)
		}
		if c.Status == "fail" {
			failed++
		}
	}
	if failed == 0 {
		fmt.Fprintln(w, "All checks passed.")
	}
	return failed
}

// runChecks runs the checklist; later checks are skipped when an earlier
// one they depend on failed.
// hc makes every request (nil: the defaults).
func runChecks(ctx context.Context, name string, p Profile, verbose bool, stderr io.Writer, hc *http.Client) []check {
	if hc == nil {
		hc = http.DefaultClient
	}
	var out []check
	add := func(c check) { out = append(out, c) }
	cfg, err := p.tokenConfig(name)
	if err == nil && cfg.SecretFunc != nil {
		_, err = cfg.SecretFunc(ctx)
	}
	if err != nil {
		add(fail("profile", err.Error(), "complete the profile in the integrations file, or pass --client-id, --issuer/--token-url and --client-secret-env"))
		return out
	}
	add(check{Name: "profile", Status: "ok", Detail: fmt.Sprintf("profile %q: client %s, secret from %s, scopes %q", orDefault(name), p.ClientID, p.secretSource(), strings.Join(p.Scopes, " "))})
	cfg.Logger = logger(stderr, verbose)
	cfg.HTTPClient = hc
	src, err := tokensource.New(cfg)
	if err != nil {
		add(fail("profile", err.Error(), "fix the profile's URLs and auth_method"))
		return out
	}
	meta, c := discoveryCheck(ctx, src, p)
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
	add(scopeCheck(p.Scopes, tok, claims))
	add(signatureCheck(ctx, hc, tok.AccessToken, meta))
	add(probeCheck(ctx, hc, p.Probe, tok.AccessToken))
	return out
}

func orDefault(s string) string {
	if s == "" {
		return "(flags only)"
	}
	return s
}

func tokenFix(err error) string {
	var te *tokensource.Error
	if errors.As(err, &te) {
		return te.Fix()
	}
	return "check the profile"
}

func discoveryCheck(ctx context.Context, src *tokensource.Source, p Profile) (*tokensource.Metadata, check) {
	if p.Issuer == "" {
		return nil, check{Name: "discovery", Status: "skip", Detail: "token_url " + p.TokenURL + " given; no issuer to discover (the signing key check needs one)"}
	}
	m, err := src.Metadata(ctx)
	if err != nil {
		return nil, fail("discovery", err.Error(), tokenFix(err))
	}
	return m, check{Name: "discovery", Status: "ok", Detail: fmt.Sprintf("issuer %s: token endpoint %s, JWKS %s", m.Issuer, m.TokenEndpoint, m.JWKSURI)}
}

func tokenCheck(ctx context.Context, src *tokensource.Source) (*tokensource.Token, check) {
	start := time.Now()
	tok, err := src.Current(ctx)
	if err != nil {
		c := check{Name: "token", Status: "fail", Detail: err.Error(), Fix: tokenFix(err)}
		if errors.Is(err, tokensource.ErrInvalidClient) {
			c.Code = oauth.CodeInvalidClient
		}
		return nil, c
	}
	return tok, check{Name: "token", Status: "ok", Detail: fmt.Sprintf("Bearer token in %v, expires in %v (%s)",
		time.Since(start).Round(time.Millisecond), time.Until(tok.Expiry).Round(time.Second), tok.Expiry.UTC().Format(time.RFC3339))}
}

func clockCheck(tok *tokensource.Token) check {
	if tok.Skew > time.Minute || tok.Skew < -time.Minute {
		return fail("clock", fmt.Sprintf("the server's clock differs from this host's by %v", tok.Skew.Round(time.Second)),
			"synchronise this host's clock (NTP): a skewed clock makes tokens look expired or not yet valid to the API")
	}
	return check{Name: "clock", Status: "ok", Detail: fmt.Sprintf("server and local clocks agree (skew %v)", tok.Skew.Round(time.Second))}
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

func claimsCheck(tok *tokensource.Token) (*jwtClaims, check) {
	c, err := decodeJWT(tok.AccessToken)
	if err != nil {
		return nil, check{Name: "claims", Status: "skip", Detail: "opaque token (" + err.Error() + "): nothing to decode"}
	}
	exp := time.Unix(c.Expiry, 0)
	if c.Expiry != 0 && time.Until(exp) < time.Minute {
		return c, fail("claims", fmt.Sprintf("token exp %s is already past or imminent", exp.UTC().Format(time.RFC3339)),
			"check this host's clock and the client's token lifetime")
	}
	return c, check{Name: "claims", Status: "ok", Detail: fmt.Sprintf("tenant %q, client %q, issuer %s, exp %s",
		c.Tenant, c.ClientID, c.Issuer, exp.UTC().Format(time.RFC3339))}
}

func scopeCheck(requested []string, tok *tokensource.Token, claims *jwtClaims) check {
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
		return fail("scopes", fmt.Sprintf("requested %q, granted %q", strings.Join(requested, " "), strings.Join(granted, " ")),
			fmt.Sprintf("add %s to the client, or remove them from the profile's scopes", strings.Join(missing, " ")))
	}
	return check{Name: "scopes", Status: "ok", Detail: fmt.Sprintf("granted %q", strings.Join(granted, " "))}
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
func signatureCheck(ctx context.Context, hc *http.Client, token string, meta *tokensource.Metadata) check {
	if meta == nil || meta.JWKSURI == "" {
		return check{Name: "signing key", Status: "skip", Detail: "no JWKS URL known (configure the profile by issuer to check it)"}
	}
	jws, err := jose.ParseSignedCompact(token, jwsAlgs)
	if err != nil {
		return check{Name: "signing key", Status: "skip", Detail: "opaque token: nothing to verify"}
	}
	kid := jws.Signatures[0].Header.KeyID
	set, err := fetchJWKS(ctx, hc, meta.JWKSURI)
	if err != nil {
		return fail("signing key", err.Error(), "the jwks_uri from discovery must serve the server's public keys")
	}
	keys := set.Key(kid)
	if len(keys) == 0 {
		return fail("signing key", fmt.Sprintf("key %q is not in %s", kid, meta.JWKSURI),
			"the token was signed by another server than the issuer's, or its key is retired: check the issuer URL")
	}
	if _, err := jws.Verify(keys[0]); err != nil {
		return fail("signing key", "signature does not verify with key "+kid, "check the issuer URL: the token does not come from it")
	}
	return check{Name: "signing key", Status: "ok", Detail: fmt.Sprintf("key %q found in the JWKS; signature valid", kid)}
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

func probeCheck(ctx context.Context, hc *http.Client, url, token string) check {
	if url == "" {
		return check{Name: "probe", Status: "skip", Detail: "no probe URL (--probe or the profile's probe)"}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail("probe", err.Error(), "give an absolute http(s) probe URL")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return fail("probe", err.Error(), "check the probe URL's host and port, and proxies")
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return check{Name: "probe", Status: "ok", Detail: fmt.Sprintf("GET %s answered %d", url, resp.StatusCode)}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return fail("probe", fmt.Sprintf("GET %s answered %d %s", url, resp.StatusCode, resp.Header.Get("WWW-Authenticate")),
			"the API refused the token: give the client the scope this API needs, and check the API trusts this issuer")
	default:
		return fail("probe", fmt.Sprintf("GET %s answered %d", url, resp.StatusCode), "check the probe URL: it should be a cheap GET the client may call")
	}
}

// CheckResult is one line of the credentials checklist: Status is ok,
// fail or skip, Fix a one-line remedy for a failure.
type CheckResult = check

// CheckCredentials runs the checklist of `keyshift credentials test` for a
// client of issuer with a client secret, making every request with hc (nil:
// the defaults). The console's "test these credentials" runs it.
func CheckCredentials(ctx context.Context, issuer, clientID, secret string, scopes []string, hc *http.Client) []CheckResult {
	return CheckCredentialsKnowing(ctx, issuer, clientID, secret, scopes, hc, nil)
}

// ClientStatusFunc tells the client's status (store.StatusActive,
// store.StatusDisabled) as the admin API knows it.
type ClientStatusFunc func(ctx context.Context, clientID string) (string, error)

// CheckCredentialsKnowing is CheckCredentials for a caller that can ask the
// admin API about the client (the console): when the token endpoint answers
// invalid_client, which hides its cause on purpose, the checklist says
// whether the client is disabled or the secret is the one at fault.
func CheckCredentialsKnowing(ctx context.Context, issuer, clientID, secret string, scopes []string, hc *http.Client, status ClientStatusFunc) []CheckResult {
	p := Profile{Issuer: issuer, ClientID: clientID, ClientSecret: secret, Scopes: scopes, CacheFile: "off"}
	out := runChecks(ctx, "", p, false, io.Discard, hc)
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

// explainInvalidClient narrows the two causes of invalid_client to one.
func explainInvalidClient(ctx context.Context, c check, clientID string, status ClientStatusFunc) check {
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
