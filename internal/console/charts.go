package console

import (
	"net/http"

	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/console/chart"
)

// trafficDays is how far back the traffic charts look.
const trafficDays = 90

func sparkline(series []int64, label string) string { return chart.Sparkline(series, label) }

// trafficChart draws a tenant's daily requests by API key and by OAuth
// token over the last 90 days.
func (c *Console) trafficChart(r *http.Request, v *visit, tenant string) (string, error) {
	days, err := c.api.Traffic(r.Context(), v.principal, tenant, trafficDays)
	if err != nil {
		return "", err
	}
	keys := chart.Series{Name: "API key requests"}
	tokens := chart.Series{Name: "OAuth token requests"}
	for _, d := range days {
		keys.Points = append(keys.Points, chart.Point{Day: d.Day, Value: d.KeyRequests})
		tokens.Points = append(tokens.Points, chart.Point{Day: d.Day, Value: d.TokenRequests})
	}
	today := apikey.MidnightUTC(c.now())
	return chart.Daily(chart.DailyOptions{
		ID: "traffic", Title: "Requests per day, last 90 days",
		YAxis: "requests/day", From: today.AddDate(0, 0, -(trafficDays - 1)), To: today,
		Series: []chart.Series{keys, tokens},
	}), nil
}
