package chart

import (
	"fmt"
	"strings"
	"time"
)

// Point is one day's value of a series. Only the UTC calendar day of Day
// counts; several points on the same day are added up.
type Point struct {
	Day   time.Time
	Value int64
}

// Series is a named run of daily values, e.g. "API key requests".
type Series struct {
	Name   string
	Points []Point
}

// DailyOptions describes a chart of up to three daily series.
type DailyOptions struct {
	// ID prefixes the ids of the chart's <title> and <desc>; it must be
	// unique on the page.
	ID    string
	Title string
	// Desc is the text description for assistive technology; when empty a
	// summary of the data (range, totals, peaks) is written.
	Desc string
	// YAxis is the value axis title with its unit, e.g. "requests/day".
	YAxis string
	// From and To bound the x axis, inclusive, as UTC days. A zero bound is
	// taken from the data. Days without a point are zero.
	From, To time.Time
	// Series beyond the third are not drawn (the stylesheet has three
	// series colours); the description says so.
	Series []Series
	// Area fills under each line.
	Area bool
}

// maxDays bounds the x axis so a wrong From cannot produce a huge document.
const maxDays = 1830

// Daily draws daily series as lines over a date axis with round value
// ticks, grid lines, axis titles and, for more than one series, a legend.
// Missing days are zero; values below zero are drawn as zero.
func Daily(opts DailyOptions) string {
	return drawDaily(opts, false)
}

// Cumulative draws running totals of daily increments as a step chart,
// e.g. tenants migrated over time from per-day migration counts. Points
// before From count towards the starting total.
func Cumulative(opts DailyOptions) string {
	return drawDaily(opts, true)
}

// dailyData is DailyOptions reduced to one value per series and day.
type dailyData struct {
	days    []time.Time
	names   []string
	values  [][]int64
	max     int64
	dropped int
}

func prepareDaily(o DailyOptions, cumulative bool) (dailyData, bool) {
	var d dailyData
	series := o.Series
	if len(series) > maxSeries {
		d.dropped = len(series) - maxSeries
		series = series[:maxSeries]
	}
	if len(series) == 0 {
		return d, false
	}
	from, to, ok := dayRange(o.From, o.To, series)
	if !ok {
		return d, false
	}
	n := int(to.Sub(from)/(24*time.Hour)) + 1
	if n > maxDays {
		from, n = to.AddDate(0, 0, -(maxDays-1)), maxDays
	}
	for i := range n {
		d.days = append(d.days, from.AddDate(0, 0, i))
	}
	for _, s := range series {
		vals := make([]int64, n)
		var base int64
		for _, p := range s.Points {
			i := int(day(p.Day).Sub(from) / (24 * time.Hour))
			v := clampValue(p.Value)
			switch {
			case i < 0 && cumulative:
				base = min(base+v, maxValue)
			case i >= 0 && i < n:
				vals[i] = min(vals[i]+v, maxValue)
			}
		}
		if cumulative {
			for i := range vals {
				base = min(base+vals[i], maxValue)
				vals[i] = base
			}
		}
		for _, v := range vals {
			d.max = max(d.max, v)
		}
		d.names = append(d.names, s.Name)
		d.values = append(d.values, vals)
	}
	return d, true
}

// dayRange resolves the x axis bounds, filling zero bounds from the data.
func dayRange(from, to time.Time, series []Series) (time.Time, time.Time, bool) {
	var lo, hi time.Time
	for _, s := range series {
		for _, p := range s.Points {
			dd := day(p.Day)
			if lo.IsZero() || dd.Before(lo) {
				lo = dd
			}
			if hi.IsZero() || dd.After(hi) {
				hi = dd
			}
		}
	}
	switch {
	case !from.IsZero():
		from = day(from)
	case !lo.IsZero():
		from = lo
	default:
		from = day(to)
	}
	switch {
	case !to.IsZero():
		to = day(to)
	case !hi.IsZero():
		to = hi
	default:
		to = from
	}
	if from.Year() <= 1 || to.Year() <= 1 {
		return from, to, false // no bound given and no point to take one from
	}
	if to.Before(from) {
		from, to = to, from
	}
	return from, to, true
}

// plotArea is the rectangle data is drawn in, in viewBox units.
type plotArea struct {
	left, right, top, bottom float64
}

func (p plotArea) width() float64  { return p.right - p.left }
func (p plotArea) height() float64 { return p.bottom - p.top }

// valuePlot maps data to viewBox coordinates: n points across, values
// from 0 to topVal up.
type valuePlot struct {
	plotArea
	n      int
	topVal int64
}

func (l valuePlot) x(i int) float64 {
	if l.n < 2 {
		return l.left + l.width()/2
	}
	return l.left + l.width()*float64(i)/float64(l.n-1)
}

func (l valuePlot) y(v int64) float64 {
	return l.bottom - l.height()*float64(v)/float64(l.topVal)
}

func drawDaily(o DailyOptions, cumulative bool) string {
	kind := "daily"
	if cumulative {
		kind = "cumulative"
	}
	id := chartID(o.ID, kind, o.Title)
	d, ok := prepareDaily(o, cumulative)
	if !ok {
		return noData(id, o.Title, o.Desc)
	}
	yAxis := o.YAxis
	if yAxis == "" {
		yAxis = "count"
	}
	ticks := niceTicks(d.max, 5)
	tickW := 0.0
	for _, t := range ticks {
		tickW = max(tickW, textWidth(formatTick(t), tickSize))
	}
	legend, y := layoutLegend(d.names, 24)
	l := valuePlot{n: len(d.days), topVal: ticks[len(ticks)-1]}
	l.left, l.right = pad+tickW+6, viewWidth-24
	l.top = y + 22 + 12
	l.bottom = l.top + 190
	height := l.bottom + 52

	desc := o.Desc
	if desc == "" {
		desc = describeDaily(o.Title, yAxis, d, cumulative)
	}
	var s svg
	s.start(id, height, o.Title, desc)
	s.text(pad, 24, "start", titleSize, true, truncate(o.Title, titleSize, viewWidth-2*pad))
	drawLegend(&s, legend)
	s.text(pad, y+22, "start", labelSize, false, yAxis)
	drawValueGrid(&s, l, ticks)
	drawDayAxis(&s, l, d.days)
	for k, vals := range d.values {
		drawSeries(&s, l, k, vals, o.Area, cumulative)
	}
	return s.String()
}

// drawValueGrid draws horizontal grid lines with value labels, and the axes.
func drawValueGrid(s *svg, l valuePlot, ticks []int64) {
	for _, t := range ticks {
		y := l.y(t)
		if t != 0 {
			s.leaf("line", "class", "grid", "x1", num(l.left), "y1", num(y), "x2", num(l.right), "y2", num(y), "stroke-width", "1")
		}
		s.text(l.left-6, y+5, "end", tickSize, false, formatTick(t))
	}
	s.open("g", "class", "axis", "stroke-width", "1.5")
	s.leaf("line", "x1", num(l.left), "y1", num(l.top), "x2", num(l.left), "y2", num(l.bottom))
	s.leaf("line", "x1", num(l.left), "y1", num(l.bottom), "x2", num(l.right), "y2", num(l.bottom))
	s.close("g")
}

// drawDayAxis labels days under the plot and titles the axis with the years.
func drawDayAxis(s *svg, l valuePlot, days []time.Time) {
	maxLabels := max(1, int(l.width()/(textWidth("Sep 30", tickSize)+14)))
	for _, i := range dayTicks(days, maxLabels) {
		x := l.x(i)
		if l.n > 1 && i > 0 {
			s.leaf("line", "class", "grid", "x1", num(x), "y1", num(l.top), "x2", num(x), "y2", num(l.bottom), "stroke-width", "1", "stroke-dasharray", "2 4")
		}
		label := days[i].Format("Jan 2")
		if days[i].YearDay() == 1 && l.n > 400 {
			label = days[i].Format("2006")
		}
		s.text(x, l.bottom+20, "middle", tickSize, false, label)
	}
	years := days[0].Format("2006")
	if last := days[len(days)-1]; last.Year() != days[0].Year() {
		years += "–" + last.Format("2006")
	}
	s.text(l.left+l.width()/2, l.bottom+44, "middle", labelSize, false, "Day (UTC), "+years)
}

// dayTicks picks the days to label: the finest of days, Mondays, month or
// year starts that fits maxLabels, aligned to the calendar (not to the
// first day) so labels do not shift as the range slides.
func dayTicks(days []time.Time, maxLabels int) []int {
	type rule struct {
		unit string
		n    int
	}
	rules := []rule{{"day", 1}, {"day", 2}, {"week", 1}, {"week", 2}, {"month", 1}, {"month", 2}, {"month", 3}, {"month", 6}, {"year", 1}, {"year", 2}, {"year", 5}}
	epochMonday := time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)
	for _, r := range rules {
		var out []int
		for i, d := range days {
			var hit bool
			switch r.unit {
			case "day":
				hit = i%r.n == 0
			case "week":
				weeks := int(d.Sub(epochMonday) / (7 * 24 * time.Hour))
				hit = d.Weekday() == time.Monday && weeks%r.n == 0
			case "month":
				hit = d.Day() == 1 && (d.Year()*12+int(d.Month())-1)%r.n == 0
			case "year":
				hit = d.YearDay() == 1 && d.Year()%r.n == 0
			}
			if hit {
				out = append(out, i)
			}
		}
		if len(out) >= 1 && len(out) <= maxLabels {
			return out
		}
	}
	return []int{0}
}

// drawSeries draws series k as a line (a step line for running totals),
// with an optional filled area; a single day is a dot.
func drawSeries(s *svg, l valuePlot, k int, vals []int64, area, step bool) {
	s.open("g", "class", fmt.Sprintf("series-%d", k+1))
	if len(vals) == 1 {
		s.leaf("circle", "cx", num(l.x(0)), "cy", num(l.y(vals[0])), "r", "4")
		s.close("g")
		return
	}
	var line strings.Builder
	for i, v := range vals {
		if i == 0 {
			fmt.Fprintf(&line, "M%s %s", num(l.x(i)), num(l.y(v)))
			continue
		}
		if step {
			fmt.Fprintf(&line, " L%s %s", num(l.x(i)), num(l.y(vals[i-1])))
		}
		fmt.Fprintf(&line, " L%s %s", num(l.x(i)), num(l.y(v)))
	}
	if area { // the line, closed along the x axis
		d := fmt.Sprintf("M%s %s L%s L%s %s Z", num(l.x(0)), num(l.bottom), strings.TrimPrefix(line.String(), "M"), num(l.x(len(vals)-1)), num(l.bottom))
		s.leaf("path", "d", d, "fill-opacity", "0.15", "stroke", "none")
	}
	kv := []string{"d", line.String(), "fill", "none", "stroke-width", "2", "stroke-linejoin", "round"}
	if dash := seriesDash[k]; dash != "" {
		kv = append(kv, "stroke-dasharray", dash)
	}
	s.leaf("path", kv...)
	s.close("g")
}

// legendItem is one placed legend entry.
type legendItem struct {
	x, y float64
	k    int
	name string
}

// layoutLegend places entries left to right, wrapping rows, below the
// title baseline y; it returns the entries and the baseline of the last
// row (y itself when there is no legend: one series needs none).
func layoutLegend(names []string, y float64) ([]legendItem, float64) {
	if len(names) < 2 {
		return nil, y
	}
	const swatch, gap, rowH = 22.0, 6.0, 22.0
	var items []legendItem
	x, y := float64(pad), y+rowH
	for k, name := range names {
		name = truncate(name, labelSize, viewWidth-2*pad-swatch-gap)
		w := swatch + gap + textWidth(name, labelSize)
		if x > pad && x+w > viewWidth-pad {
			x, y = pad, y+rowH
		}
		items = append(items, legendItem{x: x, y: y, k: k, name: name})
		x += w + 16
	}
	return items, y
}

func drawLegend(s *svg, items []legendItem) {
	for _, it := range items {
		s.open("g", "class", fmt.Sprintf("series-%d", it.k+1))
		kv := []string{"x1", num(it.x), "y1", num(it.y - 5), "x2", num(it.x + 22), "y2", num(it.y - 5), "stroke-width", "3"}
		if dash := seriesDash[it.k]; dash != "" {
			kv = append(kv, "stroke-dasharray", dash)
		}
		s.leaf("line", kv...)
		s.close("g")
		s.text(it.x+28, it.y, "start", labelSize, false, it.name)
	}
}

// describeDaily summarises the data in words for screen readers.
func describeDaily(title, unit string, d dailyData, cumulative bool) string {
	var b strings.Builder
	first, last := d.days[0], d.days[len(d.days)-1]
	if title != "" {
		b.WriteString(strings.TrimRight(title, ".") + ". ")
	}
	what := "Daily values"
	if cumulative {
		what = "Running totals"
	}
	fmt.Fprintf(&b, "%s from %s to %s (%d days), in %s.", what, first.Format(isoDay), last.Format(isoDay), len(d.days), unit)
	for k, vals := range d.values {
		name := d.names[k]
		if name == "" {
			name = fmt.Sprintf("Series %d", k+1)
		}
		if cumulative {
			fmt.Fprintf(&b, " %s: %s by %s, from %s on %s.", name, grouped(vals[len(vals)-1]), last.Format(isoDay), grouped(vals[0]), first.Format(isoDay))
			continue
		}
		var total, peak int64
		peakAt := 0
		for i, v := range vals {
			total = min(total+v, maxValue)
			if v > peak {
				peak, peakAt = v, i
			}
		}
		fmt.Fprintf(&b, " %s: total %s, peak %s on %s, last day %s.", name, grouped(total), grouped(peak), d.days[peakAt].Format(isoDay), grouped(vals[len(vals)-1]))
	}
	if d.dropped > 0 {
		fmt.Fprintf(&b, " %d more series not drawn.", d.dropped)
	}
	return b.String()
}
