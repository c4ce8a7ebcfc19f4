package tokensource

import (
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that authorizes requests with the
// Source's token. On a 401 from the resource it drops the token, mints one
// new token (shared by every request that saw the same 401) and retries the
// request once — only when the request body can be replayed (no body, or
// GetBody set, as http.NewRequest does for in-memory bodies).
type Transport struct {
	Source *Source
	// Base does the requests; default http.DefaultTransport.
	Base http.RoundTripper
}

// NewClient returns an *http.Client whose requests carry the Source's token.
func (s *Source) NewClient(base http.RoundTripper) *http.Client {
	return &http.Client{Transport: &Transport{Source: s, Base: base}}
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.Base
	if base == nil {
		base = http.DefaultTransport
	}
	tok, err := t.Source.Current(req.Context())
	if err != nil {
		closeBody(req)
		return nil, err
	}
	first, err := authorized(req, tok.AccessToken, false)
	if err != nil {
		return nil, err
	}
	resp, err := base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || !replayable(req) {
		return resp, err
	}
	if !t.Source.invalidateFor401(tok.AccessToken) {
		return resp, nil
	}
	fresh, err := t.Source.Current(req.Context())
	if err != nil || fresh.AccessToken == tok.AccessToken {
		return resp, nil // no better token: hand back the resource's 401
	}
	retry, err := authorized(req, fresh.AccessToken, true)
	if err != nil {
		return resp, nil
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return base.RoundTrip(retry)
}

// authorized clones req with the bearer token; for a retry it takes a fresh
// copy of the body.
func authorized(req *http.Request, token string, again bool) (*http.Request, error) {
	r := req.Clone(req.Context())
	if again && req.Body != nil && req.Body != http.NoBody {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	r.Header.Set("Authorization", "Bearer "+token)
	return r, nil
}

func replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// closeBody honours RoundTripper's contract to close the body even on error.
func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}
