package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// Audit list limits.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditQuery selects audit events, newest first.
type AuditQuery struct {
	Tenant   string    // "" = all tenants (operators only)
	Action   string    // e.g. "client.create"
	ObjectID string    // e.g. a client id
	Before   time.Time // exclusive; zero = no bound
	Limit    int       // 0 = 100; at most 1000
}

// AuditEventView is an audit event as the API shows it, with Details as
// JSON rather than bytes.
type AuditEventView struct {
	ID          string          `json:"id"`
	Time        time.Time       `json:"time"`
	Actor       string          `json:"actor"`
	ActorTenant string          `json:"actor_tenant"`
	Tenant      string          `json:"tenant"`
	Action      string          `json:"action"`
	ObjectType  string          `json:"object_type"`
	ObjectID    string          `json:"object_id"`
	RemoteAddr  string          `json:"remote_addr,omitempty"`
	Details     json.RawMessage `json:"details,omitempty"`
}

// AuditList is the answer of GET /admin/v1/audit. NextBefore, when set, is
// the before value that fetches the next (older) page.
type AuditList struct {
	Events     []AuditEventView `json:"events"`
	NextBefore *time.Time       `json:"next_before,omitempty"`
}

// ListAudit returns audit events. A tenant admin sees only its own tenant's
// events; asking for another tenant answers 404.
func (a *API) ListAudit(ctx context.Context, p Principal, q AuditQuery) (AuditList, error) {
	if !p.IsOperator() {
		if q.Tenant != "" && q.Tenant != p.Tenant {
			return AuditList{}, errNotFound("tenant")
		}
		q.Tenant = p.Tenant
	}
	var v validation
	switch {
	case q.Limit == 0:
		q.Limit = DefaultAuditLimit
	case q.Limit < 0 || q.Limit > MaxAuditLimit:
		v.add("limit", fmt.Sprintf("must be between 1 and %d", MaxAuditLimit))
	}
	if err := v.err(); err != nil {
		return AuditList{}, err
	}
	evs, err := a.st.ListAudit(ctx, store.AuditFilter{
		Tenant: q.Tenant, Action: q.Action, ObjectID: q.ObjectID, Before: q.Before, Limit: q.Limit,
	})
	if err != nil {
		return AuditList{}, fmt.Errorf("list audit: %w", err)
	}
	out := AuditList{Events: make([]AuditEventView, 0, len(evs))}
	for _, e := range evs {
		view := AuditEventView{
			ID: e.ID, Time: e.Time, Actor: e.Actor, ActorTenant: e.ActorTenant, Tenant: e.Tenant,
			Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, RemoteAddr: e.RemoteAddr,
		}
		if len(e.Details) > 0 && json.Valid(e.Details) {
			view.Details = json.RawMessage(e.Details)
		}
		out.Events = append(out.Events, view)
	}
	if len(evs) == q.Limit && len(evs) > 0 {
		last := evs[len(evs)-1].Time
		out.NextBefore = &last
	}
	return out, nil
}

// parseAuditQuery reads the filters of GET /admin/v1/audit.
func parseAuditQuery(r *http.Request) (AuditQuery, error) {
	qs := r.URL.Query()
	q := AuditQuery{Tenant: qs.Get("tenant"), Action: qs.Get("action"), ObjectID: qs.Get("object_id")}
	var v validation
	if s := qs.Get("before"); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			v.add("before", "must be an RFC 3339 time")
		}
		q.Before = t
	}
	if s := qs.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxAuditLimit {
			v.add("limit", fmt.Sprintf("must be between 1 and %d", MaxAuditLimit))
		}
		q.Limit = n
	}
	return q, v.err()
}

func (a *API) handleListAudit(w http.ResponseWriter, r *http.Request, p Principal) error {
	q, err := parseAuditQuery(r)
	if err != nil {
		return err
	}
	list, err := a.ListAudit(r.Context(), p, q)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}
