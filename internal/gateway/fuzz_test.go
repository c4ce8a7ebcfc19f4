package gateway_test

import (
	"strings"
	"testing"

	"github.com/keyshift/keyshift/internal/gateway"
)

// FuzzParseRoutes: any accepted file has routes whose patterns start with a
// method or a slash and carry no whitespace-bearing scope.
func FuzzParseRoutes(f *testing.F) {
	f.Add(routesYAML)
	f.Add("upstream: http://127.0.0.1:9000\npass_through: true\nrate_limit: {per_second: 5, burst: 1}\nroutes: []\n")
	f.Add("routes:\n  - {method: GET, path: /a, scope: [x]}\n")
	f.Fuzz(func(t *testing.T, y string) {
		rs, err := gateway.ParseRoutes(strings.NewReader(y))
		if err != nil {
			return
		}
		for _, r := range rs.Routes {
			if !strings.HasPrefix(r.Path, "/") {
				t.Fatalf("accepted path %q", r.Path)
			}
			for _, s := range append(r.Scopes, r.Permissions...) {
				if s == "" || strings.ContainsAny(s, " \t\"") {
					t.Fatalf("accepted scope %q", s)
				}
			}
		}
	})
}
