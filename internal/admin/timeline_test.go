package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/store"
)

func TestTimeline_EmptyUntilSet_TenantAdminsRead_OperatorsWrite(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	r := e.call(t, tokAcme, "GET", "/admin/v1/timeline", nil)
	if r.status != http.StatusOK || !strings.Contains(string(r.body), `"keys_off_at":null`) {
		t.Fatalf("GET empty: %d %s", r.status, r.body)
	}
	body := map[string]any{"deprecated_at": "2026-12-01T00:00:00Z", "keys_off_at": "2027-06-01T00:00:00Z"}
	for _, tok := range []string{tokAcme, tokPlatform} {
		if r := e.call(t, tok, "PUT", "/admin/v1/timeline", body); r.status != http.StatusForbidden {
			t.Errorf("PUT as %s: %d %s", tok, r.status, r.body)
		}
	}
	if _, err := e.st.GetSetting(context.Background(), apikey.SettingTimeline); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("timeline stored after refused PUTs: %v", err)
	}
	if r := e.call(t, tokOperator, "PUT", "/admin/v1/timeline", body); r.status != http.StatusOK {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	var got apikey.Timeline
	e.call(t, tokGlobex, "GET", "/admin/v1/timeline", nil).decode(t, &got)
	if got.KeysOffAt == nil || !got.KeysOffAt.Equal(*tp("2027-06-01T00:00:00Z")) {
		t.Errorf("timeline = %+v", got)
	}
	if n := e.auditCount(t, "timeline.update", apikey.SettingTimeline); n != 1 {
		t.Errorf("audit events = %d, want 1", n)
	}
}

func TestTimeline_Conflicting_422ListsEveryProblem_NothingStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	good := apikey.Timeline{DeprecatedAt: tp("2026-12-01T00:00:00Z"), KeysOffAt: tp("2027-06-01T00:00:00Z")}
	e.putTimeline(t, good)
	cases := []struct {
		name   string
		body   string
		fields []string
	}{
		{"sunset before deprecation", `{"deprecated_at":"2027-01-01T00:00:00Z","keys_off_at":"2026-12-01T00:00:00Z"}`, []string{"keys_off_at"}},
		{"brownout after keys off", `{"deprecated_at":"2026-12-01T00:00:00Z","keys_off_at":"2027-01-01T00:00:00Z",
			"brownouts":[{"start":"2027-02-01T00:00:00Z","end":"2027-02-01T03:00:00Z"}]}`, []string{"brownouts[0].start"}},
		{"brownout ends before start", `{"deprecated_at":"2026-12-01T00:00:00Z",
			"brownouts":[{"start":"2027-02-01T03:00:00Z","end":"2027-02-01T00:00:00Z"}]}`, []string{"brownouts[0].end"}},
		{"extension without reason, unknown tenant", `{"deprecated_at":"2026-12-01T00:00:00Z","keys_off_at":"2027-01-01T00:00:00Z",
			"extensions":[{"tenant":"nope","keys_off_at":"2027-03-01T00:00:00Z","reason":""}]}`,
			[]string{"extensions[0].reason", "extensions[0].tenant"}},
		{"extension earlier than global", `{"deprecated_at":"2026-12-01T00:00:00Z","keys_off_at":"2027-01-01T00:00:00Z",
			"extensions":[{"tenant":"acme","keys_off_at":"2026-12-15T00:00:00Z","reason":"batch job"}]}`, []string{"extensions[0].keys_off_at"}},
		{"brownout for unknown tenant", `{"deprecated_at":"2026-12-01T00:00:00Z",
			"brownouts":[{"start":"2027-02-01T00:00:00Z","end":"2027-02-01T03:00:00Z","tenants":["ghost"]}]}`, []string{"brownouts[0].tenants[0]"}},
		{"negative unused days", `{"disable_unused_after_days":-1}`, []string{"disable_unused_after_days"}},
		{"http guide", `{"migration_guide_url":"http://docs.example.com/x"}`, []string{"migration_guide_url"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.call(t, tokOperator, "PUT", "/admin/v1/timeline", tc.body)
			if r.status != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422: %s", r.status, r.body)
			}
			p := r.problem(t)
			for _, f := range tc.fields {
				if !slices.Contains(fieldsOf(p), f) {
					t.Errorf("fields %v, want %q", fieldsOf(p), f)
				}
			}
			for _, fe := range p.Errors {
				if len(fe.Message) < 20 {
					t.Errorf("message %q is not a clear sentence", fe.Message)
				}
			}
		})
	}
	got, err := e.api.GetTimeline(context.Background(), operator)
	if err != nil || !got.KeysOffAt.Equal(*good.KeysOffAt) || !got.DeprecatedAt.Equal(*good.DeprecatedAt) {
		t.Errorf("stored timeline changed: %+v, %v", got, err)
	}
	if r := e.call(t, tokOperator, "PUT", "/admin/v1/timeline", `{"keys_off_at":"soon"}`); r.status != http.StatusBadRequest {
		t.Errorf("malformed time: %d", r.status)
	}
}

func TestTimeline_ExtensionsStampedWithGrantor(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	tl := apikey.Timeline{DeprecatedAt: tp("2026-12-01T00:00:00Z"), KeysOffAt: tp("2027-06-01T00:00:00Z"),
		Extensions: []apikey.Extension{{Tenant: "acme", KeysOffAt: *tp("2027-09-01T00:00:00Z"), Reason: "batch job",
			GrantedBy: "forged", GrantedAt: *tp("2020-01-01T00:00:00Z")}}}
	out, err := e.api.PutTimeline(context.Background(), operator, tl)
	if err != nil {
		t.Fatal(err)
	}
	if x := out.Extensions[0]; x.GrantedBy != operator.ClientID || !x.GrantedAt.Equal(testStart) {
		t.Fatalf("extension = %+v", x)
	}
	// An unchanged extension keeps its stamp; a new one gets the new time.
	e.clock.Add(time.Hour)
	tl.Extensions = append(tl.Extensions, apikey.Extension{Tenant: "globex", KeysOffAt: *tp("2027-08-01T00:00:00Z"), Reason: "audit"})
	out, err = e.api.PutTimeline(context.Background(), operator, tl)
	if err != nil {
		t.Fatal(err)
	}
	if !out.Extensions[0].GrantedAt.Equal(testStart) || !out.Extensions[1].GrantedAt.Equal(testStart.Add(time.Hour)) {
		t.Errorf("extensions = %+v", out.Extensions)
	}
}
