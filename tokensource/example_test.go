package tokensource_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/keyshift/keyshift/tokensource"
)

// An integration that used a static API key gets its token from a Source and
// calls the API through the Source's client: tokens are minted, cached,
// refreshed at 20 h of 24 and replaced after a 401 without further code.
func Example() {
	src, err := tokensource.New(tokensource.Config{
		Issuer:       "https://auth.example.com", // or TokenURL: "https://auth.example.com/oauth2/token"
		ClientID:     os.Getenv("KEYSHIFT_CLIENT_ID"),
		ClientSecret: os.Getenv("KEYSHIFT_CLIENT_SECRET"),
		Scopes:       []string{"core.common.read", "core.invoice.read"},
		// Share one token between every process of this integration on the host.
		CacheFile: filepath.Join(os.TempDir(), "erp-sync.token.json"),
	})
	if err != nil {
		log.Fatal(err)
	}
	api := src.NewClient(nil) // an *http.Client that adds "Authorization: Bearer …"
	resp, err := api.Get("https://api.example.com/api/invoices")
	var te *tokensource.Error
	switch {
	case errors.Is(err, tokensource.ErrInvalidClient):
		log.Fatal("the client secret is wrong or was rotated: ", err)
	case errors.As(err, &te):
		log.Fatal(te.Fix())
	case err != nil:
		log.Fatal(err)
	}
	defer resp.Body.Close()
}

func ExampleSource_Current() {
	// A stand-in token endpoint for the example.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, secret, _ := r.BasicAuth()
		if id != "erp-sync" || secret != "kss_example" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"error":"invalid_client"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"access_token":"eyJ.example.token","token_type":"Bearer","expires_in":86399,"scope":"core.invoice.read"}`)
	}))
	defer srv.Close()

	src, _ := tokensource.New(tokensource.Config{TokenURL: srv.URL + "/oauth2/token",
		ClientID: "erp-sync", ClientSecret: "kss_example", Scopes: []string{"core.invoice.read"}})
	tok, err := src.Current(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(tok.AccessToken, tok.Scopes, tok.Expiry.Sub(tok.IssuedAt))
	fmt.Println("refresh after", tok.RefreshAt.Sub(tok.IssuedAt).Round(time.Hour))

	wrong, _ := tokensource.New(tokensource.Config{TokenURL: srv.URL + "/oauth2/token",
		ClientID: "erp-sync", ClientSecret: "kss_rotated_away"})
	_, err = wrong.Current(context.Background())
	fmt.Println(errors.Is(err, tokensource.ErrInvalidClient))
	// Output:
	// eyJ.example.token [core.invoice.read] 23h59m59s
	// refresh after 20h0m0s
	// true
}
