package authz

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/credential"
	"github.com/keyshift/keyshift/internal/store"
)

// signedIn is a person signed in at keyshift's pages: the session and its
// user, both checked live (a disabled user or tenant has no session).
type signedIn struct {
	session store.Session
	user    store.User
}

// currentSession returns the request's session, or nil when it has none
// that is still valid.
func (s *Server) currentSession(ctx context.Context, r *http.Request) (*signedIn, error) {
	v := s.cookieValue(r, sessionCookieName)
	if v == "" {
		return nil, nil
	}
	h := credential.Hash(v)
	sess, err := s.st.GetSession(ctx, h[:])
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get session: %w", err)
	}
	if !s.cfg.Now().Before(sess.ExpiresAt) {
		return nil, nil
	}
	u, err := s.st.GetUser(ctx, sess.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get session user: %w", err)
	}
	if !s.userActive(u) || signedInBeforeReset(u, sess.AuthTime) {
		return nil, nil
	}
	return &signedIn{session: sess, user: u}, nil
}

// startSession signs u in: a new session (a fresh cookie value on every
// sign-in, so a planted cookie never becomes a session) replacing any the
// browser had.
func (s *Server) startSession(ctx context.Context, w http.ResponseWriter, r *http.Request, u store.User) error {
	now := s.cfg.Now()
	value := rand.Text() + rand.Text() // 2×128 bits
	h := credential.Hash(value)
	sess := store.Session{
		Hash: h[:], ID: rand.Text(), Tenant: u.Tenant, UserID: u.ID,
		AuthTime: now, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL),
	}
	old := s.cookieValue(r, sessionCookieName)
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		if old != "" {
			oh := credential.Hash(old)
			if err := tx.DeleteSession(ctx, oh[:]); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return tx.CreateSession(ctx, sess)
	})
	if err != nil {
		return fmt.Errorf("create session: %w", err)
	}
	s.setCookie(w, sessionCookieName, value, 0)
	return nil
}

// endSession deletes the request's session and its cookie.
func (s *Server) endSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	v := s.cookieValue(r, sessionCookieName)
	s.setCookie(w, sessionCookieName, "", -1)
	if v == "" {
		return nil
	}
	h := credential.Hash(v)
	err := s.st.Tx(ctx, func(tx store.Tx) error { return tx.DeleteSession(ctx, h[:]) })
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("delete session: %w", err)
	}
	return nil
}

// authTimeOK reports whether the session's sign-in is recent enough for
// max_age (OIDC Core §3.1.2.1); maxAge < 0 means no limit.
func authTimeOK(authTime, now time.Time, maxAge int) bool {
	if maxAge < 0 {
		return true
	}
	return now.Sub(authTime) <= time.Duration(maxAge)*time.Second
}

// userActive reports whether u may sign in and be issued tokens: not
// disabled, of an active tenant.
func (s *Server) userActive(u store.User) bool {
	return !u.Disabled && s.clients.tenantActive(u.Tenant)
}

// signedInBeforeReset reports whether a sign-in at authTime used a
// password since reset: what it granted (sessions, refresh families) ends.
func signedInBeforeReset(u store.User, authTime time.Time) bool {
	return u.PasswordChangedAt.After(authTime)
}
