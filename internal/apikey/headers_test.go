package apikey

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

const guide = "https://docs.example.com/oauth-migration"

func TestHeaders(t *testing.T) {
	tl := referenceTimeline()
	tests := []struct {
		name        string
		d           Decision
		guide       string
		deprecation string
		sunset      string
		link        string
	}{
		{"accepted tenant key: all signals", Decide(tl, acme, tenantKey("acme"), tDeprecated), guide,
			"@1772323200", "Wed, 01 Jul 2026 00:00:00 GMT",
			`<` + guide + `>; rel="deprecation"; type="text/html", <` + guide + `>; rel="sunset"; type="text/html"`},
		{"refusal carries the signals too", Decide(tl, acme, tenantKey("acme"), tKeysOff), guide,
			"@1772323200", "Wed, 01 Jul 2026 00:00:00 GMT",
			`<` + guide + `>; rel="deprecation"; type="text/html", <` + guide + `>; rel="sunset"; type="text/html"`},
		{"extended tenant: its own sunset", Decide(tl, late, tenantKey("late"), tKeysOff), guide,
			"@1772323200", "Tue, 01 Sep 2026 00:00:00 GMT",
			`<` + guide + `>; rel="deprecation"; type="text/html", <` + guide + `>; rel="sunset"; type="text/html"`},
		{"no guide: no Link", Decide(tl, acme, tenantKey("acme"), tDeprecated), "",
			"@1772323200", "Wed, 01 Jul 2026 00:00:00 GMT", ""},
		{"platform key: nothing", Decide(tl, acme, platformKey("acme"), tDeprecated), guide, "", "", ""},
		{"sunset only", Decision{Code: CodeAccepted, Accepted: true, Sunset: ptr(tKeysOff)}, guide,
			"", "Wed, 01 Jul 2026 00:00:00 GMT", `<` + guide + `>; rel="sunset"; type="text/html"`},
		{"sunset earlier than deprecation is moved up to it", Decision{Deprecation: ptr(tKeysOff), Sunset: ptr(tDeprecated)}, "",
			"@1782864000", "Wed, 01 Jul 2026 00:00:00 GMT", ""},
		{"non-UTC times are sent in GMT", Decision{Sunset: ptr(tKeysOff.In(time.FixedZone("X", 3600)))}, "",
			"", "Wed, 01 Jul 2026 00:00:00 GMT", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := Headers(tt.d, tt.guide)
			for name, want := range map[string]string{HeaderDeprecation: tt.deprecation, HeaderSunset: tt.sunset, HeaderLink: tt.link} {
				if got := h.Get(name); got != want {
					t.Errorf("%s = %q, want %q", name, got, want)
				}
			}
			if tt.sunset != "" {
				if _, err := http.ParseTime(h.Get(HeaderSunset)); err != nil {
					t.Errorf("Sunset is not an HTTP-date: %v", err)
				}
			}
		})
	}
}

func TestRefusalBody(t *testing.T) {
	tl := referenceTimeline()
	tests := []struct {
		name     string
		d        Decision
		guide    string
		wantJSON map[string]string
		descHas  []string
	}{
		{"sunset", Decide(tl, acme, tenantKey("acme"), tKeysOff), guide,
			map[string]string{"error": CodeSunset, "sunset": "2026-07-01T00:00:00Z", "migration_guide_url": guide},
			[]string{"OAuth 2.0 client", "2026-07-01T00:00:00Z"}},
		{"brownout says when it ends and when keys go for good", Decide(tl, acme, tenantKey("acme"), tGlobalBrownStart), guide,
			map[string]string{"error": CodeBrownout, "sunset": "2026-07-01T00:00:00Z", "migration_guide_url": guide},
			[]string{"brownout ends at 2026-05-12T17:00:00Z", "for good at 2026-07-01T00:00:00Z"}},
		{"disabled platform key: no sunset, no guide", Decision{Code: CodeDisabled, Reason: reasonDisabled}, "",
			map[string]string{"error": CodeDisabled}, []string{"disabled"}},
		{"unknown key", Unknown(), guide,
			map[string]string{"error": CodeUnknown, "migration_guide_url": guide}, []string{"not known"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got map[string]string
			if err := json.Unmarshal(RefusalBody(tt.d, tt.guide), &got); err != nil {
				t.Fatal(err)
			}
			desc := got["error_description"]
			delete(got, "error_description")
			if len(got) != len(tt.wantJSON) {
				t.Errorf("body %v, want %v", got, tt.wantJSON)
			}
			for k, v := range tt.wantJSON {
				if got[k] != v {
					t.Errorf("%s = %q, want %q", k, got[k], v)
				}
			}
			for _, s := range tt.descHas {
				if !strings.Contains(desc, s) {
					t.Errorf("error_description %q lacks %q", desc, s)
				}
			}
		})
	}
	if b := RefusalBody(Decide(tl, acme, tenantKey("acme"), tDeprecated), guide); b != nil {
		t.Errorf("accepted decision has a refusal body %s", b)
	}
}

func BenchmarkSetHeaders(b *testing.B) {
	d := Decide(referenceTimeline(), acme, tenantKey("acme"), tDeprecated)
	h := make(http.Header, 4)
	b.ReportAllocs()
	for b.Loop() {
		clear(h)
		SetHeaders(h, d, guide)
	}
}
