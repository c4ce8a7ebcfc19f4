package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// dailyFrame is what a test reads back from a rendered daily chart.
type dailyFrame struct {
	root          *node
	top, bottom   float64 // y of the highest grid line and of the x axis
	axisTop       float64 // y where the value axis starts
	left, right   float64
	ticks         []int64 // value tick labels, bottom to top
	lines         [][]pt  // per series, the line's points
	dots          []pt    // single-day markers
	legend, texts []string
}

func readDaily(t *testing.T, out string) dailyFrame {
	t.Helper()
	f := dailyFrame{root: parseSVG(t, out)}
	f.top = 1e9
	for _, l := range f.root.byClass("grid") {
		if y := l.f(t, "y1"); y == l.f(t, "y2") {
			f.top = min(f.top, y)
		}
	}
	axes := f.root.byClass("axis")[0].all("line")
	for _, l := range axes {
		if l.f(t, "y1") == l.f(t, "y2") {
			f.bottom, f.left, f.right = l.f(t, "y1"), l.f(t, "x1"), l.f(t, "x2")
		} else {
			f.axisTop = min(l.f(t, "y1"), l.f(t, "y2"))
		}
	}
	if f.top == 1e9 { // all-zero data with a single grid line above 0
		f.top = f.bottom
	}
	for _, tx := range f.root.all("text") {
		if tx.attrs["text-anchor"] == "end" {
			f.ticks = append(f.ticks, parseTick(t, tx.fullText()))
		}
	}
	for k := 1; k <= maxSeries; k++ {
		for _, g := range f.root.byClass(fmt.Sprintf("series-%d", k)) {
			for _, p := range g.all("path") {
				if p.attrs["fill"] == "none" && len(p.all("title")) == 0 && !strings.Contains(p.attrs["d"], "Z") {
					f.lines = append(f.lines, pathPoints(t, p.attrs["d"]))
				}
			}
			for _, c := range g.all("circle") {
				f.dots = append(f.dots, pt{c.f(t, "cx"), c.f(t, "cy")})
			}
			if len(g.all("line")) > 0 {
				f.legend = append(f.legend, fmt.Sprintf("series-%d", k))
			}
		}
	}
	f.texts = f.root.texts()
	return f
}

func minY(ps []pt) float64 {
	m := ps[0].y
	for _, p := range ps {
		m = min(m, p.y)
	}
	return m
}

// The highest value is drawn at its tick's height and zero on the x axis;
// values in between in proportion.
func TestDaily_ValuesMapToPlotHeight(t *testing.T) {
	d0 := date(2026, 1, 1)
	tests := []struct {
		name   string
		values []int64
	}{
		{"round max reaches the top", []int64{0, 250, 1000, 500}},
		{"odd max below the top tick", []int64{0, 7, 3}},
		{"huge numbers", []int64{1_234_567, 0, 600_000}},
		{"max on the last day", []int64{0, 0, 0, 20}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", YAxis: "requests/day",
				Series: []Series{{Name: "API key requests", Points: days(d0, len(tt.values), func(i int) int64 { return tt.values[i] })}}}))
			if len(f.lines) != 1 || len(f.lines[0]) != len(tt.values) {
				t.Fatalf("lines = %v, want one line of %d points", f.lines, len(tt.values))
			}
			topTick := f.ticks[len(f.ticks)-1]
			if !near(f.top, f.axisTop) {
				t.Errorf("top tick's grid line at y=%v, want the top of the plot area %v", f.top, f.axisTop)
			}
			for i, p := range f.lines[0] {
				want := f.bottom - (f.bottom-f.top)*float64(tt.values[i])/float64(topTick)
				if !near(p.y, want) {
					t.Errorf("value %d at y=%v, want %v (plot %v..%v, top tick %d)", tt.values[i], p.y, want, f.top, f.bottom, topTick)
				}
				wantX := f.left + (f.right-f.left)*float64(i)/float64(len(tt.values)-1)
				if !near(p.x, wantX) {
					t.Errorf("day %d at x=%v, want %v", i, p.x, wantX)
				}
			}
			if mx := slices.Max(tt.values); mx == topTick && !near(minY(f.lines[0]), f.top) {
				t.Errorf("max %d at y=%v, want the plot top %v", mx, minY(f.lines[0]), f.top)
			}
		})
	}
}

// The value axis is labelled with round numbers from 0 that cover the max.
func TestDaily_TicksRoundAndCoverMax(t *testing.T) {
	for _, mx := range []int64{0, 1, 7, 99, 1000, 12_345, 1_234_567, 9_876_543_210} {
		t.Run(fmt.Sprint(mx), func(t *testing.T) {
			f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", YAxis: "requests/day",
				Series: []Series{{Name: "x", Points: []Point{{date(2026, 1, 1), 0}, {date(2026, 1, 2), mx}}}}}))
			if len(f.ticks) < 2 || f.ticks[0] != 0 {
				t.Fatalf("ticks = %v, want at least two from 0", f.ticks)
			}
			step := f.ticks[1]
			for i, v := range f.ticks {
				if v != int64(i)*step {
					t.Fatalf("ticks = %v, want evenly spaced", f.ticks)
				}
			}
			if !isRound(step) {
				t.Errorf("tick step %d is not round", step)
			}
			if last := f.ticks[len(f.ticks)-1]; last < mx {
				t.Errorf("last tick %d below max %d", last, mx)
			}
			if !slices.Contains(f.texts, "requests/day") {
				t.Errorf("axis title with unit missing: %q", f.texts)
			}
		})
	}
}

// Days without a point are zero; all-zero data and a single day still draw.
func TestDaily_MissingAllZeroAndSingleDay(t *testing.T) {
	d0 := date(2026, 3, 1)
	t.Run("missing days are zero", func(t *testing.T) {
		f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", From: d0, To: d0.AddDate(0, 0, 9),
			Series: []Series{{Name: "x", Points: []Point{{d0, 100}, {d0.AddDate(0, 0, 9), 100}, {d0.AddDate(0, 0, 4).Add(13 * time.Hour), 50}, {d0.AddDate(0, 0, 4), 50}}}}}))
		if len(f.lines) != 1 || len(f.lines[0]) != 10 {
			t.Fatalf("lines = %v, want 10 points", f.lines)
		}
		for i, p := range f.lines[0] {
			want := f.bottom
			switch i {
			case 0, 9, 4: // day 4 has two points on the same UTC day, summed
				want = f.top
			}
			if !near(p.y, want) {
				t.Errorf("day %d at y=%v, want %v", i, p.y, want)
			}
		}
	})
	t.Run("all zero", func(t *testing.T) {
		f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", Series: []Series{{Name: "x", Points: days(d0, 30, func(int) int64 { return 0 })}}}))
		if !slices.Equal(f.ticks, []int64{0, 1}) {
			t.Errorf("ticks = %v, want [0 1]", f.ticks)
		}
		for _, p := range f.lines[0] {
			if !near(p.y, f.bottom) {
				t.Fatalf("zero drawn at y=%v, want the axis %v", p.y, f.bottom)
			}
		}
	})
	t.Run("single day", func(t *testing.T) {
		f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", Series: []Series{{Name: "x", Points: []Point{{d0, 40}}}}}))
		if len(f.dots) != 1 || !near(f.dots[0].y, f.bottom-(f.bottom-f.top)*40/float64(f.ticks[len(f.ticks)-1])) {
			t.Errorf("dots = %v, want one at the value's height", f.dots)
		}
		if !slices.Contains(f.texts, "Mar 1") {
			t.Errorf("day label missing: %q", f.texts)
		}
	})
	t.Run("negative counts are zero", func(t *testing.T) {
		f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", Series: []Series{{Name: "x", Points: []Point{{d0, -5}, {d0.AddDate(0, 0, 1), 10}}}}}))
		if !near(f.lines[0][0].y, f.bottom) {
			t.Errorf("negative value at y=%v, want the axis %v", f.lines[0][0].y, f.bottom)
		}
	})
}

// A legend names each series when there is more than one; series beyond
// the stylesheet's three are left out and the description says so.
func TestDaily_Legend(t *testing.T) {
	d0 := date(2026, 3, 1)
	pts := days(d0, 5, func(i int) int64 { return int64(i) })
	tests := []struct {
		name       string
		series     []string
		wantLegend int
	}{
		{"one series needs none", []string{"API key requests"}, 0},
		{"two series", []string{"API key requests", "OAuth token requests"}, 2},
		{"four series, three drawn", []string{"a", "b", "c", "d"}, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var ss []Series
			for _, n := range tt.series {
				ss = append(ss, Series{Name: n, Points: pts})
			}
			f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", Series: ss}))
			if len(f.legend) != tt.wantLegend {
				t.Errorf("legend swatches = %v, want %d", f.legend, tt.wantLegend)
			}
			for _, n := range tt.series[:min(len(tt.series), maxSeries)] {
				if tt.wantLegend > 0 && !slices.Contains(f.texts, n) {
					t.Errorf("legend text %q missing: %q", n, f.texts)
				}
			}
			if len(f.lines) != min(len(tt.series), maxSeries) {
				t.Errorf("drew %d lines, want %d", len(f.lines), min(len(tt.series), maxSeries))
			}
			desc := f.root.all("desc")[0].text
			if len(tt.series) > maxSeries && !strings.Contains(desc, "1 more series not drawn") {
				t.Errorf("desc %q does not mention the series left out", desc)
			}
		})
	}
}

// Running totals start from what came before From and never go down.
func TestCumulative_RunningTotals(t *testing.T) {
	d0 := date(2026, 9, 1)
	pts := []Point{{d0.AddDate(0, 0, -10), 4}, {d0.AddDate(0, 0, 2), 3}, {d0.AddDate(0, 0, 5), 3}}
	f := readDaily(t, Cumulative(DailyOptions{ID: "c", Title: "Tenants migrated", YAxis: "tenants", From: d0, To: d0.AddDate(0, 0, 9),
		Series: []Series{{Name: "migrated", Points: pts}}}))
	if len(f.lines) != 1 {
		t.Fatalf("lines = %v", f.lines)
	}
	line := f.lines[0]
	scale := (f.bottom - f.top) / float64(f.ticks[len(f.ticks)-1])
	if y := line[0].y; !near(y, f.bottom-4*scale) {
		t.Errorf("first day at y=%v, want the 4 migrated before From (y=%v)", y, f.bottom-4*scale)
	}
	if y := line[len(line)-1].y; !near(y, f.bottom-10*scale) {
		t.Errorf("last day at y=%v, want the total 10 (y=%v)", y, f.bottom-10*scale)
	}
	for i := 1; i < len(line); i++ {
		if line[i].y > line[i-1].y+0.01 || line[i].x < line[i-1].x-0.01 {
			t.Fatalf("step line goes down or back at %v → %v", line[i-1], line[i])
		}
	}
	if desc := f.root.all("desc")[0].text; !strings.Contains(desc, "migrated: 10 by 2026-09-10, from 4 on 2026-09-01") {
		t.Errorf("desc = %q, want the running total summarised", desc)
	}
}

// The date axis labels calendar days inside the range, and its title has
// the unit and the years.
func TestDaily_DateAxis(t *testing.T) {
	tests := []struct {
		name     string
		from, to time.Time
		want     []string
		title    string
	}{
		{"90 days: month starts", date(2026, 8, 30), date(2026, 11, 27), []string{"Sep 1", "Oct 1", "Nov 1"}, "Day (UTC), 2026"},
		{"two weeks: Mondays or days", date(2026, 3, 2), date(2026, 3, 15), []string{"Mar 2"}, "Day (UTC), 2026"},
		{"across new year", date(2025, 12, 1), date(2026, 1, 31), []string{"Dec 8", "Jan 5"}, "Day (UTC), 2025–2026"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readDaily(t, Daily(DailyOptions{ID: "d", Title: "Usage", From: tt.from, To: tt.to,
				Series: []Series{{Name: "x", Points: []Point{{tt.from, 1}}}}}))
			for _, w := range tt.want {
				if !slices.Contains(f.texts, w) {
					t.Errorf("date label %q missing: %q", w, f.texts)
				}
			}
			if !slices.Contains(f.texts, tt.title) {
				t.Errorf("axis title %q missing: %q", tt.title, f.texts)
			}
		})
	}
}

func TestDayTicks_FitAndAlign(t *testing.T) {
	for _, n := range []int{1, 2, 7, 14, 30, 90, 365, 1000, maxDays} {
		var ds []time.Time
		for i := range n {
			ds = append(ds, date(2026, 1, 7).AddDate(0, 0, i))
		}
		for _, maxLabels := range []int{1, 3, 6} {
			got := dayTicks(ds, maxLabels)
			if len(got) == 0 || len(got) > maxLabels {
				t.Errorf("%d days, max %d labels: got %v", n, maxLabels, got)
			}
		}
	}
}

// An area is the line closed along the x axis.
func TestDaily_AreaClosesOnAxis(t *testing.T) {
	out := Daily(DailyOptions{ID: "d", Title: "Usage", Area: true, Series: []Series{{Name: "x", Points: days(date(2026, 1, 1), 5, func(i int) int64 { return int64(i * 10) })}}})
	f := readDaily(t, out)
	var area []pt
	for _, p := range f.root.byClass("series-1")[0].all("path") {
		if strings.HasSuffix(p.attrs["d"], "Z") {
			area = pathPoints(t, p.attrs["d"])
		}
	}
	line := f.lines[0]
	if len(area) != len(line)+2 {
		t.Fatalf("area has %d points, want the line's %d plus two on the axis", len(area), len(line))
	}
	first, last := area[0], area[len(area)-1]
	if !near(first.y, f.bottom) || !near(last.y, f.bottom) || !near(first.x, line[0].x) || !near(last.x, line[len(line)-1].x) {
		t.Errorf("area ends %v, %v; want on the axis under the line's ends", first, last)
	}
	if !slices.Equal(area[1:len(area)-1], line) {
		t.Errorf("area top %v differs from the line %v", area[1:len(area)-1], line)
	}
}
