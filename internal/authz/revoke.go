package authz

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// handleRevoke is the revocation endpoint (RFC 7009). The caller may revoke
// its own tokens; a platform operator client any token. Whatever the token —
// unknown, malformed, expired, already revoked or someone else's — the
// answer is 200 with an empty body (RFC 7009 §2.2): refusing another
// client's token with an error would tell the caller the token is valid.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	f, caller, e := s.authenticateCaller(w, r, "revoke")
	if e != nil {
		s.metrics.revocations.WithLabelValues(e.Code).Inc()
		writeError(w, s.log, e)
		return
	}
	// token_type_hint is advisory (RFC 7009 §2.1): the token's form says
	// whether it is an access or a refresh token.
	outcome, err := s.revoke(r.Context(), f.get("token"), caller, remoteAddr(r))
	if err != nil {
		s.metrics.revocations.WithLabelValues(oauth.CodeServerError).Inc()
		writeError(w, s.log, err)
		return
	}
	s.metrics.revocations.WithLabelValues(outcome).Inc()
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// revoke revokes token if caller may, returning "revoked" or "ignored".
func (s *Server) revoke(ctx context.Context, token string, caller *store.Client, addr string) (string, error) {
	now := s.cfg.Now()
	if family, _, ok := s.parseRefreshToken(token); ok {
		return s.revokeRefresh(ctx, family, caller, addr, now)
	}
	cl, err := s.verifyToken(token, now)
	if err != nil {
		return "ignored", nil
	}
	if cl.ClientID != caller.ID && !isOperator(caller) {
		s.log.Info("revocation of another client's token ignored", "caller", caller.ID, "remote_addr", addr)
		return "ignored", nil
	}
	if s.revoked.revoked(cl.JTI) {
		return "ignored", nil
	}
	exp := time.Unix(cl.ExpiresAt, 0)
	details, _ := json.Marshal(map[string]string{"client_id": cl.ClientID})
	err = s.st.Tx(ctx, func(tx store.Tx) error {
		if err := tx.CreateRevocation(ctx, store.Revocation{
			JTI: cl.JTI, Tenant: cl.Tenant, ClientID: cl.ClientID, RevokedAt: now, ExpiresAt: exp,
		}); err != nil {
			return fmt.Errorf("create revocation: %w", err)
		}
		return tx.AppendAudit(ctx, store.AuditEvent{
			Time: now, Actor: caller.ID, ActorTenant: caller.Tenant, Tenant: cl.Tenant,
			Action: "token.revoke", ObjectType: "token", ObjectID: cl.JTI,
			RemoteAddr: addr, Details: details,
		})
	})
	if err != nil {
		return "", fmt.Errorf("revoke token %s: %w", cl.JTI, err)
	}
	// Refuse the token in this process now; other instances learn it from
	// the change feed.
	s.revoked.add(cl.JTI, exp)
	s.log.Info("token revoked", "jti", cl.JTI, "client_id", cl.ClientID, "caller", caller.ID, "remote_addr", addr)
	return "revoked", nil
}

// revokeRefresh revokes a refresh token's whole family (RFC 7009 §2.1: the
// server may, and RFC 9700 §4.14 wants it) with its newest access token.
func (s *Server) revokeRefresh(ctx context.Context, family string, caller *store.Client, addr string, now time.Time) (string, error) {
	outcome := "ignored"
	err := s.st.Tx(ctx, func(tx store.Tx) error {
		f, err := tx.GetRefreshFamily(ctx, family)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.RevokedAt != nil || (f.ClientID != caller.ID && !isOperator(caller)) {
			return nil
		}
		if err := s.revokeFamily(ctx, tx, family, "revoked", now); err != nil {
			return err
		}
		outcome = "revoked"
		details, _ := json.Marshal(map[string]string{"client_id": f.ClientID, "user_id": f.UserID})
		return tx.AppendAudit(ctx, store.AuditEvent{
			Time: now, Actor: caller.ID, ActorTenant: caller.Tenant, Tenant: f.Tenant,
			Action: "refresh_token.revoke", ObjectType: "refresh_family", ObjectID: family,
			RemoteAddr: addr, Details: details,
		})
	})
	if err != nil {
		return "", fmt.Errorf("revoke refresh family: %w", err)
	}
	if outcome == "revoked" {
		s.log.Info("refresh token family revoked", "family", family, "caller", caller.ID, "remote_addr", addr)
	}
	return outcome, nil
}
