package tokensource

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// Transport is an http.RoundTripper that authorizes requests with the
// Source's token. On a 401 from the resource it drops the token, mints one
// new token (shared by every request that saw the same 401) and retries the
// request once — when the request body can be replayed: no body, GetBody
// set (as http.NewRequest does for in-memory bodies), or a body of known
// length up to ReplayBodyLimit, which the Transport buffers. A request whose
// body cannot be replayed gets the resource's 401, but the token is dropped
// all the same, so the next request carries a new one.
type Transport struct {
	Source *Source
	// Base does the requests; default http.DefaultTransport.
	Base http.RoundTripper
	// ReplayBodyLimit is the largest body without GetBody (a proxied
	// request's, say) that is read into memory before it is sent, so that
	// it can be sent again after a 401. Zero buffers none. A body of
	// unknown length (ContentLength -1: chunked, streaming) is never
	// buffered: waiting for its end could stall a stream.
	ReplayBodyLimit int64
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
	req, err = t.bufferBody(req)
	if err != nil {
		return nil, err
	}
	first, err := authorized(req, tok.AccessToken, false)
	if err != nil {
		return nil, err
	}
	resp, err := base.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	if !replayable(req) {
		// The body is gone: hand back the 401, but do not keep sending a
		// token the resource refuses.
		t.Source.invalidateFor401(tok.AccessToken)
		return resp, nil
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

// bufferBody returns req, or a shallow copy of it whose body is read into
// memory and replayable, when the body has no GetBody and a known length
// within ReplayBodyLimit. req itself is not modified (RoundTripper rule).
func (t *Transport) bufferBody(req *http.Request) (*http.Request, error) {
	if replayable(req) || req.ContentLength <= 0 || req.ContentLength > t.ReplayBodyLimit {
		return req, nil
	}
	buf, err := io.ReadAll(io.LimitReader(req.Body, req.ContentLength))
	req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("tokensource: read the request body: %w", err)
	}
	r := req.WithContext(req.Context())
	r.Body = io.NopCloser(bytes.NewReader(buf))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	return r, nil
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
