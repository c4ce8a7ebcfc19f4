// Package chart draws the console's charts as SVG strings on the server, so
// pages need no JavaScript and no third-party front-end code.
//
// The output is embedded inline in html/template pages as trusted HTML, so
// every caller-supplied text (titles, labels, series and tenant names) is
// escaped here, in one place: the svg writer below.
//
// Colours come only from the console stylesheet: series use the classes
// series-1..3, axes and grid lines the classes axis and grid, and markers
// currentColor, so a chart reads in light and dark mode alike. The console's
// Content-Security-Policy forbids inline styles, so everything else is a
// presentation attribute. Because the stylesheet sets `svg text { font: 12px }`
// and a viewBox scales text with the chart, every text carries its size on an
// inner <tspan> (the stylesheet rule does not reach it), sized so labels stay
// readable when a chart is shrunk to a 360 px wide phone screen.
//
// Output is deterministic: no map iteration, fixed number formatting, one
// element per line.
package chart

import (
	"encoding/xml"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Sizes in viewBox units. The width is small enough that, scaled down to a
// ~310 px card on a phone, 14-unit text still renders at about 9 px.
const (
	viewWidth = 480
	titleSize = 17
	labelSize = 15
	tickSize  = 14
	// charWidth estimates the advance of an average glyph, in em, for
	// laying out labels without measuring fonts.
	charWidth = 0.62
	pad       = 8
)

// maxSeries is the number of series colours the stylesheet defines.
const maxSeries = 3

// dash patterns tell series apart without relying on colour alone.
var seriesDash = [maxSeries]string{"", "7 4", "2 4"}

// svg accumulates an SVG document. Attribute values and text go through
// esc; only numbers and constant names are written raw.
type svg struct {
	b strings.Builder
}

// esc escapes s for use as XML text or a double-quoted attribute value.
// xml.EscapeText also replaces characters XML cannot carry.
func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s)) // writes to a strings.Builder never fail
	return b.String()
}

// attrs writes name="value" pairs; values are escaped.
func (s *svg) attrs(kv []string) {
	for i := 0; i+1 < len(kv); i += 2 {
		s.b.WriteString(" ")
		s.b.WriteString(kv[i])
		s.b.WriteString(`="`)
		s.b.WriteString(esc(kv[i+1]))
		s.b.WriteString(`"`)
	}
}

// open starts an element that will have children.
func (s *svg) open(name string, kv ...string) {
	s.b.WriteString("<" + name)
	s.attrs(kv)
	s.b.WriteString(">\n")
}

func (s *svg) close(name string) {
	s.b.WriteString("</" + name + ">\n")
}

// leaf writes an empty element.
func (s *svg) leaf(name string, kv ...string) {
	s.b.WriteString("<" + name)
	s.attrs(kv)
	s.b.WriteString("/>\n")
}

// leafTitled writes an element whose only child is a <title> tooltip.
func (s *svg) leafTitled(name, tooltip string, kv ...string) {
	s.b.WriteString("<" + name)
	s.attrs(kv)
	s.b.WriteString("><title>" + esc(tooltip) + "</title></" + name + ">\n")
}

// text writes one line of text at (x, y) with the given anchor and size.
func (s *svg) text(x, y float64, anchor string, size float64, bold bool, content string) {
	s.b.WriteString("<text")
	s.attrs([]string{"x", num(x), "y", num(y), "text-anchor", anchor})
	s.b.WriteString("><tspan")
	kv := []string{"font-size", num(size)}
	if bold {
		kv = append(kv, "font-weight", "600")
	}
	s.attrs(kv)
	s.b.WriteString(">" + esc(content) + "</tspan></text>\n")
}

// start writes the root element with its accessible name and description.
func (s *svg) start(id string, height float64, title, desc string) {
	s.open("svg", "xmlns", "http://www.w3.org/2000/svg", "class", "chart",
		"viewBox", "0 0 "+num(viewWidth)+" "+num(height),
		"role", "img", "aria-labelledby", id+"-title "+id+"-desc")
	s.b.WriteString(`<title id="` + esc(id+"-title") + `">` + esc(title) + "</title>\n")
	s.b.WriteString(`<desc id="` + esc(id+"-desc") + `">` + esc(desc) + "</desc>\n")
}

func (s *svg) String() string {
	s.close("svg")
	return s.b.String()
}

// chartID makes id safe as an XML id, or derives a stable one from seed
// when the caller gave none. Callers that put two charts with the same
// title on one page must pass distinct IDs.
func chartID(id, kind, seed string) string {
	var b strings.Builder
	for _, r := range id {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			b.WriteRune('-')
		}
	}
	out := b.String()
	if out == "" {
		h := fnv.New32a()
		_, _ = h.Write([]byte(kind + "\x00" + seed))
		return fmt.Sprintf("%s-%08x", kind, h.Sum32())
	}
	if c := out[0]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		out = kind + "-" + out
	}
	return out
}

// noData draws the frame of a chart with nothing to plot, so a page shows
// an honest empty chart instead of failing or a blank space.
func noData(id, title, desc string) string {
	if desc == "" {
		desc = "No data."
	}
	var s svg
	const h = 120
	s.start(id, h, title, desc)
	s.text(pad, 24, "start", titleSize, true, title)
	s.text(viewWidth/2, 76, "middle", labelSize, false, "No data")
	return s.String()
}

// textWidth estimates the rendered width of s at size, in viewBox units.
func textWidth(s string, size float64) float64 {
	return float64(utf8.RuneCountInString(s)) * size * charWidth
}

// truncate shortens s to at most width units at size, ending in "…".
func truncate(s string, size, width float64) string {
	if textWidth(s, size) <= width {
		return s
	}
	n := int(width/(size*charWidth)) - 1
	if n < 1 {
		return "…"
	}
	r := []rune(s)
	return strings.TrimSpace(string(r[:n])) + "…"
}

// num formats a coordinate with at most one decimal, never "-0".
func num(v float64) string {
	r := math.Round(v*10) / 10
	if r == 0 {
		r = 0 // turns -0 into 0
	}
	return strconv.FormatFloat(r, 'f', -1, 64)
}

// maxValue caps plotted values so tick arithmetic cannot overflow int64;
// no console count comes near it.
const maxValue = int64(1e17)

func clampValue(v int64) int64 {
	if v < 0 {
		return 0
	}
	return min(v, maxValue)
}

// niceTicks returns about n+1 evenly spaced round values (steps of 1, 2 or
// 5 times a power of ten) from 0 up to the first one at or above top.
func niceTicks(top int64, n int) []int64 {
	top = max(clampValue(top), 1)
	raw := float64(top) / float64(n)
	step := int64(1)
	for p := int64(1); ; p *= 10 {
		found := false
		for _, m := range []int64{1, 2, 5} {
			if float64(m*p) >= raw {
				step, found = m*p, true
				break
			}
		}
		if found {
			break
		}
	}
	last := (top + step - 1) / step * step
	ticks := make([]int64, 0, last/step+1)
	for v := int64(0); v <= last; v += step {
		ticks = append(ticks, v)
	}
	return ticks
}

var units = []struct {
	div    int64
	suffix string
}{{1e12, "T"}, {1e9, "B"}, {1e6, "M"}, {1e3, "k"}}

// formatTick writes a round tick value exactly and short: 2500 → "2.5k",
// 1250000 → "1.25M".
func formatTick(v int64) string {
	for _, u := range units {
		if v >= u.div {
			whole, frac := v/u.div, v%u.div
			s := strconv.FormatInt(whole, 10)
			if frac != 0 {
				f := strconv.FormatInt(frac+u.div, 10)[1:] // zero-padded
				s += "." + strings.TrimRight(f, "0")
			}
			return s + u.suffix
		}
	}
	return strconv.FormatInt(v, 10)
}

// FormatCount writes a count compactly for labels: 999, 1.2k, 12k, 1.2M.
// One decimal below 10 of a unit, none above; rounding that reaches 1000
// moves to the next unit (999 950 → "1M").
func FormatCount(v int64) string {
	neg := v < 0
	if neg {
		v = -max(v, -math.MaxInt64) // -MinInt64 overflows
	}
	out := strconv.FormatInt(v, 10)
	for i, u := range units {
		if v < u.div {
			continue
		}
		m := float64(v) / float64(u.div)
		if m < 9.95 {
			out = strconv.FormatFloat(math.Round(m*10)/10, 'f', -1, 64) + u.suffix
		} else {
			out = strconv.FormatFloat(math.Round(m), 'f', -1, 64) + u.suffix
		}
		if out == "1000"+u.suffix && i > 0 {
			out = "1" + units[i-1].suffix // 999.96k reads better as 1M
		}
		break
	}
	if neg {
		return "-" + out
	}
	return out
}

// grouped writes v with thousands separators, for descriptions read aloud.
func grouped(v int64) string {
	s := strconv.FormatInt(v, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// day returns t's calendar day in UTC, at midnight.
func day(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

const isoDay = "2006-01-02"
