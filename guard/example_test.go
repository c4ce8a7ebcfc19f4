package guard_test

import (
	"fmt"
	"log"
	"net/http"

	"github.com/keyshift/keyshift/guard"
)

// Protect a handler: tokens need the scope core.invoice.read.
func Example() {
	g, err := guard.New(guard.Config{Issuer: "https://auth.example.com", JWKSURL: "https://auth.example.com/.well-known/jwks.json"})
	if err != nil {
		log.Fatal(err)
	}
	http.Handle("GET /api/invoices/{id}", g.Require("core.invoice.read")(http.HandlerFunc(invoice)))
	// http.ListenAndServe(":8000", nil)
}

func invoice(w http.ResponseWriter, r *http.Request) {
	p, _ := guard.PrincipalFrom(r.Context())
	fmt.Fprintf(w, "invoice %s of tenant %s, read by %s\n", r.PathValue("id"), p.Tenant, p.ClientID)
}

// Accept legacy keys too, while the sunset timeline allows: keys are checked
// by introspection at keyshift, and a route says what a token and a key
// each need.
func ExampleRemoteKeys() {
	g, err := guard.New(guard.Config{
		Issuer:     "https://auth.example.com",
		JWKSURL:    "https://auth.example.com/.well-known/jwks.json",
		KeyChecker: guard.RemoteKeys("https://auth.example.com/oauth2/introspect", "ksc_billing_api", "kss_…", 0),
	})
	if err != nil {
		log.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("POST /api/invoices", g.Protect(guard.Requirement{
		Scopes:      []string{"core.invoice.write"},
		Permissions: []string{"invoices:create"},
	})(http.HandlerFunc(invoice)))
}
