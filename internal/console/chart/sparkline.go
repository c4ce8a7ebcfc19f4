package chart

import (
	"fmt"
	"strings"
)

// Sparkline geometry, in pixels: a sparkline sits in a table cell at its
// natural size, so its viewBox is its size.
const (
	sparkWidth  = 120
	sparkHeight = 24
	sparkPad    = 2
)

// Sparkline draws values (oldest first, e.g. 30 days of requests) as a tiny
// line without axes. label names it for assistive technology; the highest
// and last values are added to its description. Values below zero are drawn
// as zero.
//
// Its root has class "sparkline", not "chart": the stylesheet stretches
// svg.chart to the container's width, which a sparkline must not be.
func Sparkline(values []int64, label string) string {
	var b strings.Builder
	b.WriteString(`<svg xmlns="http://www.w3.org/2000/svg" class="sparkline"`)
	fmt.Fprintf(&b, ` width="%d" height="%d" viewBox="0 0 %d %d"`, sparkWidth, sparkHeight, sparkWidth, sparkHeight)
	b.WriteString(` role="img" aria-label="` + esc(label) + `">` + "\n")
	b.WriteString("<title>" + esc(label) + "</title>\n")
	if len(values) == 0 {
		b.WriteString("<desc>No data.</desc>\n")
		fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">No data</text>`+"\n", sparkWidth/2, sparkHeight-7)
		b.WriteString("</svg>\n")
		return b.String()
	}
	var top int64
	for _, v := range values {
		top = max(top, clampValue(v))
	}
	last := clampValue(values[len(values)-1])
	fmt.Fprintf(&b, "<desc>%d values, highest %s, last %s.</desc>\n", len(values), grouped(top), grouped(last))

	x := func(i int) float64 {
		if len(values) == 1 {
			return sparkWidth / 2
		}
		return sparkPad + float64(sparkWidth-2*sparkPad)*float64(i)/float64(len(values)-1)
	}
	y := func(v int64) float64 {
		if top == 0 {
			return sparkHeight - sparkPad
		}
		return sparkHeight - sparkPad - float64(sparkHeight-2*sparkPad)*float64(clampValue(v))/float64(top)
	}
	b.WriteString(`<g class="series-1">` + "\n")
	if len(values) > 1 {
		pts := make([]string, len(values))
		for i, v := range values {
			pts[i] = num(x(i)) + "," + num(y(v))
		}
		fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke-width="1.5" stroke-linejoin="round"/>`+"\n", strings.Join(pts, " "))
	}
	// The last value is what a reader compares across rows; mark it.
	fmt.Fprintf(&b, `<circle cx="%s" cy="%s" r="2"/>`+"\n", num(x(len(values)-1)), num(y(last)))
	b.WriteString("</g>\n</svg>\n")
	return b.String()
}
