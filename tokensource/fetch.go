package tokensource

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Metadata is what a Source knows about the authorization server: from
// discovery when it was configured by issuer, else just the token URL.
type Metadata struct {
	Issuer                   string   `json:"issuer"`
	TokenEndpoint            string   `json:"token_endpoint"`
	JWKSURI                  string   `json:"jwks_uri,omitempty"`
	ScopesSupported          []string `json:"scopes_supported,omitempty"`
	GrantTypesSupported      []string `json:"grant_types_supported,omitempty"`
	TokenEndpointAuthMethods []string `json:"token_endpoint_auth_methods_supported,omitempty"`
}

// Metadata returns the server's metadata, fetching it once by discovery when
// the Source was configured with an Issuer.
func (s *Source) Metadata(ctx context.Context) (*Metadata, error) {
	s.metaMu.Lock()
	defer s.metaMu.Unlock()
	if s.meta != nil {
		return s.meta, nil
	}
	if s.cfg.Issuer == "" {
		return &Metadata{TokenEndpoint: s.cfg.TokenURL}, nil
	}
	m, err := discover(ctx, s.cfg.HTTPClient, s.cfg.Issuer)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Issuer, e.ClientID = s.cfg.Issuer, s.cfg.ClientID
		}
		return nil, err
	}
	if s.cfg.TokenURL != "" {
		m.TokenEndpoint = s.cfg.TokenURL
	}
	s.meta = m
	return m, nil
}

// discover tries RFC 8414 metadata, then OpenID Connect Discovery.
func discover(ctx context.Context, hc *http.Client, issuer string) (*Metadata, error) {
	base := strings.TrimSuffix(issuer, "/")
	var last error
	for _, u := range []string{
		wellKnown(base, "oauth-authorization-server"),
		base + "/.well-known/openid-configuration",
	} {
		m, err := getMetadata(ctx, hc, u)
		if err == nil {
			if strings.TrimSuffix(m.Issuer, "/") != base {
				return nil, &Error{Kind: KindDiscovery, URL: u, Description: fmt.Sprintf("metadata names issuer %q, want %q", m.Issuer, issuer)}
			}
			if m.TokenEndpoint == "" {
				return nil, &Error{Kind: KindDiscovery, URL: u, Description: "metadata has no token_endpoint"}
			}
			return m, nil
		}
		last = err
	}
	return nil, last
}

// wellKnown inserts the well-known segment between host and path
// (RFC 8414 §3.1).
func wellKnown(issuer, name string) string {
	u, err := url.Parse(issuer)
	if err != nil {
		return issuer + "/.well-known/" + name
	}
	u.Path = "/.well-known/" + name + strings.TrimSuffix(u.Path, "/")
	return u.String()
}

func getMetadata(ctx context.Context, hc *http.Client, u string) (*Metadata, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, &Error{Kind: KindDiscovery, URL: u, Err: err}
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		e := transportError(err)
		e.URL = u
		return nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &Error{Kind: KindUnreachable, URL: u, Err: err}
	}
	if looksHTML(resp.Header, body) {
		return nil, &Error{Kind: KindHTML, URL: u, Status: resp.StatusCode}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &Error{Kind: KindDiscovery, URL: u, Status: resp.StatusCode}
	}
	var m Metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, &Error{Kind: KindDiscovery, URL: u, Err: scrub(err)}
	}
	return &m, nil
}

// transportError classifies a failed round trip.
func transportError(err error) *Error {
	var (
		recErr  tls.RecordHeaderError
		certErr *tls.CertificateVerificationError
		uaErr   x509.UnknownAuthorityError
		hostErr x509.HostnameError
		invErr  x509.CertificateInvalidError
	)
	if errors.As(err, &recErr) || errors.As(err, &certErr) || errors.As(err, &uaErr) ||
		errors.As(err, &hostErr) || errors.As(err, &invErr) || strings.Contains(err.Error(), "tls: ") {
		return &Error{Kind: KindTLS, Err: err}
	}
	return &Error{Kind: KindUnreachable, Err: err}
}

// mint requests a new token from the token endpoint.
func (s *Source) mint(ctx context.Context) (*Token, error) {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.RequestTimeout)
	defer cancel()
	meta, err := s.Metadata(ctx)
	if err != nil {
		return nil, err
	}
	req, err := s.tokenRequest(ctx, meta)
	if err != nil {
		return nil, err
	}
	start := s.cfg.Now()
	resp, err := s.cfg.HTTPClient.Do(req)
	if err != nil {
		e := transportError(err)
		e.URL, e.ClientID = meta.TokenEndpoint, s.cfg.ClientID
		return nil, e
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		return nil, &Error{Kind: KindUnreachable, URL: meta.TokenEndpoint, ClientID: s.cfg.ClientID, Status: resp.StatusCode, Err: err}
	}
	tr, err := parseTokenResponse(resp.StatusCode, resp.Header, body)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.URL, e.ClientID = meta.TokenEndpoint, s.cfg.ClientID
			if e.Kind == KindInvalidScope {
				e.Scopes = refusedScopes(s.cfg.Scopes, e.Description)
			}
		}
		return nil, err
	}
	received := s.cfg.Now()
	return s.newToken(tr, start, skewOf(resp.Header, received)), nil
}

// newToken derives expiry and refresh point on the local clock from
// the moment the request was sent, so a slow answer only makes us refresh
// a little early.
func (s *Source) newToken(tr tokenResponse, start time.Time, skew time.Duration) *Token {
	life := tr.ExpiresIn
	if life <= 0 {
		life = s.cfg.DefaultLifetime
	}
	scopes := tr.Scope
	if scopes == nil {
		scopes = append([]string(nil), s.cfg.Scopes...)
	}
	t := &Token{AccessToken: tr.AccessToken, TokenType: tr.TokenType, IssuedAt: start,
		Expiry: start.Add(life), Scopes: scopes, Skew: skew}
	t.RefreshAt = s.refreshPoint(t.IssuedAt, t.Expiry)
	if abs(skew) > s.cfg.SkewWarning {
		s.cfg.Logger.Warn("tokensource: the authorization server's clock differs from ours; expiry is kept on the local clock, but check NTP",
			"skew", skew.Round(time.Second), "client_id", s.cfg.ClientID)
	}
	if missing := missingScopes(s.cfg.Scopes, scopes); len(missing) > 0 {
		s.cfg.Logger.Warn("tokensource: the server granted fewer scopes than requested; add them to the client or stop requesting them",
			"missing", strings.Join(missing, " "), "client_id", s.cfg.ClientID)
	}
	return t
}

func skewOf(h http.Header, received time.Time) time.Duration {
	d, err := http.ParseTime(h.Get("Date"))
	if err != nil {
		return 0
	}
	// Date has one-second resolution; ignore differences within it.
	skew := d.Sub(received.Truncate(time.Second))
	if abs(skew) <= time.Second {
		return 0
	}
	return skew
}

func abs(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

func missingScopes(requested, granted []string) []string {
	have := make(map[string]bool, len(granted))
	for _, g := range granted {
		have[g] = true
	}
	var out []string
	for _, r := range requested {
		if !have[r] {
			out = append(out, r)
		}
	}
	return out
}

// tokenRequest builds the client credentials request with the configured
// client authentication.
func (s *Source) tokenRequest(ctx context.Context, meta *Metadata) (*http.Request, error) {
	tokenURL := meta.TokenEndpoint
	form := url.Values{"grant_type": {grantClientCredentials}}
	if len(s.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(s.cfg.Scopes, " "))
	}
	if s.cfg.Audience != "" {
		form.Set("audience", s.cfg.Audience)
	}
	if s.cfg.Resource != "" {
		form.Set("resource", s.cfg.Resource)
	}
	var basicID, basicSecret string
	switch s.cfg.AuthMethod {
	case AuthPrivateKeyJWT:
		a, err := s.assertion(meta)
		if err != nil {
			return nil, err
		}
		form.Set("client_id", s.cfg.ClientID)
		form.Set("client_assertion_type", clientAssertionTypeJWT)
		form.Set("client_assertion", a)
	default:
		secret, err := s.secret(ctx)
		if err != nil {
			return nil, err
		}
		if s.cfg.AuthMethod == AuthClientSecretPost {
			form.Set("client_id", s.cfg.ClientID)
			form.Set("client_secret", secret)
		} else {
			basicID, basicSecret = s.cfg.ClientID, secret
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, fmt.Errorf("tokensource: token request: %w", err)
	}
	if basicID != "" {
		// RFC 6749 §2.3.1: form-encode id and secret before Basic encoding.
		req.SetBasicAuth(url.QueryEscape(basicID), url.QueryEscape(basicSecret))
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", s.cfg.UserAgent)
	return req, nil
}

func (s *Source) secret(ctx context.Context) (string, error) {
	if s.cfg.SecretFunc == nil {
		return s.cfg.ClientSecret, nil
	}
	secret, err := s.cfg.SecretFunc(ctx)
	if err != nil {
		return "", fmt.Errorf("tokensource: read client secret: %w", err)
	}
	if secret == "" {
		return "", errors.New("tokensource: read client secret: it is empty")
	}
	return secret, nil
}

// assertion signs an RFC 7523 client authentication JWT for one request.
func (s *Source) assertion(meta *Metadata) (string, error) {
	alg, err := assertionAlg(s.cfg.PrivateKey)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: s.cfg.PrivateKey, KeyID: s.cfg.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", fmt.Errorf("tokensource: client assertion signer: %w", err)
	}
	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", fmt.Errorf("tokensource: client assertion id: %w", err)
	}
	// The audience is the issuer identifier when it is known (what current
	// guidance asks for, and what strict servers accept), else the token
	// endpoint (RFC 7523 §3).
	aud := meta.TokenEndpoint
	if meta.Issuer != "" {
		aud = meta.Issuer
	}
	now := s.cfg.Now()
	cl := jwt.Claims{Issuer: s.cfg.ClientID, Subject: s.cfg.ClientID, Audience: jwt.Audience{aud},
		ID: base64.RawURLEncoding.EncodeToString(jti[:]), IssuedAt: jwt.NewNumericDate(now),
		NotBefore: jwt.NewNumericDate(now.Add(-5 * time.Second)), Expiry: jwt.NewNumericDate(now.Add(time.Minute))}
	a, err := jwt.Signed(signer).Claims(cl).Serialize()
	if err != nil {
		return "", fmt.Errorf("tokensource: sign client assertion: %w", err)
	}
	return a, nil
}

func assertionAlg(k crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch key := k.(type) {
	case *rsa.PrivateKey:
		return jose.RS256, nil
	case *ecdsa.PrivateKey:
		switch key.Curve.Params().BitSize {
		case 256:
			return jose.ES256, nil
		case 384:
			return jose.ES384, nil
		case 521:
			return jose.ES512, nil
		}
	case ed25519.PrivateKey:
		return jose.EdDSA, nil
	}
	return "", fmt.Errorf("tokensource: unsupported private key type %T", k)
}
