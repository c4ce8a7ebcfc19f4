package authz

import (
	"context"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
)

// KeyIntrospection is what a KeyIntrospector tells about a legacy key: the
// timeline's decision now, the key and the migration guide.
type KeyIntrospection = apikey.Result

// KeyIntrospector answers introspection about legacy API keys;
// *apikey.Service implements it.
type KeyIntrospector interface {
	// IntrospectKey looks key up and decides on it without counting a use.
	// ok is false when the key is malformed, unknown, or belongs to another
	// tenant than callerTenant while operator is false. err reports only a
	// store that could not be asked.
	IntrospectKey(ctx context.Context, key, callerTenant string, operator bool) (res KeyIntrospection, ok bool, err error)
}

// keyIntrospection is the answer about a legacy key (DESIGN.md), with the
// decision's explanation and the migration guide for the key's user.
type keyIntrospection struct {
	Active              bool     `json:"active"`
	TokenType           string   `json:"token_type"`
	Tenant              string   `json:"tenant"`
	KeyID               string   `json:"key_id"`
	Permissions         []string `json:"permissions"` // [] = every API
	Scope               string   `json:"scope,omitempty"`
	Decision            string   `json:"decision"`
	DecisionDescription string   `json:"decision_description,omitempty"`
	Deprecation         string   `json:"deprecation,omitempty"`
	Sunset              string   `json:"sunset,omitempty"`
	MigrationGuideURL   string   `json:"migration_guide_url,omitempty"`
}

// introspectAny answers about token as the hint suggests first and, the
// hint being advisory (RFC 7662 §2.1), as the other kind when that finds
// nothing: a key hint tries keys then access tokens; any other hint tries
// access tokens then, when keys are configured, keys.
func (s *Server) introspectAny(ctx context.Context, token, hint string, caller *store.Client) (any, bool, error) {
	if s.cfg.Keys == nil {
		resp := s.introspect(token, caller)
		return resp, resp.Active, nil
	}
	if hint == oauth.TokenTypeHintAPIKey {
		if k, ok, err := s.introspectKey(ctx, token, caller); err != nil || ok {
			return k, ok && k.Active, err
		}
		resp := s.introspect(token, caller)
		return resp, resp.Active, nil
	}
	resp := s.introspect(token, caller)
	if resp.Active {
		return resp, true, nil
	}
	if k, ok, err := s.introspectKey(ctx, token, caller); err != nil || ok {
		return k, ok && k.Active, err
	}
	return resp, false, nil
}

// introspectKey asks the key introspector; ok is false when the caller may
// learn nothing about key.
func (s *Server) introspectKey(ctx context.Context, key string, caller *store.Client) (keyIntrospection, bool, error) {
	res, ok, err := s.cfg.Keys.IntrospectKey(ctx, key, caller.Tenant, isOperator(caller))
	if err != nil || !ok {
		return keyIntrospection{}, false, err
	}
	d := res.Decision
	k := keyIntrospection{
		Active: d.Accepted, TokenType: oauth.TokenTypeHintAPIKey, Tenant: res.Key.Tenant, KeyID: res.Key.ID,
		Permissions: res.Key.Permissions, Scope: strings.Join(res.Key.Scopes, " "), Decision: d.Code,
		DecisionDescription: res.Description(), Deprecation: rfc3339(d.Deprecation), Sunset: rfc3339(d.Sunset),
		MigrationGuideURL: res.GuideURL,
	}
	if k.Permissions == nil {
		k.Permissions = []string{}
	}
	return k, true, nil
}

func rfc3339(t *time.Time) string {
	if t == nil {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
