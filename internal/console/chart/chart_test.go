package chart

import (
	"strings"
	"testing"
	"time"
)

const hostile = `<script>alert(1)</script>&"'`

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// days returns n daily points from start with values from f.
func days(start time.Time, n int, f func(i int) int64) []Point {
	out := make([]Point, n)
	for i := range out {
		out[i] = Point{Day: start.AddDate(0, 0, i), Value: f(i)}
	}
	return out
}

// kinds renders every chart kind with the given texts, for the checks all
// charts share.
func kinds(id, title, name string) map[string]func() string {
	d0 := date(2026, 9, 1)
	return map[string]func() string{
		"daily": func() string {
			return Daily(DailyOptions{ID: id, Title: title, YAxis: "requests/day", Area: true, Series: []Series{
				{Name: name, Points: days(d0, 90, func(i int) int64 { return int64(i * 100) })},
				{Name: "OAuth token requests", Points: days(d0, 90, func(i int) int64 { return 50 })},
			}})
		},
		"cumulative": func() string {
			return Cumulative(DailyOptions{ID: id, Title: title, YAxis: "tenants", Series: []Series{{Name: name, Points: days(d0, 30, func(int) int64 { return 1 })}}})
		},
		"timeline": func() string {
			return Timeline(TimelineOptions{ID: id, Title: title, Today: date(2026, 11, 27),
				Milestones: []Milestone{{At: date(2026, 3, 1), Label: name}, {At: date(2027, 3, 31), Label: "Keys off"}},
				Brownouts:  []Brownout{{Start: date(2026, 12, 1), End: date(2026, 12, 3), Label: name, Tenants: 3}},
				Extensions: []Extension{{Tenant: name, Until: date(2027, 6, 30)}},
			})
		},
		"bars": func() string {
			return Bars(BarOptions{ID: id, Title: title, ValueAxis: "requests/day that would fail", LabelAxis: "Tenant",
				Bars: []Bar{{Label: name, Value: 1200}, {Label: "Globex", Value: 30}}})
		},
		"daily-empty":    func() string { return Daily(DailyOptions{ID: id, Title: title}) },
		"timeline-empty": func() string { return Timeline(TimelineOptions{ID: id, Title: title}) },
		"bars-empty":     func() string { return Bars(BarOptions{ID: id, Title: title}) },
	}
}

// Every chart is a well-formed, accessible, themeable SVG root.
func TestCharts_AccessibleThemeableSVG(t *testing.T) {
	for kind, render := range kinds("usage-chart", "Requests per day", "API key requests") {
		t.Run(kind, func(t *testing.T) {
			out := render()
			root := parseSVG(t, out)
			if root.name != "svg" || !root.hasClass("chart") || root.attrs["role"] != "img" {
				t.Fatalf("root = <%s class=%q role=%q>, want <svg class=chart role=img>", root.name, root.attrs["class"], root.attrs["role"])
			}
			if root.attrs["viewBox"] == "" || root.attrs["width"] != "" || root.attrs["height"] != "" {
				t.Errorf("root viewBox=%q width=%q height=%q, want a viewBox and no fixed size", root.attrs["viewBox"], root.attrs["width"], root.attrs["height"])
			}
			if got, want := root.attrs["aria-labelledby"], "usage-chart-title usage-chart-desc"; got != want {
				t.Errorf("aria-labelledby = %q, want %q", got, want)
			}
			ids := map[string]*node{}
			root.walk(func(n *node) {
				if id := n.attrs["id"]; id != "" {
					if ids[id] != nil {
						t.Errorf("id %q used twice", id)
					}
					ids[id] = n
				}
			})
			if n := ids["usage-chart-title"]; n == nil || n.name != "title" || n.text != "Requests per day" {
				t.Errorf("title element = %+v, want <title> Requests per day", n)
			}
			if n := ids["usage-chart-desc"]; n == nil || n.name != "desc" || strings.TrimSpace(n.text) == "" {
				t.Errorf("desc element = %+v, want a non-empty <desc>", n)
			}
			root.walk(func(n *node) {
				if _, ok := n.attrs["style"]; ok {
					t.Errorf("<%s> has a style attribute; the console's CSP blocks inline styles", n.name)
				}
				for _, a := range []string{"fill", "stroke", "color"} {
					if v, ok := n.attrs[a]; ok && v != "none" && v != "currentColor" {
						t.Errorf("<%s %s=%q>: colours must come from the stylesheet", n.name, a, v)
					}
				}
				if n.name == "text" && n.hasClass("axis") || n.name == "text" && n.parent.hasClass("axis") {
					t.Errorf("text inside .axis would be stroked by the stylesheet")
				}
			})
			if again := render(); again != out {
				t.Error("rendering twice gave different output")
			}
		})
	}
}

// Caller text comes out escaped: the parsed document carries it verbatim
// and the raw output has no markup from it.
func TestCharts_EscapeCallerText(t *testing.T) {
	for kind, render := range kinds(`x" onload="alert(1)`, hostile, hostile) {
		t.Run(kind, func(t *testing.T) {
			out := render()
			if strings.Contains(out, "<script") || strings.Contains(out, `" onload="`) {
				t.Fatalf("raw caller text in output:\n%s", out)
			}
			root := parseSVG(t, out)
			if _, ok := root.attrs["onload"]; ok {
				t.Fatal("id broke out of its attribute")
			}
			if got := root.all("title")[0].text; got != hostile {
				t.Errorf("title = %q, want %q", got, hostile)
			}
			if strings.HasSuffix(kind, "-empty") {
				return
			}
			found := false
			for _, s := range root.texts() {
				found = found || strings.Contains(s, "<script>")
			}
			if !found {
				t.Errorf("series/label text %q not drawn; texts: %q", hostile, root.texts())
			}
		})
	}
}

// Empty input still gives a chart, saying there is no data.
func TestCharts_EmptyInput_NoDataChart(t *testing.T) {
	tests := map[string]string{
		"daily without series":          Daily(DailyOptions{ID: "a", Title: "Usage"}),
		"daily series without any days": Daily(DailyOptions{ID: "a", Title: "Usage", Series: []Series{{Name: "x"}}}),
		"cumulative without series":     Cumulative(DailyOptions{ID: "a", Title: "Migrated"}),
		"timeline without items":        Timeline(TimelineOptions{ID: "a", Title: "Sunset"}),
		"bars without bars":             Bars(BarOptions{ID: "a", Title: "Impact", Bars: []Bar{}}),
		"sparkline without values":      Sparkline(nil, "Key usage"),
	}
	for name, out := range tests {
		t.Run(name, func(t *testing.T) {
			root := parseSVG(t, out)
			if got := strings.Join(root.texts(), "|"); !strings.Contains(got, "No data") {
				t.Errorf("texts = %q, want a No data message", got)
			}
			if root.attrs["role"] != "img" || root.all("title")[0].text == "" {
				t.Errorf("empty chart lost its accessible name")
			}
		})
	}
}

// Charts without an ID still get valid ids, stable per title.
func TestChartID(t *testing.T) {
	tests := []struct {
		id, want string
	}{
		{"usage-90d", "usage-90d"},
		{"tenant acme/usage", "tenant-acme-usage"},
		{"9lives", "daily-9lives"},
		{`"><x`, "daily----x"},
	}
	for _, tt := range tests {
		if got := chartID(tt.id, "daily", "t"); got != tt.want {
			t.Errorf("chartID(%q) = %q, want %q", tt.id, got, tt.want)
		}
	}
	a, b := chartID("", "daily", "Usage"), chartID("", "daily", "Other")
	if a == b || a != chartID("", "daily", "Usage") || !strings.HasPrefix(a, "daily-") {
		t.Errorf("derived ids %q, %q: want distinct per title, stable, prefixed", a, b)
	}
}

func TestNiceTicks_RoundAndCoverMax(t *testing.T) {
	for _, top := range []int64{0, 1, 3, 7, 10, 99, 101, 999, 1000, 12345, 99999, 1_234_567, 987_654_321, 5e15, maxValue} {
		ticks := niceTicks(top, 5)
		if len(ticks) < 2 || len(ticks) > 7 {
			t.Errorf("niceTicks(%d) = %v: want 2..7 ticks", top, ticks)
			continue
		}
		step := ticks[1]
		if !isRound(step) {
			t.Errorf("niceTicks(%d) step %d is not 1, 2 or 5 times a power of ten", top, step)
		}
		for i, v := range ticks {
			if v != int64(i)*step {
				t.Errorf("niceTicks(%d) = %v: not evenly spaced from 0", top, ticks)
				break
			}
		}
		if last := ticks[len(ticks)-1]; last < top || top > 0 && last-step >= top {
			t.Errorf("niceTicks(%d) = %v: last tick must be the first at or above the max", top, ticks)
		}
	}
}

func isRound(step int64) bool {
	for step%10 == 0 {
		step /= 10
	}
	return step == 1 || step == 2 || step == 5
}

func TestFormatTick_ExactAndShort(t *testing.T) {
	tests := map[int64]string{0: "0", 5: "5", 999: "999", 1000: "1k", 2500: "2.5k", 12500: "12.5k", 250000: "250k",
		1_000_000: "1M", 1_250_000: "1.25M", 2e9: "2B", 3e12: "3T"}
	for v, want := range tests {
		if got := formatTick(v); got != want {
			t.Errorf("formatTick(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestFormatCount_Compact(t *testing.T) {
	tests := map[int64]string{0: "0", 999: "999", 1000: "1k", 1234: "1.2k", 9949: "9.9k", 9950: "10k", 12_345: "12k",
		999_499: "999k", 999_950: "1M", 1_234_567: "1.2M", 12_345_678: "12M", 1e9: "1B", -1500: "-1.5k"}
	for v, want := range tests {
		if got := FormatCount(v); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", v, got, want)
		}
	}
}

func TestGrouped(t *testing.T) {
	tests := map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"}
	for v, want := range tests {
		if got := grouped(v); got != want {
			t.Errorf("grouped(%d) = %q, want %q", v, got, want)
		}
	}
}

// Whatever the caller's text, the output parses.
func FuzzCharts_WellFormed(f *testing.F) {
	for _, s := range []string{"", "acme", hostile, "a\x00b\x1bc", "\xff\xfe", "]]>", "日本語のテナント"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, id, text string) {
		for kind, render := range kinds(id, text, text) {
			if _, err := decodeSVG(render()); err != nil {
				t.Fatalf("%s: %v", kind, err)
			}
		}
		if _, err := decodeSVG(Sparkline([]int64{1, 2}, text)); err != nil {
			t.Fatalf("sparkline: %v", err)
		}
	})
}
