package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Bars keep the caller's order, start at the axis and end at their value
// on the round value scale; labels are shown, long ones shortened.
func TestBars_LengthsLabelsAndOrder(t *testing.T) {
	long := "Acme Procurement GmbH & Co. KG, Division of Very Long Names"
	tests := []struct {
		name  string
		bars  []Bar
		texts []string
	}{
		{"round max reaches the last tick", []Bar{{"acme", 2000}, {"globex", 500}, {"initech", 0}}, []string{"acme", "2k", "500", "0", "2k"}},
		{"huge numbers", []Bar{{"acme", 1_234_567}, {"globex", 250_000}}, []string{"1.2M", "250k", "1.5M"}},
		{"all zero", []Bar{{"acme", 0}, {"globex", -3}}, []string{"0", "1"}},
		{"long and empty labels", []Bar{{long, 10}, {"", 5}}, []string{"(unnamed)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := parseSVG(t, Bars(BarOptions{ID: "impact", Title: "Daily requests that would fail", ValueAxis: "requests/day that would fail", LabelAxis: "Tenant", Bars: tt.bars}))
			axis := root.byClass("axis")[0]
			left := axis.f(t, "x1")
			var tickX []float64
			var ticks []int64
			for _, tx := range root.all("text") {
				if tx.attrs["text-anchor"] == "middle" && tx.fullText() != "requests/day that would fail" {
					ticks = append(ticks, parseTick(t, tx.fullText()))
					tickX = append(tickX, tx.f(t, "x"))
				}
			}
			top, right := ticks[len(ticks)-1], tickX[len(tickX)-1]
			if !isRound(ticks[1]) || ticks[0] != 0 || !near(tickX[0], left) {
				t.Errorf("value ticks %v at %v: want round, from 0 at the axis %v", ticks, tickX, left)
			}
			rects := root.byClass("series-1")[0].all("rect")
			if len(rects) != len(tt.bars) {
				t.Fatalf("%d bars, want %d", len(rects), len(tt.bars))
			}
			prevY := -1.0
			for i, r := range rects {
				v := max(tt.bars[i].Value, 0)
				want := (right - left) * float64(v) / float64(top)
				if !near(r.f(t, "x"), left) || !near(r.f(t, "width"), want) {
					t.Errorf("bar %d x=%v width=%v, want x=%v width=%v", i, r.attrs["x"], r.attrs["width"], left, want)
				}
				if y := r.f(t, "y"); y <= prevY {
					t.Errorf("bar %d is not below bar %d", i, i-1)
				} else {
					prevY = y
				}
				if label := barLabel(tt.bars[i].Label); !strings.HasPrefix(r.title(), label+": ") {
					t.Errorf("bar %d tooltip %q, want the full label %q", i, r.title(), label)
				}
			}
			texts := root.texts()
			for _, w := range append(tt.texts, "Tenant", "requests/day that would fail") {
				if !slices.Contains(texts, w) {
					t.Errorf("text %q missing: %q", w, texts)
				}
			}
			for _, s := range texts {
				if textWidth(s, labelSize) > viewWidth {
					t.Errorf("text %q is wider than the chart", s)
				}
			}
		})
	}
}

// More bars than fit are left out, and the chart says how many.
func TestBars_TooMany(t *testing.T) {
	var bars []Bar
	for i := range maxBars + 7 {
		bars = append(bars, Bar{Label: fmt.Sprintf("tenant-%d", i), Value: int64(100 - i)})
	}
	root := parseSVG(t, Bars(BarOptions{ID: "b", Title: "Impact", Bars: bars}))
	if n := len(root.byClass("series-1")[0].all("rect")); n != maxBars {
		t.Errorf("%d bars drawn, want %d", n, maxBars)
	}
	if !slices.Contains(root.texts(), "7 more not shown") {
		t.Errorf("no note about the 7 bars left out")
	}
}

// A sparkline maps its highest value to the top and zero to the bottom,
// at its natural size, labelled for assistive technology.
func TestSparkline(t *testing.T) {
	tests := []struct {
		name   string
		values []int64
		wantY  []float64
	}{
		{"max at top, zero at bottom", []int64{0, 5, 10, 5}, []float64{22, 12, 2, 12}},
		{"all zero on the bottom", []int64{0, 0, 0}, []float64{22, 22, 22}},
		{"negative drawn as zero", []int64{-4, 8}, []float64{22, 2}},
		{"huge", []int64{1e15, 5e14}, []float64{2, 12}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := parseSVG(t, Sparkline(tt.values, hostile))
			if root.attrs["role"] != "img" || root.attrs["aria-label"] != hostile || root.title() != hostile {
				t.Errorf("root role=%q aria-label=%q title=%q", root.attrs["role"], root.attrs["aria-label"], root.title())
			}
			if root.attrs["width"] != "120" || root.attrs["height"] != "24" || root.attrs["viewBox"] != "0 0 120 24" {
				t.Errorf("size %sx%s viewBox %q, want 120x24", root.attrs["width"], root.attrs["height"], root.attrs["viewBox"])
			}
			if len(root.byClass("axis")) != 0 || len(root.all("text")) != 0 {
				t.Error("a sparkline has no axes or text")
			}
			pl := root.byClass("series-1")[0].all("polyline")[0]
			var got []float64
			for _, p := range strings.Fields(pl.attrs["points"]) {
				var x, y float64
				if _, err := fmt.Sscanf(p, "%g,%g", &x, &y); err != nil {
					t.Fatalf("point %q: %v", p, err)
				}
				got = append(got, y)
			}
			if !slices.Equal(got, tt.wantY) {
				t.Errorf("y = %v, want %v", got, tt.wantY)
			}
		})
	}
}
