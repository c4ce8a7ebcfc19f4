package chart

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Milestone is a dated step of the sunset, e.g. "No new keys".
type Milestone struct {
	At    time.Time
	Label string
}

// Brownout is a window in which keys are refused on purpose, to surface
// forgotten integrations before keys stop for good.
type Brownout struct {
	Start, End time.Time
	Label      string
	// Tenants is how many tenants the window applies to; 0 means all.
	Tenants int
}

// Extension is one tenant's later keys-off date.
type Extension struct {
	Tenant string
	Until  time.Time
}

// TimelineOptions describes a sunset timeline.
type TimelineOptions struct {
	// ID prefixes the ids of the chart's <title> and <desc>; it must be
	// unique on the page.
	ID    string
	Title string
	// Desc is the text description; when empty every item is listed.
	Desc string
	// From and To bound the time axis; a zero bound is taken from the items
	// with a margin. Items outside the axis are listed in the description
	// but not drawn; brownouts are cut at the ends.
	From, To time.Time
	// Today, if set, is marked with a dashed line.
	Today      time.Time
	Milestones []Milestone
	Brownouts  []Brownout
	Extensions []Extension
}

// Timeline geometry.
const (
	tlRowH     = 36.0 // a two-line label
	tlBandH    = 16.0
	tlEdge     = 12.0
	tlMaxLabel = viewWidth * 0.55
)

// timeScale maps instants onto the axis.
type timeScale struct {
	from, to    time.Time
	left, right float64
}

func (t timeScale) x(at time.Time) float64 {
	f := at.Sub(t.from).Seconds() / t.to.Sub(t.from).Seconds()
	return t.left + (t.right-t.left)*f
}

func (t timeScale) contains(at time.Time) bool {
	return !at.Before(t.from) && !at.After(t.to)
}

// tlItem is one labelled thing on a lane: its leader at x, a band to x2
// for brownouts, two lines of text and a tooltip.
type tlItem struct {
	x, x2        float64
	line1, line2 string
	tooltip      string
}

// Timeline draws the sunset on a horizontal time axis: milestones as
// labelled markers above it; below it a lane of brownout bands and a lane
// of per-tenant extensions; and a dashed "today" line. Labels are staggered
// in rows so they do not overlap.
func Timeline(opts TimelineOptions) string {
	id := chartID(opts.ID, "timeline", opts.Title)
	o := sortedTimeline(opts)
	sc, ok := timelineRange(o)
	if !ok {
		return noData(id, opts.Title, opts.Desc)
	}
	sc.left, sc.right = tlEdge, viewWidth-tlEdge

	miles := milestoneItems(o, sc)
	browns := brownoutItems(o, sc)
	exts := extensionItems(o, sc)
	showToday := !o.Today.IsZero() && sc.contains(o.Today)
	var walls []float64 // the today line runs through the lanes below the axis
	if showToday {
		walls = []float64{sc.x(o.Today)}
	}
	mBoxes, bBoxes, eBoxes := packItems(miles, nil), packItems(browns, walls), packItems(exts, walls)

	axisY := 36 + float64(max(1, rowCount(mBoxes)))*tlRowH + 8
	y := axisY + 58 // below the axis tick labels and title
	var brownY, extY float64
	if len(o.Brownouts) > 0 {
		brownY = y + 26
		y = brownY + tlBandH + float64(rowCount(bBoxes))*tlRowH + 6
	}
	if len(o.Extensions) > 0 {
		extY = y + 26
		y = extY + float64(rowCount(eBoxes))*tlRowH + 6
	}
	height := y + 12
	if showToday {
		height += 24
	}

	desc := opts.Desc
	if desc == "" {
		desc = describeTimeline(o, sc)
	}
	var s svg
	s.start(id, height, opts.Title, desc)
	s.text(pad, 24, "start", titleSize, true, truncate(opts.Title, titleSize, viewWidth-2*pad))
	if showToday {
		drawToday(&s, sc.x(o.Today), axisY-10, y, o.Today)
	}
	drawTimeAxis(&s, sc, axisY)
	drawLane(&s, "milestones", miles, mBoxes, axisY, -1, "")
	if len(o.Brownouts) > 0 {
		s.text(pad, brownY-8, "start", labelSize, true, "Brownouts")
		drawBands(&s, browns, brownY)
		drawLane(&s, "brownout-labels", browns, bBoxes, brownY+tlBandH, 1, "")
	}
	if len(o.Extensions) > 0 {
		s.text(pad, extY-8, "start", labelSize, true, "Extensions")
		drawLane(&s, "extensions", exts, eBoxes, extY, 1, "series-3")
	}
	return s.String()
}

// sortedTimeline copies the items in date order (then label order, so
// equal dates are stable) without touching the caller's slices.
func sortedTimeline(o TimelineOptions) TimelineOptions {
	o.Milestones = append([]Milestone(nil), o.Milestones...)
	sort.SliceStable(o.Milestones, func(i, j int) bool {
		a, b := o.Milestones[i], o.Milestones[j]
		return a.At.Before(b.At) || a.At.Equal(b.At) && a.Label < b.Label
	})
	o.Brownouts = append([]Brownout(nil), o.Brownouts...)
	for i, b := range o.Brownouts {
		if b.End.Before(b.Start) {
			o.Brownouts[i].Start, o.Brownouts[i].End = b.End, b.Start
		}
	}
	sort.SliceStable(o.Brownouts, func(i, j int) bool {
		a, b := o.Brownouts[i], o.Brownouts[j]
		return a.Start.Before(b.Start) || a.Start.Equal(b.Start) && a.Label < b.Label
	})
	o.Extensions = append([]Extension(nil), o.Extensions...)
	sort.SliceStable(o.Extensions, func(i, j int) bool {
		a, b := o.Extensions[i], o.Extensions[j]
		return a.Until.Before(b.Until) || a.Until.Equal(b.Until) && a.Tenant < b.Tenant
	})
	return o
}

// timelineRange takes From and To, filling a zero bound from the items
// and today with a 5% margin so end labels have room.
func timelineRange(o TimelineOptions) (timeScale, bool) {
	var lo, hi time.Time
	see := func(t time.Time) {
		if t.IsZero() {
			return
		}
		if lo.IsZero() || t.Before(lo) {
			lo = t
		}
		if hi.IsZero() || t.After(hi) {
			hi = t
		}
	}
	for _, m := range o.Milestones {
		see(m.At)
	}
	for _, b := range o.Brownouts {
		see(b.Start)
		see(b.End)
	}
	for _, e := range o.Extensions {
		see(e.Until)
	}
	if lo.IsZero() && (o.From.IsZero() || o.To.IsZero()) {
		return timeScale{}, false // nothing to place and no range to show
	}
	see(o.Today) // a derived axis shows where today stands against the plan
	margin := max(hi.Sub(lo)/20, 24*time.Hour)
	sc := timeScale{from: o.From, to: o.To}
	if sc.from.IsZero() {
		sc.from = lo.Add(-margin)
	}
	if sc.to.IsZero() {
		sc.to = hi.Add(margin)
	}
	if sc.to.Before(sc.from) {
		sc.from, sc.to = sc.to, sc.from
	}
	if !sc.to.After(sc.from) {
		sc.from, sc.to = sc.from.Add(-15*24*time.Hour), sc.to.Add(15*24*time.Hour)
	}
	return sc, true
}

func milestoneItems(o TimelineOptions, sc timeScale) []tlItem {
	var out []tlItem
	for _, m := range o.Milestones {
		if !sc.contains(m.At) {
			continue
		}
		out = append(out, tlItem{
			x: sc.x(m.At), line1: labelOr(m.Label, "Milestone"), line2: longDate(m.At),
			tooltip: labelOr(m.Label, "Milestone") + ": " + m.At.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	return out
}

func brownoutItems(o TimelineOptions, sc timeScale) []tlItem {
	var out []tlItem
	for _, b := range o.Brownouts {
		if b.End.Before(sc.from) || b.Start.After(sc.to) {
			continue
		}
		start, end := maxTime(b.Start, sc.from), minTime(b.End, sc.to)
		name := labelOr(b.Label, "Brownout")
		out = append(out, tlItem{
			x: sc.x(start), x2: sc.x(end), line1: name,
			line2:   dateSpan(b.Start, b.End) + ", " + tenantsText(b.Tenants),
			tooltip: name + ": " + windowText(b),
		})
	}
	return out
}

func extensionItems(o TimelineOptions, sc timeScale) []tlItem {
	var out []tlItem
	for _, e := range o.Extensions {
		if !sc.contains(e.Until) {
			continue
		}
		name := labelOr(e.Tenant, "(unnamed tenant)")
		out = append(out, tlItem{
			x: sc.x(e.Until), line1: name, line2: "until " + longDate(e.Until),
			tooltip: name + ": keys accepted until " + e.Until.UTC().Format("2006-01-02 15:04 UTC"),
		})
	}
	return out
}

// packItems truncates long texts and staggers the labels into rows.
func packItems(items []tlItem, walls []float64) []box {
	xs, ws := make([]float64, len(items)), make([]float64, len(items))
	for i := range items {
		items[i].line1 = truncate(items[i].line1, labelSize, tlMaxLabel)
		items[i].line2 = truncate(items[i].line2, tickSize, tlMaxLabel)
		xs[i] = items[i].x
		ws[i] = max(textWidth(items[i].line1, labelSize), textWidth(items[i].line2, tickSize))
	}
	return packLabels(xs, ws, pad, viewWidth-pad, walls)
}

// drawLane draws labels hanging on leaders from originY, in rows going up
// (dir -1, milestones above the axis) or down (dir 1). A lane with a
// class draws a diamond marker at each leader's origin in that class.
func drawLane(s *svg, name string, items []tlItem, boxes []box, originY float64, dir int, marker string) {
	s.open("g", "class", name)
	for i, it := range items {
		b := boxes[i]
		var top float64 // of the label's row
		if dir < 0 {
			top = originY - 8 - float64(b.row+1)*tlRowH
			s.leafTitled("line", it.tooltip, "x1", num(it.x), "y1", num(top+2), "x2", num(it.x), "y2", num(originY), "stroke", "currentColor", "stroke-width", "1.5")
		} else {
			top = originY + 6 + float64(b.row)*tlRowH
			s.leaf("line", "x1", num(it.x), "y1", num(originY), "x2", num(it.x), "y2", num(top+tlRowH-4), "stroke", "currentColor", "stroke-width", "1")
		}
		anchor, tx := "start", it.x+leaderGap
		if b.end {
			anchor, tx = "end", it.x-leaderGap
		}
		s.text(tx, top+14, anchor, labelSize, false, it.line1)
		s.text(tx, top+31, anchor, tickSize, false, it.line2)
	}
	s.close("g")
	if marker == "" {
		return
	}
	s.open("g", "class", marker)
	for _, it := range items {
		d := fmt.Sprintf("M%s %s L%s %s L%s %s L%s %s Z", num(it.x), num(originY-6), num(it.x+6), num(originY), num(it.x), num(originY+6), num(it.x-6), num(originY))
		s.leafTitled("path", it.tooltip, "d", d, "stroke-width", "1")
	}
	s.close("g")
}

// drawBands shades each brownout from its start to its end; a window too
// short to see at this scale still gets 2 units.
func drawBands(s *svg, items []tlItem, y float64) {
	s.open("g", "class", "brownouts series-2")
	for _, it := range items {
		s.leafTitled("rect", it.tooltip, "x", num(it.x), "y", num(y), "width", num(max(it.x2-it.x, 2)), "height", num(tlBandH),
			"fill-opacity", "0.3", "stroke-width", "1")
	}
	s.close("g")
}

func drawToday(s *svg, x, top, bottom float64, today time.Time) {
	s.open("g", "class", "today")
	s.leafTitled("line", "Today: "+today.UTC().Format(isoDay), "x1", num(x), "y1", num(top), "x2", num(x), "y2", num(bottom),
		"stroke", "currentColor", "stroke-width", "1.5", "stroke-dasharray", "5 4")
	label := "Today, " + longDate(today)
	w := textWidth(label, labelSize)
	tx := min(max(x, pad+w/2), viewWidth-pad-w/2)
	s.text(tx, bottom+18, "middle", labelSize, true, label)
	s.close("g")
}

// drawTimeAxis draws the axis line with calendar ticks.
func drawTimeAxis(s *svg, sc timeScale, y float64) {
	s.leaf("line", "class", "axis", "x1", num(sc.left), "y1", num(y), "x2", num(sc.right), "y2", num(y), "stroke-width", "2")
	maxLabels := max(1, int((sc.right-sc.left)/(textWidth("Sep 2026", tickSize)+14)))
	ticks, format := timeTicks(sc.from, sc.to, maxLabels)
	for i, t := range ticks {
		x := sc.x(t)
		s.leaf("line", "class", "axis", "x1", num(x), "y1", num(y), "x2", num(x), "y2", num(y+6), "stroke-width", "1.5")
		label := t.Format(format)
		if format == "Jan" && (i == 0 || t.Month() == time.January) {
			label = t.Format("Jan 2006")
		}
		w := textWidth(label, tickSize)
		s.text(min(max(x, w/2+2), viewWidth-w/2-2), y+22, "middle", tickSize, false, label)
	}
	s.text((sc.left+sc.right)/2, y+44, "middle", labelSize, false, "Date (UTC)")
}

// timeTicks returns calendar boundaries (days, Mondays, month or year
// starts) between from and to, the finest that fit maxLabels, with the
// layout to label them.
func timeTicks(from, to time.Time, maxLabels int) ([]time.Time, string) {
	type rule struct {
		days, months, years int
		format              string
	}
	rules := []rule{{1, 0, 0, "Jan 2"}, {7, 0, 0, "Jan 2"}, {0, 1, 0, "Jan"}, {0, 2, 0, "Jan"}, {0, 3, 0, "Jan"}, {0, 6, 0, "Jan"}, {0, 0, 1, "2006"}, {0, 0, 2, "2006"}, {0, 0, 5, "2006"}, {0, 0, 10, "2006"}}
	from, to = from.UTC(), to.UTC()
	for _, r := range rules {
		t := day(from)
		switch {
		case r.days == 7:
			for t.Weekday() != time.Monday {
				t = t.AddDate(0, 0, 1)
			}
		case r.months > 0:
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
			for (int(t.Month())-1)%r.months != 0 {
				t = t.AddDate(0, 1, 0)
			}
		case r.years > 0:
			t = time.Date(t.Year()-t.Year()%r.years, 1, 1, 0, 0, 0, 0, time.UTC)
		}
		var out []time.Time
		for ; !t.After(to) && len(out) <= maxLabels; t = t.AddDate(r.years, r.months, r.days) {
			if !t.Before(from) {
				out = append(out, t)
			}
		}
		if len(out) <= maxLabels {
			return out, r.format
		}
	}
	return nil, ""
}

func describeTimeline(o TimelineOptions, sc timeScale) string {
	var b strings.Builder
	if o.Title != "" {
		b.WriteString(strings.TrimRight(o.Title, ".") + ". ")
	}
	fmt.Fprintf(&b, "Timeline from %s to %s.", sc.from.UTC().Format(isoDay), sc.to.UTC().Format(isoDay))
	list := func(head string, items []string) {
		if len(items) > 0 {
			fmt.Fprintf(&b, " %s: %s.", head, strings.Join(items, "; "))
		}
	}
	var ms, bs, es []string
	for _, m := range o.Milestones {
		ms = append(ms, labelOr(m.Label, "Milestone")+" "+m.At.UTC().Format(isoDay))
	}
	for _, w := range o.Brownouts {
		bs = append(bs, labelOr(w.Label, "Brownout")+" "+windowText(w))
	}
	for _, e := range o.Extensions {
		es = append(es, labelOr(e.Tenant, "(unnamed tenant)")+" until "+e.Until.UTC().Format(isoDay))
	}
	list("Milestones", ms)
	list("Brownouts", bs)
	list("Extensions", es)
	if !o.Today.IsZero() {
		fmt.Fprintf(&b, " Today is %s.", o.Today.UTC().Format(isoDay))
	}
	return b.String()
}

func labelOr(s, fallback string) string {
	if strings.TrimSpace(s) == "" {
		return fallback
	}
	return s
}

func longDate(t time.Time) string { return t.UTC().Format("Jan 2, 2006") }

// dateSpan writes a window's days compactly: "Mar 3 10:00–12:00", "Mar 3–5",
// "Mar 30–Apr 2", "Dec 30, 2026–Jan 2, 2027".
func dateSpan(start, end time.Time) string {
	start, end = start.UTC(), end.UTC()
	switch {
	case day(start).Equal(day(end)) && (!start.Equal(day(start)) || !end.Equal(day(end))):
		return start.Format("Jan 2 15:04") + "–" + end.Format("15:04")
	case day(start).Equal(day(end)):
		return start.Format("Jan 2")
	case start.Year() != end.Year():
		return longDate(start) + "–" + longDate(end)
	case start.Month() == end.Month():
		return start.Format("Jan 2") + "–" + end.Format("2")
	default:
		return start.Format("Jan 2") + "–" + end.Format("Jan 2")
	}
}

func windowText(b Brownout) string {
	const f = "2006-01-02 15:04"
	return b.Start.UTC().Format(f) + " to " + b.End.UTC().Format(f) + " UTC, for " + tenantsText(b.Tenants)
}

func tenantsText(n int) string {
	switch {
	case n <= 0:
		return "all tenants"
	case n == 1:
		return "1 tenant"
	default:
		return fmt.Sprintf("%d tenants", n)
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
