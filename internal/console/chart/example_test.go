package chart_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/console/chart"
)

// head prints the first n lines of a chart: the root element, its title
// and its description.
func head(svg string, n int) {
	lines := strings.Split(svg, "\n")
	fmt.Println(strings.Join(lines[:min(n, len(lines))], "\n"))
}

func day(s string) time.Time {
	t, err := time.Parse("2006-01-02", s)
	if err != nil {
		panic(err)
	}
	return t
}

func ExampleDaily() {
	var keys, tokens []chart.Point
	for i := range 90 {
		d := day("2026-08-30").AddDate(0, 0, i)
		keys = append(keys, chart.Point{Day: d, Value: int64(120_000 - 1_000*i)})
		tokens = append(tokens, chart.Point{Day: d, Value: int64(1_000 * i)})
	}
	svg := chart.Daily(chart.DailyOptions{
		ID:    "usage-90d",
		Title: "Requests per day",
		YAxis: "requests/day",
		Series: []chart.Series{
			{Name: "API key requests", Points: keys},
			{Name: "OAuth token requests", Points: tokens},
		},
	})
	head(svg, 3)
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 480 322" role="img" aria-labelledby="usage-90d-title usage-90d-desc">
	// <title id="usage-90d-title">Requests per day</title>
	// <desc id="usage-90d-desc">Requests per day. Daily values from 2026-08-30 to 2026-11-27 (90 days), in requests/day. API key requests: total 6,795,000, peak 120,000 on 2026-08-30, last day 31,000. OAuth token requests: total 4,005,000, peak 89,000 on 2026-11-27, last day 89,000.</desc>
}

func ExampleCumulative() {
	svg := chart.Cumulative(chart.DailyOptions{
		ID:    "migrated",
		Title: "Tenants migrated",
		YAxis: "tenants",
		From:  day("2026-09-01"),
		To:    day("2026-11-29"),
		Series: []chart.Series{{Name: "Tenants migrated", Points: []chart.Point{
			{Day: day("2026-06-15"), Value: 3}, // before From: counts towards the start
			{Day: day("2026-09-10"), Value: 2},
			{Day: day("2026-10-20"), Value: 5},
		}}},
	})
	head(svg, 3)
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 480 300" role="img" aria-labelledby="migrated-title migrated-desc">
	// <title id="migrated-title">Tenants migrated</title>
	// <desc id="migrated-desc">Tenants migrated. Running totals from 2026-09-01 to 2026-11-29 (90 days), in tenants. Tenants migrated: 10 by 2026-11-29, from 3 on 2026-09-01.</desc>
}

func ExampleSparkline() {
	fmt.Print(chart.Sparkline([]int64{3, 5, 0, 8}, "Key acme-loader, requests over 30 days"))
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" class="sparkline" width="120" height="24" viewBox="0 0 120 24" role="img" aria-label="Key acme-loader, requests over 30 days">
	// <title>Key acme-loader, requests over 30 days</title>
	// <desc>4 values, highest 8, last 8.</desc>
	// <g class="series-1">
	// <polyline points="2,14.5 40.7,9.5 79.3,22 118,2" fill="none" stroke-width="1.5" stroke-linejoin="round"/>
	// <circle cx="118" cy="2" r="2"/>
	// </g>
	// </svg>
}

func ExampleTimeline() {
	svg := chart.Timeline(chart.TimelineOptions{
		ID:    "sunset",
		Title: "Sunset timeline",
		From:  day("2026-01-01"),
		To:    day("2027-07-01"),
		Today: day("2026-11-27"),
		Milestones: []chart.Milestone{
			{At: day("2026-03-01"), Label: "Deprecated"},
			{At: day("2026-04-01"), Label: "OAuth only for new tenants"},
			{At: day("2026-09-01"), Label: "No new keys"},
			{At: day("2027-03-31"), Label: "Keys off"},
		},
		Brownouts: []chart.Brownout{
			{Start: day("2026-12-01").Add(10 * time.Hour), End: day("2026-12-01").Add(12 * time.Hour), Label: "Brownout 1", Tenants: 12},
		},
		Extensions: []chart.Extension{{Tenant: "Acme Procurement", Until: day("2027-06-30")}},
	})
	head(svg, 3)
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 480 398" role="img" aria-labelledby="sunset-title sunset-desc">
	// <title id="sunset-title">Sunset timeline</title>
	// <desc id="sunset-desc">Sunset timeline. Timeline from 2026-01-01 to 2027-07-01. Milestones: Deprecated 2026-03-01; OAuth only for new tenants 2026-04-01; No new keys 2026-09-01; Keys off 2027-03-31. Brownouts: Brownout 1 2026-12-01 10:00 to 2026-12-01 12:00 UTC, for 12 tenants. Extensions: Acme Procurement until 2027-06-30. Today is 2026-11-27.</desc>
}

func ExampleBars() {
	svg := chart.Bars(chart.BarOptions{
		ID:        "impact",
		Title:     "Daily requests that would fail",
		ValueAxis: "requests/day that would fail",
		LabelAxis: "Tenant",
		Bars: []chart.Bar{
			{Label: "acme", Value: 1_234_567},
			{Label: "globex", Value: 250_000},
			{Label: "initech", Value: 999},
		},
	})
	head(svg, 3)
	// Output:
	// <svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 480 196" role="img" aria-labelledby="impact-title impact-desc">
	// <title id="impact-title">Daily requests that would fail</title>
	// <desc id="impact-desc">Daily requests that would fail. 3 bars, in requests/day that would fail: acme 1,234,567; globex 250,000; initech 999.</desc>
}
