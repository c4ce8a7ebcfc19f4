// Package tokensource gets OAuth 2.0 access tokens for an integration with the
// client credentials grant (RFC 6749 §4.4) and keeps them fresh, so code that
// called an API with a static key can call it with a bearer token instead.
//
// A Source implements golang.org/x/oauth2.TokenSource. It works with any
// standards-compliant authorization server, not only keyshift:
//
//   - configuration by token endpoint URL, or by issuer through discovery
//     (RFC 8414, then OpenID Connect Discovery);
//   - client authentication by client_secret_basic, client_secret_post or
//     private_key_jwt (RFC 7523);
//   - proactive refresh once a token is in the last sixth of its lifetime
//     (20 h into a 24 h token), with jitter so that many workers do not all
//     refresh at one moment;
//   - one token request in flight however many goroutines ask (single flight);
//     while the current token is still valid a failed refresh is retried with
//     exponential backoff and jitter, and callers keep getting the valid token;
//   - expiry from expires_in on the local clock, with a warning when the
//     server's Date header shows clock skew;
//   - an optional cache file shared by processes on one host (0600, atomic
//     replace, file lock), so cron jobs and workers share one token;
//   - a Transport that adds the token to requests and, on a 401 from the
//     resource, drops the token, mints once and retries once (a body that
//     cannot be replayed is not retried, but the next request gets the new
//     token; Transport.ReplayBodyLimit buffers bodies to replay them);
//   - typed errors (*Error) that say what to do: a wrong or rotated secret
//     (ErrInvalidClient), refused scopes (ErrInvalidScope), an unreachable
//     endpoint, TLS trouble, or an HTML page where JSON was expected.
//
// The package imports nothing from keyshift's internal packages and can be
// vendored into any Go integration.
package tokensource
