package notify

import (
	"net/http"

	"github.com/keyshift/keyshift/internal/safehttp"
)

// maxIdleConnsPerHost lets a few deliveries to one receiver share
// connections.
const maxIdleConnsPerHost = 4

// httpClients returns the clients for tenants' and for the operator's
// webhooks: safehttp's, which follow no redirect and use no proxy, the
// tenants' one also refusing non-public addresses unless
// cfg.AllowPrivateNetworks. They are separate so that a pooled connection
// dialled for the operator (who may use an internal address) is never
// reused for a tenant.
func httpClients(cfg Config) (tenant, operator *http.Client) {
	if cfg.HTTPClient != nil {
		c := *cfg.HTTPClient
		c.CheckRedirect = safehttp.NoRedirect
		return &c, &c
	}
	operator = safehttp.NewClient(safehttp.Config{Timeout: cfg.Timeout, AllowPrivate: true, MaxIdleConnsPerHost: maxIdleConnsPerHost})
	if cfg.AllowPrivateNetworks {
		return operator, operator
	}
	return safehttp.NewClient(safehttp.Config{Timeout: cfg.Timeout, MaxIdleConnsPerHost: maxIdleConnsPerHost}), operator
}
