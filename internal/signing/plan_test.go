package signing

import (
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestPlanMaintenance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg, _ := Config{RotateEvery: 48 * time.Hour, PrePublish: time.Hour, MaxTokenTTL: 24 * time.Hour, ExtraAlgs: []string{}}.withDefaults()
	never := cfg
	never.RotateEvery = -1
	withRS, _ := Config{RotateEvery: 48 * time.Hour, PrePublish: time.Hour, MaxTokenTTL: 24 * time.Hour}.withDefaults()
	active := func(at time.Time) store.SigningKey {
		return store.SigningKey{ID: "A", Alg: AlgES256, State: store.KeyActive, ActivateAt: at}
	}
	next := func(at time.Time) store.SigningKey {
		return store.SigningKey{ID: "N", Alg: AlgES256, State: store.KeyNext, ActivateAt: at}
	}
	retired := func(id string, until time.Time) store.SigningKey {
		return store.SigningKey{ID: id, Alg: AlgES256, State: store.KeyRetired, RetiredAt: until.Add(-24 * time.Hour), PublishUntil: until}
	}
	rs := func(id, state string, at time.Time) store.SigningKey {
		return store.SigningKey{ID: id, Alg: AlgRS256, State: state, ActivateAt: at}
	}
	es := []string{AlgES256}
	tests := []struct {
		name string
		cfg  Config
		rows []store.SigningKey
		now  time.Time
		want plan
	}{
		{"young active key and a next key: nothing to do", cfg,
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour))}, t0.Add(47 * time.Hour), plan{}},
		{"active key due and next key ready: rotate", cfg,
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour))}, t0.Add(48 * time.Hour), plan{rotate: es}},
		{"active key due but next key still pre-published: wait", cfg,
			[]store.SigningKey{active(t0), next(t0.Add(49 * time.Hour))}, t0.Add(48 * time.Hour), plan{}},
		{"active key due and no next key: create the next key first", cfg,
			[]store.SigningKey{active(t0)}, t0.Add(48 * time.Hour), plan{createNext: es}},
		{"rotation disabled: never rotate", never,
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour))}, t0.Add(1000 * time.Hour), plan{}},
		{"no active key and a ready next key: promote it", cfg,
			[]store.SigningKey{next(t0)}, t0, plan{rotate: es}},
		{"no active key and a pre-published next key: wait", cfg,
			[]store.SigningKey{next(t0.Add(time.Minute))}, t0, plan{}},
		{"no keys at all: rotate to a fresh key", cfg, nil, t0, plan{rotate: es}},
		{"retired key one second before its PublishUntil: keep", cfg,
			[]store.SigningKey{active(t0), next(t0), retired("R", t0.Add(time.Hour))}, t0.Add(time.Hour - time.Second), plan{}},
		{"retired key at its PublishUntil: delete", cfg,
			[]store.SigningKey{active(t0), next(t0), retired("R", t0.Add(time.Hour)), retired("S", t0.Add(2*time.Hour))},
			t0.Add(time.Hour), plan{remove: []string{"R"}}},
		{"retired key without PublishUntil: delete after MaxTokenTTL", cfg,
			[]store.SigningKey{active(t0), next(t0), {ID: "R", Alg: AlgES256, State: store.KeyRetired, RetiredAt: t0}},
			t0.Add(24 * time.Hour), plan{remove: []string{"R"}}},

		// Several algorithms: each on its own schedule.
		{"both algorithms young: nothing to do", withRS,
			[]store.SigningKey{active(t0), next(t0), rs("RA", store.KeyActive, t0), rs("RN", store.KeyNext, t0)}, t0.Add(time.Hour), plan{}},
		{"ES256 store without RS256 keys: rotate RS256 to a fresh key, leave ES256", withRS,
			[]store.SigningKey{active(t0), next(t0)}, t0.Add(time.Hour), plan{rotate: []string{AlgRS256}}},
		{"RS256 active key without a next key: create it, leave ES256", withRS,
			[]store.SigningKey{active(t0), next(t0), rs("RA", store.KeyActive, t0)}, t0.Add(time.Hour), plan{createNext: []string{AlgRS256}}},
		{"only ES256 due: rotate ES256 alone", withRS,
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour)), rs("RA", store.KeyActive, t0.Add(24*time.Hour)), rs("RN", store.KeyNext, t0.Add(25*time.Hour))},
			t0.Add(48 * time.Hour), plan{rotate: es}},
		{"only RS256 due: rotate RS256 alone", withRS,
			[]store.SigningKey{active(t0.Add(24 * time.Hour)), next(t0.Add(25 * time.Hour)), rs("RA", store.KeyActive, t0), rs("RN", store.KeyNext, t0.Add(time.Hour))},
			t0.Add(48 * time.Hour), plan{rotate: []string{AlgRS256}}},
		{"both due: rotate both, primary first", withRS,
			[]store.SigningKey{rs("RA", store.KeyActive, t0), rs("RN", store.KeyNext, t0), active(t0), next(t0)},
			t0.Add(48 * time.Hour), plan{rotate: []string{AlgES256, AlgRS256}}},
		{"retired RS256 key past PublishUntil: delete", withRS,
			[]store.SigningKey{active(t0), next(t0), rs("RA", store.KeyActive, t0), rs("RN", store.KeyNext, t0),
				{ID: "RR", Alg: AlgRS256, State: store.KeyRetired, PublishUntil: t0.Add(time.Hour)}},
			t0.Add(time.Hour), plan{remove: []string{"RR"}}},
		{"RS256 no longer kept: retire its active and next keys, delete its old retired one", cfg,
			[]store.SigningKey{active(t0), next(t0), rs("RA", store.KeyActive, t0), rs("RN", store.KeyNext, t0),
				{ID: "RR", Alg: AlgRS256, State: store.KeyRetired, PublishUntil: t0.Add(time.Hour)}},
			t0.Add(time.Hour), plan{retire: []string{"RA", "RN"}, remove: []string{"RR"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planMaintenance(tt.rows, tt.now, tt.cfg)
			if !slices.Equal(got.rotate, tt.want.rotate) || !slices.Equal(got.createNext, tt.want.createNext) ||
				!slices.Equal(got.remove, tt.want.remove) || !slices.Equal(got.retire, tt.want.retire) {
				t.Fatalf("plan = %+v, want %+v", got, tt.want)
			}
			if got.empty() != (len(tt.want.rotate)+len(tt.want.createNext)+len(tt.want.remove)+len(tt.want.retire) == 0) {
				t.Fatalf("empty() = %v for %+v", got.empty(), got)
			}
		})
	}
}
