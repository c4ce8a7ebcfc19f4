package authz

import (
	"net/http"
	"strings"
)

// jwksCacheControl lets caches keep the key set five minutes, far shorter
// than the time a next key is published before it signs, so verifiers
// always see a new key before the first token signed with it. Verifiers
// that meet an unknown kid refetch anyway.
const jwksCacheControl = "public, max-age=300"

// handleJWKS serves the JSON Web Key Set of the signing keys, honouring
// If-None-Match so pollers cost a 304.
func (s *Server) handleJWKS(w http.ResponseWriter, r *http.Request) {
	if !allowGet(w, r) {
		return
	}
	body, etag := s.signer.JWKS()
	h := w.Header()
	h.Set("Cache-Control", jwksCacheControl)
	h.Set("Access-Control-Allow-Origin", "*")
	if etag != "" {
		if !strings.HasPrefix(etag, `"`) && !strings.HasPrefix(etag, `W/"`) {
			etag = `"` + etag + `"` // RFC 9110 §8.8.3: an entity tag is quoted
		}
		h.Set("ETag", etag)
		if etagMatches(r.Header.Values("If-None-Match"), etag) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", "application/jwk-set+json")
	_, _ = w.Write(body)
}

// etagMatches implements If-None-Match's weak comparison (RFC 9110 §13.1.2).
func etagMatches(headers []string, etag string) bool {
	want := strings.TrimPrefix(etag, "W/")
	for _, h := range headers {
		for tag := range strings.SplitSeq(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == want {
				return true
			}
		}
	}
	return false
}
