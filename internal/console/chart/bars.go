package chart

import (
	"fmt"
	"strings"
)

// Bar is one labelled value, e.g. a tenant and its daily requests that
// would fail.
type Bar struct {
	Label string
	Value int64
}

// BarOptions describes a horizontal bar chart.
type BarOptions struct {
	// ID prefixes the ids of the chart's <title> and <desc>; it must be
	// unique on the page.
	ID    string
	Title string
	// Desc is the text description; when empty every bar is listed.
	Desc string
	// ValueAxis titles the value axis with its unit, e.g. "requests/day
	// that would fail"; LabelAxis heads the labels, e.g. "Tenant".
	ValueAxis, LabelAxis string
	// Bars are drawn top to bottom in the given order; callers sort. Bars
	// beyond maxBars are left out and counted in a note.
	Bars []Bar
}

// maxBars keeps the chart a readable height; an impact report shows the
// worst tenants, the full list belongs in a table.
const maxBars = 50

const barRowH, barH = 28.0, 18.0

// Bars draws a horizontal bar chart with value labels and a round value
// axis. Values below zero are drawn as zero.
func Bars(opts BarOptions) string {
	id := chartID(opts.ID, "bars", opts.Title)
	bars := opts.Bars
	if len(bars) == 0 {
		return noData(id, opts.Title, opts.Desc)
	}
	hidden := 0
	if len(bars) > maxBars {
		hidden, bars = len(bars)-maxBars, bars[:maxBars]
	}
	unit := opts.ValueAxis
	if unit == "" {
		unit = "count"
	}
	var top int64
	labelW, valueW := 0.0, 20.0
	for _, b := range bars {
		v := clampValue(b.Value)
		top = max(top, v)
		labelW = max(labelW, textWidth(barLabel(b.Label), labelSize))
		valueW = max(valueW, textWidth(FormatCount(v), tickSize)+6)
	}
	labelW = min(labelW, viewWidth*0.38)

	l := valuePlot{}
	l.left = pad + labelW + 8
	l.right = viewWidth - pad - valueW
	l.top = 36
	if opts.LabelAxis != "" {
		l.top += 24
	}
	l.bottom = l.top + barRowH*float64(len(bars))
	ticks := niceTicks(top, max(2, int(l.width()/70)))
	l.topVal = ticks[len(ticks)-1]
	x := func(v int64) float64 { return l.left + l.width()*float64(v)/float64(l.topVal) }
	height := l.bottom + 52
	if hidden > 0 {
		height += 22
	}

	desc := opts.Desc
	if desc == "" {
		desc = describeBars(opts.Title, unit, bars, hidden)
	}
	var s svg
	s.start(id, height, opts.Title, desc)
	s.text(pad, 24, "start", titleSize, true, truncate(opts.Title, titleSize, viewWidth-2*pad))
	if opts.LabelAxis != "" {
		s.text(l.left-8, l.top-10, "end", labelSize, false, truncate(opts.LabelAxis, labelSize, labelW))
	}
	drawBarAxis(&s, l, ticks, unit, x)
	drawBarRows(&s, l, bars, labelW, unit, x)
	if hidden > 0 {
		s.text(pad, height-10, "start", tickSize, false, fmt.Sprintf("%d more not shown", hidden))
	}
	return s.String()
}

// drawBarAxis draws the value axis along the bottom with vertical grid
// lines, and the label axis line.
func drawBarAxis(s *svg, l valuePlot, ticks []int64, unit string, x func(int64) float64) {
	for _, t := range ticks {
		tx := x(t)
		if t != 0 {
			s.leaf("line", "class", "grid", "x1", num(tx), "y1", num(l.top), "x2", num(tx), "y2", num(l.bottom), "stroke-width", "1")
		}
		s.text(tx, l.bottom+20, "middle", tickSize, false, formatTick(t))
	}
	s.leaf("line", "class", "axis", "x1", num(l.left), "y1", num(l.top), "x2", num(l.left), "y2", num(l.bottom), "stroke-width", "1.5")
	s.text(l.left+l.width()/2, l.bottom+44, "middle", labelSize, false, unit)

}

// drawBarRows draws the bars, then their labels and values on top.
func drawBarRows(s *svg, l valuePlot, bars []Bar, labelW float64, unit string, x func(int64) float64) {
	s.open("g", "class", "series-1")
	for i, b := range bars {
		v := clampValue(b.Value)
		rowTop := l.top + barRowH*float64(i)
		s.leafTitled("rect", fmt.Sprintf("%s: %s %s", barLabel(b.Label), grouped(v), unit),
			"x", num(l.left), "y", num(rowTop+(barRowH-barH)/2), "width", num(x(v)-l.left), "height", num(barH))
	}
	s.close("g")
	for i, b := range bars {
		v := clampValue(b.Value)
		baseline := l.top + barRowH*float64(i) + barRowH/2 + 5
		s.text(l.left-8, baseline, "end", labelSize, false, truncate(barLabel(b.Label), labelSize, labelW))
		s.text(x(v)+4, baseline, "start", tickSize, false, FormatCount(v))
	}
}

func barLabel(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(unnamed)"
	}
	return s
}

func describeBars(title, unit string, bars []Bar, hidden int) string {
	var b strings.Builder
	if title != "" {
		b.WriteString(strings.TrimRight(title, ".") + ". ")
	}
	fmt.Fprintf(&b, "%d bars, in %s:", len(bars), unit)
	for i, bar := range bars {
		sep := ";"
		if i == len(bars)-1 {
			sep = "."
		}
		fmt.Fprintf(&b, " %s %s%s", barLabel(bar.Label), grouped(clampValue(bar.Value)), sep)
	}
	if hidden > 0 {
		fmt.Fprintf(&b, " %d more not shown.", hidden)
	}
	return b.String()
}
