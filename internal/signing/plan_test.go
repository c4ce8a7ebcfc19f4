package signing

import (
	"slices"
	"testing"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

func TestPlanMaintenance(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cfg, _ := Config{RotateEvery: 48 * time.Hour, PrePublish: time.Hour, MaxTokenTTL: 24 * time.Hour}.withDefaults()
	never := cfg
	never.RotateEvery = -1
	active := func(at time.Time) store.SigningKey {
		return store.SigningKey{ID: "A", State: store.KeyActive, ActivateAt: at}
	}
	next := func(at time.Time) store.SigningKey {
		return store.SigningKey{ID: "N", State: store.KeyNext, ActivateAt: at}
	}
	retired := func(id string, until time.Time) store.SigningKey {
		return store.SigningKey{ID: id, State: store.KeyRetired, RetiredAt: until.Add(-24 * time.Hour), PublishUntil: until}
	}
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
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour))}, t0.Add(48 * time.Hour), plan{rotate: true}},
		{"active key due but next key still pre-published: wait", cfg,
			[]store.SigningKey{active(t0), next(t0.Add(49 * time.Hour))}, t0.Add(48 * time.Hour), plan{}},
		{"active key due and no next key: create the next key first", cfg,
			[]store.SigningKey{active(t0)}, t0.Add(48 * time.Hour), plan{createNext: true}},
		{"rotation disabled: never rotate", never,
			[]store.SigningKey{active(t0), next(t0.Add(time.Hour))}, t0.Add(1000 * time.Hour), plan{}},
		{"no active key and a ready next key: promote it", cfg,
			[]store.SigningKey{next(t0)}, t0, plan{rotate: true}},
		{"no active key and a pre-published next key: wait", cfg,
			[]store.SigningKey{next(t0.Add(time.Minute))}, t0, plan{}},
		{"no keys at all: rotate to a fresh key", cfg, nil, t0, plan{rotate: true}},
		{"retired key one second before its PublishUntil: keep", cfg,
			[]store.SigningKey{active(t0), next(t0), retired("R", t0.Add(time.Hour))}, t0.Add(time.Hour - time.Second), plan{}},
		{"retired key at its PublishUntil: delete", cfg,
			[]store.SigningKey{active(t0), next(t0), retired("R", t0.Add(time.Hour)), retired("S", t0.Add(2*time.Hour))},
			t0.Add(time.Hour), plan{remove: []string{"R"}}},
		{"retired key without PublishUntil: delete after MaxTokenTTL", cfg,
			[]store.SigningKey{active(t0), next(t0), {ID: "R", State: store.KeyRetired, RetiredAt: t0}},
			t0.Add(24 * time.Hour), plan{remove: []string{"R"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := planMaintenance(tt.rows, tt.now, tt.cfg)
			if got.rotate != tt.want.rotate || got.createNext != tt.want.createNext || !slices.Equal(got.remove, tt.want.remove) {
				t.Fatalf("plan = %+v, want %+v", got, tt.want)
			}
		})
	}
}
