package tokensource

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	"golang.org/x/oauth2"
)

// Token is an access token with what the Source knows about it. Times are on
// the local clock.
type Token struct {
	AccessToken string
	// TokenType is always "Bearer".
	TokenType string
	// IssuedAt is when the request for it was sent.
	IssuedAt time.Time
	// Expiry is IssuedAt plus the server's expires_in.
	Expiry time.Time
	// RefreshAt is when the Source starts refreshing it (jittered).
	RefreshAt time.Time
	// Scopes granted: the server's scope answer, or the requested scopes
	// when it sent none.
	Scopes []string
	// Skew is the server's Date minus the local clock when the token
	// arrived; zero when unknown or within a second.
	Skew time.Duration
	// FromCache is true when the token was read from the shared cache file.
	FromCache bool
}

// OAuth2 converts the token for golang.org/x/oauth2.
func (t *Token) OAuth2() *oauth2.Token {
	return &oauth2.Token{AccessToken: t.AccessToken, TokenType: t.TokenType, Expiry: t.Expiry}
}

// Source gets and refreshes tokens. It is safe for concurrent use; create one
// per client and share it.
type Source struct {
	cfg Config

	mu          sync.Mutex
	tok         *Token
	flight      *flight
	failures    int
	nextAttempt time.Time
	lastErr     error
	rejected    string    // token dropped by Invalidate: never adopted again
	lastForced  time.Time // last 401-driven re-mint

	metaMu sync.Mutex
	meta   *Metadata
}

// flight is one token request shared by every caller waiting for it.
type flight struct {
	done chan struct{}
	tok  *Token
	err  error
}

// New returns a Source. It does no I/O: the first token is fetched on first
// use.
func New(cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.defaults()
	return &Source{cfg: cfg}, nil
}

// Token implements oauth2.TokenSource.
func (s *Source) Token() (*oauth2.Token, error) {
	t, err := s.Current(context.Background())
	if err != nil {
		return nil, err
	}
	return t.OAuth2(), nil
}

// Current returns a valid token. A token before its refresh point is returned
// at once; inside the refresh window it is still returned at once while one
// background request (at most, whoever asks) fetches its successor, retried
// with backoff on failure. Only when there is no valid token do callers wait,
// all on the same request; ctx bounds the wait, not that shared request.
func (s *Source) Current(ctx context.Context) (*Token, error) {
	s.mu.Lock()
	now := s.cfg.Now()
	if t := s.tok; t != nil && s.usable(t, now) {
		if now.Before(t.RefreshAt) {
			s.mu.Unlock()
			return t, nil
		}
		if s.flight == nil && !now.Before(s.nextAttempt) {
			s.startFlight()
		}
		s.mu.Unlock()
		return t, nil
	}
	if s.flight == nil {
		if s.lastErr != nil && now.Before(s.nextAttempt) {
			// Backing off: answer with the last failure rather than
			// sending another request for every caller.
			err := s.lastErr
			s.mu.Unlock()
			return nil, err
		}
		s.startFlight()
	}
	f := s.flight
	s.mu.Unlock()
	select {
	case <-f.done:
		if f.tok != nil && s.usable(f.tok, s.cfg.Now()) {
			return f.tok, nil
		}
		if f.err == nil {
			return nil, errors.New("tokensource: the new token is already expired; check expires_in and ExpiryLeeway")
		}
		return nil, f.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (s *Source) usable(t *Token, now time.Time) bool {
	return now.Before(t.Expiry.Add(-s.leeway(t.IssuedAt, t.Expiry)))
}

// leeway is ExpiryLeeway, but at most a tenth of a short-lived token's
// lifetime, so that a 60 s token is still usable for most of its life.
func (s *Source) leeway(issued, expiry time.Time) time.Duration {
	return min(s.cfg.ExpiryLeeway, expiry.Sub(issued)/10)
}

// startFlight starts the one token request; s.mu is held.
func (s *Source) startFlight() {
	f := &flight{done: make(chan struct{})}
	s.flight = f
	go s.run(f)
}

func (s *Source) run(f *flight) {
	// The request is shared, so no caller's context may cancel it.
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout+5*time.Second)
	defer cancel()
	start := s.cfg.Now()
	tok, err := s.fetch(ctx)

	s.mu.Lock()
	now := s.cfg.Now()
	if tok != nil && (s.tok == nil || tok.Expiry.After(s.tok.Expiry)) {
		s.tok = tok
	}
	if err == nil {
		s.failures, s.lastErr, s.nextAttempt = 0, nil, time.Time{}
	} else {
		s.failures++
		s.lastErr = err
		s.nextAttempt = now.Add(s.backoff(s.failures))
	}
	f.tok, f.err = s.tok, err
	haveValid := s.tok != nil && s.usable(s.tok, now)
	failures, retryIn := s.failures, s.nextAttempt.Sub(now)
	s.mu.Unlock()
	// Report before the flight ends, so that a caller that returns (and
	// may exit) has seen its events and logs.
	s.report(tok, err, now.Sub(start), failures, retryIn, haveValid)
	s.mu.Lock()
	s.flight = nil
	s.mu.Unlock()
	close(f.done)
}

func (s *Source) report(tok *Token, err error, took time.Duration, failures int, retryIn time.Duration, haveValid bool) {
	switch {
	case err != nil:
		s.cfg.Logger.Warn("tokensource: token request failed", "client_id", s.cfg.ClientID, "err", err,
			"attempt", failures, "retry_in", retryIn.Round(time.Millisecond), "have_valid_token", haveValid)
		s.emit(Event{Type: EventFailed, Duration: took, Err: err})
	case tok.FromCache:
		s.cfg.Logger.Info("tokensource: token taken from the shared cache", "client_id", s.cfg.ClientID, "expiry", tok.Expiry, "refresh_at", tok.RefreshAt)
		s.emit(Event{Type: EventCacheHit, Expiry: tok.Expiry, RefreshAt: tok.RefreshAt, Scopes: tok.Scopes})
	default:
		s.cfg.Logger.Info("tokensource: token minted", "client_id", s.cfg.ClientID, "expiry", tok.Expiry, "refresh_at", tok.RefreshAt)
		s.emit(Event{Type: EventMinted, Expiry: tok.Expiry, RefreshAt: tok.RefreshAt, Scopes: tok.Scopes, Duration: took})
	}
}

// backoff is exponential from MinBackoff to MaxBackoff with "equal jitter":
// half fixed, half random, so retries spread out but never bunch at zero.
func (s *Source) backoff(failures int) time.Duration {
	d := s.cfg.MinBackoff
	for i := 1; i < failures && d < s.cfg.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, s.cfg.MaxBackoff)
	return d/2 + rand.N(d/2+1)
}

// refreshPoint is the start of the refresh window, moved by ± Jitter.
func (s *Source) refreshPoint(issued, expiry time.Time) time.Time {
	life := expiry.Sub(issued)
	window := time.Duration(float64(life) * s.cfg.RefreshWindow)
	at := expiry.Add(-window)
	j := s.cfg.Jitter
	if j == 0 {
		j = min(window/40, 5*time.Minute)
	}
	if j > 0 {
		at = at.Add(rand.N(2*j+1) - j)
	}
	if lim := expiry.Add(-s.leeway(issued, expiry)); at.After(lim) {
		at = lim
	}
	if at.Before(issued) {
		at = issued
	}
	return at
}

// Invalidate drops the current token, e.g. after the resource said it is no
// longer valid; the next call to Current requests a new one. The dropped
// token is not taken from the cache file again.
func (s *Source) Invalidate() {
	s.mu.Lock()
	dropped := s.tok != nil
	if dropped {
		s.rejected = s.tok.AccessToken
		s.tok = nil
	}
	s.mu.Unlock()
	if dropped {
		s.emit(Event{Type: EventInvalidated})
	}
}

// invalidateFor401 drops access if it is still the current token and a
// forced re-mint is allowed now. It reports whether a retry with a new token
// makes sense.
func (s *Source) invalidateFor401(access string) bool {
	s.mu.Lock()
	retry, dropped := s.dropFor401Locked(access)
	s.mu.Unlock()
	if dropped {
		s.cfg.Logger.Info("tokensource: the resource refused the token (401); dropping it and minting a new one", "client_id", s.cfg.ClientID)
		s.emit(Event{Type: EventInvalidated})
	}
	return retry
}

func (s *Source) dropFor401Locked(access string) (retry, dropped bool) {
	if s.rejected == access {
		return true, false // another request already dropped it
	}
	if s.tok == nil || s.tok.AccessToken != access {
		return s.tok != nil, false // already replaced by a newer token
	}
	now := s.cfg.Now()
	if !s.lastForced.IsZero() && now.Sub(s.lastForced) < s.cfg.MinRemintInterval {
		return false, false
	}
	s.lastForced = now
	s.rejected = access
	s.tok = nil
	return true, true
}

func (s *Source) emit(e Event) {
	if s.cfg.OnEvent != nil {
		s.cfg.OnEvent(e)
	}
}

// fetch gets a token: from the shared cache file when it holds a fresh one,
// else from the token endpoint (then written to the cache). When the request
// fails but the cache holds a token that is still valid, that token is
// returned with the error, so callers keep working while retries back off.
func (s *Source) fetch(ctx context.Context) (*Token, error) {
	if s.cfg.CacheFile == "" {
		return s.mint(ctx)
	}
	c := fileCache{path: s.cfg.CacheFile, key: s.cacheKey()}
	unlock, err := c.lock(ctx)
	if err != nil {
		s.cfg.Logger.Warn("tokensource: cache file lock failed; requesting a token without it", "err", err)
		return s.mint(ctx)
	}
	defer unlock()
	now := s.cfg.Now()
	cached, err := c.read()
	if err != nil {
		s.cfg.Logger.Warn("tokensource: ignoring unreadable cache file", "path", s.cfg.CacheFile, "err", err)
	}
	s.mu.Lock()
	rejected := s.rejected
	s.mu.Unlock()
	if cached != nil && cached.AccessToken != rejected {
		cached.RefreshAt = s.refreshPoint(cached.IssuedAt, cached.Expiry)
		if now.Before(cached.RefreshAt) {
			return cached, nil
		}
	} else {
		cached = nil
	}
	tok, err := s.mint(ctx)
	if err != nil {
		if cached != nil && s.usable(cached, now) {
			return cached, err
		}
		return nil, err
	}
	if werr := c.write(tok); werr != nil {
		s.cfg.Logger.Warn("tokensource: could not write the cache file", "path", s.cfg.CacheFile, "err", werr)
	}
	return tok, nil
}
