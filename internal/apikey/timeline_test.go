package apikey

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidate_ReferenceTimelineIsValid(t *testing.T) {
	if err := referenceTimeline().Validate(); err != nil {
		t.Fatal(err)
	}
	if err := (Timeline{}).Validate(); err != nil {
		t.Fatalf("empty timeline: %v", err)
	}
}

func TestValidate_Problems(t *testing.T) {
	tests := []struct {
		name   string
		edit   func(*Timeline)
		fields []string // every problem expected, by field
		text   string   // part of the message of the first problem
	}{
		{"sunset before deprecation", func(tl *Timeline) {
			tl.DeprecatedAt, tl.NoNewKeysAt, tl.KeysOffAt = ptr(at("2026-03-01T00:00:00Z")), nil, ptr(at("2026-01-01T00:00:00Z"))
			tl.Brownouts, tl.Extensions = nil, nil
		}, []string{"keys_off_at"},
			"keys_off_at (2026-01-01) is before deprecated_at (2026-03-01): a sunset must not be earlier than the deprecation (RFC 8594)"},
		{"no_new_keys before deprecation", func(tl *Timeline) { tl.NoNewKeysAt = ptr(tDeprecated.Add(-time.Second)) },
			[]string{"no_new_keys_at"}, "before deprecated_at"},
		{"keys off before no new keys", func(tl *Timeline) { tl.NoNewKeysAt = ptr(tKeysOff.Add(time.Hour)) },
			[]string{"keys_off_at"}, "keys must stop being created before"},
		{"milestones may be equal", func(tl *Timeline) { tl.NoNewKeysAt = ptr(tDeprecated) }, nil, ""},
		{"tenant_oauth_only_after is unordered", func(tl *Timeline) { tl.TenantOAuthOnlyAfter = ptr(tExtended.AddDate(1, 0, 0)) }, nil, ""},
		{"zero milestone", func(tl *Timeline) { tl.TenantOAuthOnlyAfter = &time.Time{} },
			[]string{"tenant_oauth_only_after"}, "zero time"},
		{"negative disable days", func(tl *Timeline) { tl.DisableUnusedAfterDays = -1 },
			[]string{"disable_unused_after_days"}, "between 0"},
		{"too many disable days", func(tl *Timeline) { tl.DisableUnusedAfterDays = 3651 },
			[]string{"disable_unused_after_days"}, "3650"},
		{"guide over http", func(tl *Timeline) { tl.MigrationGuideURL = "http://docs.example.com/" },
			[]string{"migration_guide_url"}, "https"},
		{"guide on localhost over http is fine", func(tl *Timeline) { tl.MigrationGuideURL = "http://localhost:8080/guide" }, nil, ""},
		{"guide on 127.0.0.1 over http is fine", func(tl *Timeline) { tl.MigrationGuideURL = "http://127.0.0.1/guide" }, nil, ""},
		{"guide relative", func(tl *Timeline) { tl.MigrationGuideURL = "/guide" }, []string{"migration_guide_url"}, "absolute"},
		{"guide with credentials", func(tl *Timeline) { tl.MigrationGuideURL = "https://u:p@docs.example.com/" },
			[]string{"migration_guide_url"}, "credentials"},
		{"brownout end before start", func(tl *Timeline) { tl.Brownouts[0].End = tl.Brownouts[0].Start.Add(-time.Hour) },
			[]string{"brownouts[0].end"}, "must be after start"},
		{"brownout of zero length", func(tl *Timeline) { tl.Brownouts[0].End = tl.Brownouts[0].Start },
			[]string{"brownouts[0].end"}, "must be after start"},
		{"brownout without end", func(tl *Timeline) { tl.Brownouts[0].End = time.Time{} },
			[]string{"brownouts[0]"}, "needs both"},
		{"brownout of exactly 7 days is fine", func(tl *Timeline) {
			tl.Brownouts[0].End = tl.Brownouts[0].Start.Add(MaxBrownout)
			tl.Brownouts = tl.Brownouts[:1]
		}, nil, ""},
		{"brownout longer than 7 days", func(tl *Timeline) {
			tl.Brownouts[0].End = tl.Brownouts[0].Start.Add(MaxBrownout + time.Second)
			tl.Brownouts = tl.Brownouts[:1]
		}, []string{"brownouts[0]"}, "longer than 7 days"},
		{"brownout before deprecation", func(tl *Timeline) {
			tl.Brownouts[0] = Brownout{Start: tDeprecated.Add(-time.Hour), End: tDeprecated.Add(time.Hour)}
		}, []string{"brownouts[0].start"}, "before deprecated_at"},
		{"brownout starting exactly at deprecation is fine", func(tl *Timeline) {
			tl.Brownouts[0] = Brownout{Start: tDeprecated, End: tDeprecated.Add(time.Hour)}
		}, nil, ""},
		{"brownout without any deprecation", func(tl *Timeline) { tl.DeprecatedAt = nil; tl.Brownouts = tl.Brownouts[:1] },
			[]string{"brownouts[0]"}, "needs deprecated_at"},
		{"global brownout at keys_off_at", func(tl *Timeline) {
			tl.Brownouts[0] = Brownout{Start: tKeysOff, End: tKeysOff.Add(time.Hour)}
		}, []string{"brownouts[0].start"}, "keys are already off"},
		{"global brownout ending after keys_off_at is fine", func(tl *Timeline) {
			tl.Brownouts[0] = Brownout{Start: tKeysOff.Add(-time.Hour), End: tKeysOff.Add(time.Hour)}
		}, nil, ""},
		{"tenant brownout after its extension", func(tl *Timeline) { tl.Brownouts[2].Start, tl.Brownouts[2].End = tExtended, tExtended.Add(time.Hour) },
			[]string{"brownouts[2].start"}, `tenant "late"`},
		{"tenant brownout after the global sunset for a tenant without extension", func(tl *Timeline) { tl.Brownouts[2].Tenants = []string{"acme"} },
			[]string{"brownouts[2].start"}, `tenant "acme"`},
		{"brownout with an empty tenant", func(tl *Timeline) { tl.Brownouts[1].Tenants = []string{""} },
			[]string{"brownouts[1].tenants[0]"}, "is empty"},
		{"brownout naming a tenant twice", func(tl *Timeline) { tl.Brownouts[1].Tenants = []string{"beta", "beta"} },
			[]string{"brownouts[1].tenants[1]"}, "twice"},
		{"overlapping global brownouts", func(tl *Timeline) {
			tl.Brownouts = append(tl.Brownouts, Brownout{Start: tGlobalBrownEnd.Add(-time.Second), End: tGlobalBrownEnd.Add(time.Hour)})
		}, []string{"brownouts[3]"}, "overlaps brownouts[0]"},
		{"back-to-back brownouts do not overlap", func(tl *Timeline) {
			tl.Brownouts = append(tl.Brownouts, Brownout{Start: tGlobalBrownEnd, End: tGlobalBrownEnd.Add(time.Hour)})
		}, nil, ""},
		{"overlap of a global and a tenant brownout", func(tl *Timeline) {
			tl.Brownouts = append(tl.Brownouts, Brownout{Start: tBetaBrownStart, End: tBetaBrownEnd.Add(time.Hour)})
		}, []string{"brownouts[3]"}, "overlaps brownouts[1]"},
		{"overlapping brownouts for different tenants are fine", func(tl *Timeline) {
			tl.Brownouts = append(tl.Brownouts, Brownout{Start: tBetaBrownStart, End: tBetaBrownEnd, Tenants: []string{"acme"}})
		}, nil, ""},
		{"extension not after keys_off_at", func(tl *Timeline) { tl.Extensions[0].KeysOffAt = tKeysOff; tl.Brownouts = tl.Brownouts[:2] },
			[]string{"extensions[0].keys_off_at"}, "must be after the global keys_off_at"},
		{"extension without keys_off_at", func(tl *Timeline) { tl.KeysOffAt = nil },
			[]string{"extensions[0].keys_off_at"}, "extends nothing"},
		{"extension without reason", func(tl *Timeline) { tl.Extensions[0].Reason = "  " },
			[]string{"extensions[0].reason"}, "is required"},
		{"extension without tenant", func(tl *Timeline) { tl.Extensions[0].Tenant = ""; tl.Brownouts = tl.Brownouts[:2] },
			[]string{"extensions[0].tenant"}, "is required"},
		{"two extensions for one tenant", func(tl *Timeline) {
			tl.Extensions = append(tl.Extensions, Extension{Tenant: "late", KeysOffAt: tExtended.AddDate(0, 1, 0), Reason: "more"})
		}, []string{"extensions[1].tenant"}, "one per tenant"},
		{"several problems reported together", func(tl *Timeline) {
			tl.DisableUnusedAfterDays = -5
			tl.MigrationGuideURL = "ftp://x"
			tl.Extensions[0].Reason = ""
		}, []string{"disable_unused_after_days", "migration_guide_url", "extensions[0].reason"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := referenceTimeline()
			tt.edit(&tl)
			err := tl.Validate()
			if len(tt.fields) == 0 {
				if err != nil {
					t.Fatalf("want valid, got %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("want *ValidationError, got %v", err)
			}
			var got []string
			for _, p := range ve.Problems {
				got = append(got, p.Field)
				if !strings.HasPrefix(p.Message, p.Field) {
					t.Errorf("message %q does not start with its field %q", p.Message, p.Field)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.fields, ",") {
				t.Errorf("problems at %v, want %v\n%v", got, tt.fields, err)
			}
			if !strings.Contains(ve.Problems[0].Message, tt.text) {
				t.Errorf("message %q does not contain %q", ve.Problems[0].Message, tt.text)
			}
			if !strings.Contains(err.Error(), ve.Problems[0].Message) {
				t.Errorf("Error() %q omits %q", err.Error(), ve.Problems[0].Message)
			}
		})
	}
}

func TestEffectiveKeysOff(t *testing.T) {
	tl := referenceTimeline()
	if off, ok := tl.EffectiveKeysOff("acme"); !ok || !off.Equal(tKeysOff) {
		t.Errorf("acme: %v %v", off, ok)
	}
	if off, ok := tl.EffectiveKeysOff("late"); !ok || !off.Equal(tExtended) {
		t.Errorf("late: %v %v", off, ok)
	}
	if _, ok := (Timeline{}).EffectiveKeysOff("acme"); ok {
		t.Error("empty timeline has a keys_off_at")
	}
}

const designTimelineJSON = `{"deprecated_at": "2026-03-01T00:00:00Z", "tenant_oauth_only_after": "2026-01-15T00:00:00Z",
 "no_new_keys_at": "2026-05-01T00:00:00Z", "keys_off_at": "2026-07-01T00:00:00Z",
 "migration_guide_url": "https://docs.example.com/oauth-migration", "disable_unused_after_days": 90,
 "brownouts":  [{"start": "2026-05-12T14:00:00Z", "end": "2026-05-12T17:00:00Z", "tenants": []},
                {"start": "2026-06-10T00:00:00Z", "end": "2026-06-11T00:00:00Z", "tenants": ["beta"]}],
 "extensions": [{"tenant": "late", "keys_off_at": "2026-09-01T00:00:00Z", "reason": "quarterly job",
                 "granted_by": "operator@example.com", "granted_at": "2026-06-01T09:00:00Z"}]}`

func TestTimeline_JSONShapeOfDesign(t *testing.T) {
	var tl Timeline
	if err := json.Unmarshal([]byte(designTimelineJSON), &tl); err != nil {
		t.Fatal(err)
	}
	if err := tl.Validate(); err != nil {
		t.Fatal(err)
	}
	if !tl.KeysOffAt.Equal(tKeysOff) || tl.DisableUnusedAfterDays != 90 || len(tl.Brownouts) != 2 ||
		tl.Extensions[0].GrantedBy != "operator@example.com" {
		t.Errorf("decoded %+v", tl)
	}
	var nulls Timeline
	if err := json.Unmarshal([]byte(`{"deprecated_at": null, "keys_off_at": null}`), &nulls); err != nil || nulls.KeysOffAt != nil {
		t.Errorf("null milestones: %+v %v", nulls, err)
	}
	out, err := json.Marshal(Timeline{})
	if err != nil {
		t.Fatal(err)
	}
	for _, field := range []string{`"deprecated_at":null`, `"tenant_oauth_only_after":null`, `"no_new_keys_at":null`, `"keys_off_at":null`} {
		if !strings.Contains(string(out), field) {
			t.Errorf("%s missing from %s", field, out)
		}
	}
}

// FuzzTimeline decodes arbitrary JSON as a timeline: Validate must not panic,
// and a timeline it accepts must keep the invariants Decide relies on.
func FuzzTimeline(f *testing.F) {
	f.Add([]byte(designTimelineJSON))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"keys_off_at":"2026-01-01T00:00:00Z","deprecated_at":"2026-03-01T00:00:00Z"}`))
	f.Add([]byte(`{"brownouts":[{"start":"2026-01-01T00:00:00Z","end":"2025-01-01T00:00:00Z","tenants":["a","a",""]}]}`))
	f.Add([]byte(`{"extensions":[{"tenant":"a","keys_off_at":"0001-01-01T00:00:00Z"}],"migration_guide_url":"http://[::1]/"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tl Timeline
		if json.Unmarshal(data, &tl) != nil {
			return
		}
		if tl.Validate() != nil {
			return
		}
		dep, off := tl.DeprecatedAt, tl.KeysOffAt
		if dep != nil && off != nil && off.Before(*dep) {
			t.Fatalf("valid timeline with sunset %s before deprecation %s", off, dep)
		}
		for _, b := range tl.Brownouts {
			if !b.Start.Before(b.End) || b.End.Sub(b.Start) > MaxBrownout {
				t.Fatalf("valid timeline with bad brownout %+v", b)
			}
			d := Decide(tl, TenantInfo{ID: "fuzz"}, Key{Owner: OwnerTenant, Status: StatusActive}, b.Start)
			if d.Accepted && len(b.Tenants) == 0 && tl.extension("fuzz") == nil {
				t.Fatalf("accepted inside a global brownout: %+v", d)
			}
		}
		for _, x := range tl.Extensions {
			d := Decide(tl, TenantInfo{ID: x.Tenant}, Key{Owner: OwnerTenant, Status: StatusActive}, x.KeysOffAt)
			if d.Code != CodeSunset {
				t.Fatalf("extension end not a sunset: %+v", d)
			}
		}
		// What validated must still validate after a round trip.
		out, err := json.Marshal(tl)
		if err != nil {
			t.Fatal(err)
		}
		var again Timeline
		if err := json.Unmarshal(out, &again); err != nil {
			t.Fatal(err)
		}
		if err := again.Validate(); err != nil {
			t.Fatalf("round trip invalidated the timeline: %v\n%s", err, out)
		}
	})
}

func TestNormalized(t *testing.T) {
	tl := referenceTimeline()
	tl.Brownouts[0], tl.Brownouts[2] = tl.Brownouts[2], tl.Brownouts[0]
	tl.Brownouts[0].Tenants = []string{"late"}
	tl.Extensions = append(tl.Extensions, Extension{Tenant: "beta", KeysOffAt: tExtended, Reason: "r"})
	local := tDeprecated.In(time.FixedZone("X", 3600))
	tl.DeprecatedAt = &local
	n := tl.Normalized()
	if n.DeprecatedAt.Location() != time.UTC || !n.DeprecatedAt.Equal(tDeprecated) {
		t.Errorf("deprecated_at %v", n.DeprecatedAt)
	}
	if n.DeprecatedAt == tl.DeprecatedAt {
		t.Error("Normalized shares a milestone with its source")
	}
	for i := 1; i < len(n.Brownouts); i++ {
		if n.Brownouts[i].Start.Before(n.Brownouts[i-1].Start) {
			t.Errorf("brownouts not sorted: %+v", n.Brownouts)
		}
	}
	if n.Brownouts[0].Tenants == nil || n.Extensions[0].Tenant != "beta" {
		t.Errorf("normalized %+v", n)
	}
	if err := n.Validate(); err != nil {
		t.Error(err)
	}
	out, _ := json.Marshal(Timeline{}.Normalized())
	if !strings.Contains(string(out), `"brownouts":[]`) || !strings.Contains(string(out), `"extensions":[]`) {
		t.Errorf("empty lists shown as %s", out)
	}
}
