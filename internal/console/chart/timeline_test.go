package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// sunset is the reference transition: four milestones, brownouts, two
// extensions.
func sunset() TimelineOptions {
	return TimelineOptions{
		ID: "sunset", Title: "Sunset timeline",
		From: date(2026, 1, 1), To: date(2027, 7, 1),
		Today: date(2026, 11, 27),
		Milestones: []Milestone{ // deliberately out of order
			{At: date(2026, 9, 1), Label: "No new keys"},
			{At: date(2026, 3, 1), Label: "Deprecated"},
			{At: date(2027, 3, 31), Label: "Keys off"},
			{At: date(2026, 4, 1), Label: "OAuth only for new tenants"},
		},
		Brownouts: []Brownout{
			{Start: date(2026, 12, 1), End: date(2026, 12, 3), Label: "Brownout 2", Tenants: 12},
			{Start: date(2026, 10, 6).Add(10 * time.Hour), End: date(2026, 10, 6).Add(12 * time.Hour), Label: "Brownout 1"},
			{Start: date(2027, 2, 1), End: date(2027, 2, 8), Label: "Brownout 3"},
		},
		Extensions: []Extension{
			{Tenant: "Globex", Until: date(2027, 5, 31)},
			{Tenant: "Acme Procurement", Until: date(2027, 6, 30)},
		},
	}
}

// timelineFrame is what a test reads back from a rendered timeline.
type timelineFrame struct {
	root        *node
	left, right float64
	scale       func(time.Time) float64
}

func readTimeline(t *testing.T, o TimelineOptions, from, to time.Time) timelineFrame {
	t.Helper()
	f := timelineFrame{root: parseSVG(t, Timeline(o))}
	axis := f.root.byClass("axis")[0]
	f.left, f.right = axis.f(t, "x1"), axis.f(t, "x2")
	f.scale = func(at time.Time) float64 {
		return f.left + (f.right-f.left)*at.Sub(from).Seconds()/to.Sub(from).Seconds()
	}
	return f
}

// Milestones are drawn in date order at x positions proportional to time.
func TestTimeline_MilestonesInDateOrderProportional(t *testing.T) {
	o := sunset()
	f := readTimeline(t, o, o.From, o.To)
	var markers []*node
	for _, g := range f.root.byClass("milestones") {
		markers = append(markers, g.all("line")...)
	}
	want := slices.Clone(o.Milestones)
	slices.SortFunc(want, func(a, b Milestone) int { return a.At.Compare(b.At) })
	if len(markers) != len(want) {
		t.Fatalf("%d milestone markers, want %d", len(markers), len(want))
	}
	prev := -1.0
	for i, m := range markers {
		x := m.f(t, "x1")
		if !strings.HasPrefix(m.title(), want[i].Label+": ") {
			t.Errorf("marker %d is %q, want %q (date order)", i, m.title(), want[i].Label)
		}
		if !near(x, f.scale(want[i].At)) {
			t.Errorf("%s at x=%v, want %v", want[i].Label, x, f.scale(want[i].At))
		}
		if x <= prev {
			t.Errorf("%s at x=%v is not right of the previous milestone (%v)", want[i].Label, x, prev)
		}
		prev = x
	}
	texts := f.root.texts()
	for _, w := range []string{"Deprecated", "Mar 1, 2026", "Keys off", "Mar 31, 2027", "OAuth only for new tenants"} {
		if !slices.Contains(texts, w) {
			t.Errorf("label %q missing: %q", w, texts)
		}
	}
}

// Each brownout is shaded from its start to its end, cut at the axis ends.
func TestTimeline_BrownoutBands(t *testing.T) {
	tests := []struct {
		name       string
		windows    []Brownout
		wantX      []time.Time // band start and end per window, in date order
		wantLabels []string
	}{
		{
			name: "windows in date order with tenant counts",
			windows: []Brownout{
				{Start: date(2027, 2, 1), End: date(2027, 2, 8), Label: "Third"},
				{Start: date(2026, 10, 1), End: date(2026, 10, 15), Label: "First", Tenants: 12},
				{Start: date(2026, 12, 1), End: date(2026, 11, 20), Label: "Second (reversed)", Tenants: 1},
			},
			wantX:      []time.Time{date(2026, 10, 1), date(2026, 10, 15), date(2026, 11, 20), date(2026, 12, 1), date(2027, 2, 1), date(2027, 2, 8)},
			wantLabels: []string{"Oct 1–15, 12 tenants", "Nov 20–Dec 1, 1 tenant", "Feb 1–8, all tenants"},
		},
		{
			name:    "window cut at the axis ends, one outside dropped",
			windows: []Brownout{{Start: date(2025, 12, 1), End: date(2026, 1, 10)}, {Start: date(2027, 6, 20), End: date(2027, 8, 1)}, {Start: date(2028, 1, 1), End: date(2028, 1, 2)}},
			wantX:   []time.Time{date(2026, 1, 1), date(2026, 1, 10), date(2027, 6, 20), date(2027, 7, 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := sunset()
			o.Brownouts = tt.windows
			f := readTimeline(t, o, o.From, o.To)
			rects := f.root.byClass("brownouts")[0].all("rect")
			if len(rects) != len(tt.wantX)/2 {
				t.Fatalf("%d bands, want %d", len(rects), len(tt.wantX)/2)
			}
			for i, r := range rects {
				x0, x1 := r.f(t, "x"), r.f(t, "x")+r.f(t, "width")
				if w0, w1 := f.scale(tt.wantX[2*i]), f.scale(tt.wantX[2*i+1]); !near(x0, w0) || !near(x1, w1) {
					t.Errorf("band %d spans %v..%v, want %v..%v", i, x0, x1, w0, w1)
				}
			}
			texts := f.root.texts()
			for _, w := range tt.wantLabels {
				if !slices.Contains(texts, w) {
					t.Errorf("label %q missing: %q", w, texts)
				}
			}
		})
	}
}

// Extensions sit in their own lane with the tenant's name; today is a
// marker at its date, only when inside the axis.
func TestTimeline_ExtensionsAndToday(t *testing.T) {
	o := sunset()
	f := readTimeline(t, o, o.From, o.To)
	diamonds := f.root.byClass("series-3")[0].all("path")
	if len(diamonds) != 2 {
		t.Fatalf("%d extension markers, want 2", len(diamonds))
	}
	for i, e := range []Extension{o.Extensions[0], o.Extensions[1]} {
		p := pathPoints(t, diamonds[i].attrs["d"])
		if !near(p[0].x, f.scale(e.Until)) || !strings.HasPrefix(diamonds[i].title(), e.Tenant+": ") {
			t.Errorf("extension %d at x=%v titled %q, want %s at %v", i, p[0].x, diamonds[i].title(), e.Tenant, f.scale(e.Until))
		}
	}
	texts := f.root.texts()
	for _, w := range []string{"Extensions", "Globex", "until May 31, 2027", "Brownouts", "Brownout 1", "Oct 6 10:00–12:00, all tenants", "Today, Nov 27, 2026", "Date (UTC)"} {
		if !slices.Contains(texts, w) {
			t.Errorf("text %q missing: %q", w, texts)
		}
	}
	today := f.root.byClass("today")
	if len(today) != 1 || !near(today[0].all("line")[0].f(t, "x1"), f.scale(o.Today)) {
		t.Errorf("today marker missing or misplaced")
	}

	o.Today = date(2030, 1, 1)
	if f := readTimeline(t, o, o.From, o.To); len(f.root.byClass("today")) != 0 {
		t.Error("today outside the axis was drawn")
	}
}

// Without From/To the axis spans the items and today with a margin.
func TestTimeline_RangeFromItems(t *testing.T) {
	o := TimelineOptions{ID: "t", Title: "Sunset", Today: date(2025, 11, 1), Milestones: []Milestone{{At: date(2026, 1, 1), Label: "A"}, {At: date(2026, 11, 1), Label: "B"}}}
	root := parseSVG(t, Timeline(o))
	if len(root.byClass("today")) != 1 {
		t.Error("today before the first item is not on the derived axis")
	}
	markers := root.byClass("milestones")[0].all("line")
	axis := root.byClass("axis")[0]
	left, right := axis.f(t, "x1"), axis.f(t, "x2")
	if a, b := markers[0].f(t, "x1"), markers[1].f(t, "x1"); a <= left || b >= right || a >= b {
		t.Errorf("markers at %v, %v; want inside (%v, %v) in order", a, b, left, right)
	}
	if desc := root.all("desc")[0].text; !strings.Contains(desc, "Milestones: A 2026-01-01; B 2026-11-01.") {
		t.Errorf("desc = %q", desc)
	}
}

// Crowded labels are staggered into rows without overlapping.
func TestTimeline_CrowdedLabelsDoNotOverlap(t *testing.T) {
	for _, n := range []int{2, 4, 6} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			o := TimelineOptions{ID: "t", Title: "Crowded", From: date(2026, 1, 1), To: date(2027, 1, 1)}
			for i := range n {
				o.Milestones = append(o.Milestones, Milestone{At: date(2026, 6, 1).AddDate(0, 0, 7*i), Label: fmt.Sprintf("Milestone number %d", i)})
			}
			root := parseSVG(t, Timeline(o))
			type span struct{ x0, x1 float64 }
			rows := map[string][]span{}
			for _, tx := range root.byClass("milestones")[0].all("text") {
				x, w := tx.f(t, "x"), textWidth(tx.fullText(), tx.all("tspan")[0].f(t, "font-size"))
				s := span{x, x + w}
				if tx.attrs["text-anchor"] == "end" {
					s = span{x - w, x}
				}
				if s.x0 < 0 || s.x1 > viewWidth {
					t.Errorf("label %q at %v runs off the chart", tx.fullText(), s)
				}
				y := tx.attrs["y"]
				for _, o := range rows[y] {
					if s.x0 < o.x1 && o.x0 < s.x1 {
						t.Errorf("labels overlap at y=%s: %v and %v", y, s, o)
					}
				}
				rows[y] = append(rows[y], s)
			}
		})
	}
}

// The packer prefers a layout where no leader runs through a text.
func TestPackLabels(t *testing.T) {
	tests := []struct {
		name      string
		xs, ws    []float64
		walls     []float64
		wantRows  int
		crossFree bool
	}{
		{"apart: one row", []float64{10, 200}, []float64{80, 80}, nil, 1, true},
		{"close: staircase", []float64{30, 60, 190, 370}, []float64{95, 250, 100, 100}, nil, 3, true},
		{"same date: one text each side", []float64{100, 100}, []float64{80, 80}, nil, 1, true},
		{"same date at the left edge: two rows", []float64{20, 20}, []float64{80, 80}, nil, 2, true},
		{"near the right edge: text turns left", []float64{460}, []float64{100}, nil, 1, true},
		{"wall avoided by turning left", []float64{300}, []float64{100}, []float64{350}, 1, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			boxes := packLabels(tt.xs, tt.ws, pad, viewWidth-pad, tt.walls)
			if got := rowCount(boxes); got != tt.wantRows {
				t.Errorf("rows = %d, want %d (%+v)", got, tt.wantRows, boxes)
			}
			for i, b := range boxes {
				if n := overlaps(b, boxes[:i], tt.walls, tt.crossFree); n != 0 {
					t.Errorf("box %d %+v overlaps or is crossed %d times", i, b, n)
				}
				if a0, a1 := b.span(); a0 < pad || a1 > viewWidth-pad {
					t.Errorf("box %d spans %v..%v, outside the chart", i, a0, a1)
				}
			}
		})
	}
}
