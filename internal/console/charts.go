package console

import (
	"net/http"

	"github.com/keyshift/keyshift/internal/console/chart"
)

func sparkline(series []int64, label string) string { return chart.Sparkline(series, label) }

// trafficChart is replaced when the traffic counts land (admin.API.Traffic).
func (c *Console) trafficChart(_ *http.Request, _ *visit, _ string) (string, error) {
	return "", nil
}
