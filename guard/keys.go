package guard

import (
	"context"
	"net/http"
	"strconv"
	"time"
)

// Key decisions, as keyshift's key introspection names them.
const (
	DecisionAccepted = "accepted"
	DecisionSunset   = "api_key_sunset"
	DecisionBrownout = "api_key_brownout"
	DecisionDisabled = "api_key_disabled"
	DecisionExpired  = "api_key_expired"
	DecisionUnknown  = "api_key_unknown"
)

// KeyChecker looks up a legacy API key and decides whether it may be used
// now. RemoteKeys asks a keyshift server; keyshift itself checks keys in
// process against its registry and sunset timeline.
//
// CheckKey returns an error only when it cannot answer (the registry is
// unreachable); an unknown or refused key is a KeyResult with Active false.
// It must be safe for concurrent use and fast: it runs on every key request.
type KeyChecker interface {
	CheckKey(ctx context.Context, key string, req RequestInfo) (KeyResult, error)
}

// RequestInfo describes the request presenting a key, for usage records.
// It is passed by value so that building it costs no allocation.
type RequestInfo struct {
	Method string
	// Route is the matched pattern (http.Request.Pattern) when there is
	// one, else the path.
	Route string
	// RemoteIP is the client address without its port.
	RemoteIP  string
	UserAgent string
	// Now is the guard's time of the request.
	Now time.Time
}

// KeyResult is a key checker's answer, the shape of keyshift's introspection
// of a key (token_type_hint=api_key).
type KeyResult struct {
	// Active is true only for DecisionAccepted.
	Active bool
	// Decision is one of the Decision constants.
	Decision string
	// Description explains the decision to the key's user; a standard
	// sentence is used when empty.
	Description string
	Tenant      string
	KeyID       string
	// Permissions are the key's permissions; none means every API.
	Permissions []string
	// Scopes are the OAuth scopes the key's permissions map to.
	Scopes []string
	// Deprecation is when API keys were (or will be) deprecated, for the
	// Deprecation header; zero for none (platform keys).
	Deprecation time.Time
	// Sunset is when the key's tenant stops being able to use keys, for
	// the Sunset header; zero for none.
	Sunset time.Time
	// MigrationGuideURL is the page explaining the move to OAuth 2.0.
	MigrationGuideURL string

	// hdr holds the rendered headers and principal; see Prepare.
	hdr *keyHeaders
}

// keyHeaders are the rendered deprecation signals of one KeyResult. The
// slices have capacity 1, so a handler's Header().Add copies instead of
// writing into them.
type keyHeaders struct {
	deprecation, sunset, link []string
	principal                 *Principal
}

// Prepare returns r with its response headers and principal built once. A
// checker that caches its answers prepares them before caching, so that the
// guard serves every request with them without allocating.
func (r KeyResult) Prepare() KeyResult {
	r.hdr = renderKeyHeaders(&r)
	return r
}

// renderKeyHeaders builds the deprecation signals:
//
//	Deprecation: @1772323200
//	Sunset: Wed, 01 Jul 2026 00:00:00 GMT
//	Link: <guide>; rel="deprecation"; type="text/html", <guide>; rel="sunset"; type="text/html"
//
// Sunset is never earlier than Deprecation (RFC 8594 §3).
func renderKeyHeaders(r *KeyResult) *keyHeaders {
	h := &keyHeaders{principal: keyPrincipal(r)}
	if !r.Deprecation.IsZero() {
		h.deprecation = []string{"@" + strconv.FormatInt(r.Deprecation.Unix(), 10)}
	}
	if !r.Sunset.IsZero() {
		s := r.Sunset
		if !r.Deprecation.IsZero() && s.Before(r.Deprecation) {
			s = r.Deprecation
		}
		h.sunset = []string{s.UTC().Format(http.TimeFormat)}
	}
	if g := r.MigrationGuideURL; g != "" && (h.deprecation != nil || h.sunset != nil) {
		var link string
		if h.deprecation != nil {
			link = "<" + g + `>; rel="deprecation"; type="text/html"`
		}
		if h.sunset != nil {
			if link != "" {
				link += ", "
			}
			link += "<" + g + `>; rel="sunset"; type="text/html"`
		}
		h.link = []string{link}
	}
	return h
}

// setHeaders writes the deprecation signals into h, keeping any Link set
// before.
func (r *KeyResult) setHeaders(h http.Header) {
	kh := r.hdr
	if kh == nil {
		kh = renderKeyHeaders(r)
	}
	if kh.deprecation != nil {
		h["Deprecation"] = kh.deprecation[:1:1]
	}
	if kh.sunset != nil {
		h["Sunset"] = kh.sunset[:1:1]
	}
	if kh.link != nil {
		if prev := h["Link"]; len(prev) > 0 {
			h["Link"] = append(prev[:len(prev):len(prev)], kh.link[0])
		} else {
			h["Link"] = kh.link[:1:1]
		}
	}
}

// describe returns the sentence explaining a refused key.
func (r *KeyResult) describe() string {
	if r.Description != "" {
		return r.Description
	}
	switch r.Decision {
	case DecisionSunset:
		s := "API keys are no longer accepted for this tenant: use an OAuth 2.0 client."
		if !r.Sunset.IsZero() {
			s += " They stopped being accepted at " + r.Sunset.UTC().Format(time.RFC3339) + "."
		}
		return s
	case DecisionBrownout:
		return "API keys are refused during a scheduled brownout, which shows integrations that have not moved to OAuth 2.0 yet."
	case DecisionDisabled:
		return "The API key has been disabled or revoked."
	case DecisionExpired:
		return "The API key has passed its expiry date."
	case DecisionUnknown:
		return "The API key is not known."
	}
	return "The API key is refused."
}

// keyPrincipal returns the principal of an accepted key.
func keyPrincipal(r *KeyResult) *Principal {
	return &Principal{
		Kind: KindAPIKey, Tenant: r.Tenant, Subject: r.KeyID, KeyID: r.KeyID,
		Scopes: r.Scopes, Permissions: r.Permissions,
	}
}
