package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

// loadTimeline reads the stored timeline with apikey's loader (apikey owns
// the setting) and normalizes it as the API shows it; none stored is the
// empty timeline (no milestone: keys are accepted and may be created).
func loadTimeline(ctx context.Context, r store.Reader) (apikey.Timeline, error) {
	t, err := apikey.LoadTimeline(ctx, r)
	if err != nil {
		return apikey.Timeline{}, err
	}
	return t.Normalized(), nil
}

// GetTimeline returns the sunset timeline; every admin may read it, since
// tenant admins plan their migration by it.
func (a *API) GetTimeline(ctx context.Context, _ Principal) (apikey.Timeline, error) {
	return loadTimeline(ctx, a.st)
}

// PutTimeline replaces the timeline (operators only). Extensions that are
// new or changed are stamped with the principal and the time; unchanged ones
// keep who granted them and when. An inconsistent timeline is refused with a
// 422 problem listing every inconsistency.
func (a *API) PutTimeline(ctx context.Context, p Principal, t apikey.Timeline) (apikey.Timeline, error) {
	if !p.IsOperator() {
		return apikey.Timeline{}, errForbidden("only operators edit the timeline")
	}
	now := a.clock()
	var out apikey.Timeline
	err := a.st.Tx(ctx, func(tx store.Tx) error {
		old, err := loadTimeline(ctx, tx)
		if err != nil {
			return err
		}
		n := stampExtensions(t.Normalized(), old, p.actor(), now)
		if err := a.checkTimeline(ctx, tx, n); err != nil {
			return err
		}
		raw, err := json.Marshal(n)
		if err != nil {
			return fmt.Errorf("encode timeline: %w", err)
		}
		if err := tx.PutSetting(ctx, apikey.SettingTimeline, raw); err != nil {
			return err
		}
		out = n
		return tx.AppendAudit(ctx, a.audit(p, "", "timeline.update", "setting", apikey.SettingTimeline, timelineDetails(n)))
	})
	if err != nil {
		return apikey.Timeline{}, fmt.Errorf("put timeline: %w", err)
	}
	return out, nil
}

// stampExtensions records who granted each extension. The stamps of the
// request are ignored: only the server says who did what.
func stampExtensions(t, old apikey.Timeline, actor string, now time.Time) apikey.Timeline {
	prev := make(map[string]apikey.Extension, len(old.Extensions))
	for _, x := range old.Extensions {
		prev[x.Tenant] = x
	}
	for i, x := range t.Extensions {
		if o, ok := prev[x.Tenant]; ok && o.KeysOffAt.Equal(x.KeysOffAt) && o.Reason == x.Reason {
			x.GrantedBy, x.GrantedAt = o.GrantedBy, o.GrantedAt
		} else {
			x.GrantedBy, x.GrantedAt = actor, now
		}
		t.Extensions[i] = x
	}
	return t
}

// checkTimeline validates t and checks that the tenants it names exist.
func (a *API) checkTimeline(ctx context.Context, r store.Reader, t apikey.Timeline) error {
	var fes []FieldError
	var ve *apikey.ValidationError
	if err := t.Validate(); errors.As(err, &ve) {
		for _, pr := range ve.Problems {
			fes = append(fes, FieldError{Field: pr.Field, Message: pr.Message})
		}
	} else if err != nil {
		return fmt.Errorf("validate timeline: %w", err)
	}
	known, err := tenantSet(ctx, r)
	if err != nil {
		return err
	}
	unknown := func(field, tenant string) {
		if tenant != "" && !known[tenant] {
			fes = append(fes, FieldError{Field: field, Message: fmt.Sprintf("%s names tenant %q, which does not exist", field, tenant)})
		}
	}
	for i, x := range t.Extensions {
		unknown(fmt.Sprintf("extensions[%d].tenant", i), x.Tenant)
	}
	for i, b := range t.Brownouts {
		for j, name := range b.Tenants {
			unknown(fmt.Sprintf("brownouts[%d].tenants[%d]", i, j), name)
		}
	}
	if len(fes) == 0 {
		return nil
	}
	prob := newProblem(http.StatusUnprocessableEntity, "invalid-timeline", "Inconsistent timeline",
		fmt.Sprintf("the timeline has %d problem(s); nothing was changed", len(fes)))
	prob.Errors = fes
	return prob
}

func tenantSet(ctx context.Context, r store.Reader) (map[string]bool, error) {
	ts, err := r.ListTenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("list tenants: %w", err)
	}
	known := make(map[string]bool, len(ts))
	for _, t := range ts {
		known[t.ID] = true
	}
	return known, nil
}

func timelineDetails(t apikey.Timeline) []byte {
	ext := make([]string, 0, len(t.Extensions))
	for _, x := range t.Extensions {
		ext = append(ext, x.Tenant)
	}
	return details("deprecated_at", t.DeprecatedAt, "tenant_oauth_only_after", t.TenantOAuthOnlyAfter,
		"no_new_keys_at", t.NoNewKeysAt, "keys_off_at", t.KeysOffAt,
		"disable_unused_after_days", t.DisableUnusedAfterDays, "brownouts", len(t.Brownouts), "extensions", ext)
}

func (a *API) handleGetTimeline(w http.ResponseWriter, r *http.Request, p Principal) error {
	t, err := a.GetTimeline(r.Context(), p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, t)
	return nil
}

func (a *API) handlePutTimeline(w http.ResponseWriter, r *http.Request, p Principal) error {
	if !p.IsOperator() {
		return errForbidden("only operators edit the timeline")
	}
	var t apikey.Timeline
	if err := a.decodeJSON(w, r, &t, false); err != nil {
		return err
	}
	out, err := a.PutTimeline(r.Context(), p, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}
