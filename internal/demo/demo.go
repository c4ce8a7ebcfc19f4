// Package demo seeds a store with the data `keyshift serve --demo` shows a
// newcomer: tenant acme, a procurement scope catalogue and one integration
// client.
package demo

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/store"
)

//go:embed catalogue.json
var catalogueJSON []byte

// CatalogueEntry is one scope of a catalogue file.
type CatalogueEntry struct {
	Name        string   `json:"name"`
	Description string   `json:"description"`
	Permissions []string `json:"permissions"`
}

// Catalogue returns the embedded procurement scope catalogue.
func Catalogue() []CatalogueEntry {
	entries, err := ParseCatalogue(bytes.NewReader(catalogueJSON))
	if err != nil {
		panic("embedded catalogue is invalid: " + err.Error()) // caught by tests
	}
	return entries
}

// ParseCatalogue reads a catalogue file: {"scopes":[{"name","description","permissions"}]}.
func ParseCatalogue(r io.Reader) ([]CatalogueEntry, error) {
	dec := json.NewDecoder(io.LimitReader(r, 8<<20))
	dec.DisallowUnknownFields()
	var f struct {
		Scopes []CatalogueEntry `json:"scopes"`
	}
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("parse scope catalogue: %w", err)
	}
	if len(f.Scopes) == 0 {
		return nil, errors.New("parse scope catalogue: no scopes")
	}
	return f.Scopes, nil
}

// Tenant is the demo tenant.
const Tenant = "acme"

// Result says what Seed created; Secret is empty when the client existed.
type Result struct {
	Tenant       string
	ClientID     string
	ClientSecret string
	Scopes       []string
}

var demoScopes = []string{"core.common.read", "core.invoice.read", "core.invoice.write", "core.purchase_order.read", "core.supplier.read"}

// Seed loads the catalogue and creates tenant acme with one integration
// client, through the admin API's own operations (so audit events are written).
// It is idempotent: existing objects are left alone.
func Seed(ctx context.Context, adm *admin.API, st store.Store) (Result, error) {
	p := admin.SystemPrincipal()
	if err := LoadCatalogue(ctx, adm, st, Catalogue()); err != nil {
		return Result{}, err
	}
	if _, err := st.GetTenant(ctx, Tenant); errors.Is(err, store.ErrNotFound) {
		if _, err := adm.CreateTenant(ctx, p, admin.CreateTenantRequest{ID: Tenant, Name: "Acme Corp"}); err != nil {
			return Result{}, fmt.Errorf("create demo tenant: %w", err)
		}
	} else if err != nil {
		return Result{}, fmt.Errorf("look up demo tenant: %w", err)
	}
	res := Result{Tenant: Tenant, Scopes: demoScopes}
	clients, err := st.ListClients(ctx, Tenant)
	if err != nil {
		return Result{}, fmt.Errorf("list demo clients: %w", err)
	}
	for _, c := range clients {
		if c.Contact.Login == "erp-integration" {
			res.ClientID = c.ID
			return res, nil
		}
	}
	created, err := adm.CreateClient(ctx, p, Tenant, admin.CreateClientRequest{
		Name:   "ERP invoice sync",
		Scopes: demoScopes,
		Contact: store.Contact{Login: "erp-integration", FirstName: "Erin", LastName: "Park",
			Email: "erin.park@acme.example"},
	})
	if err != nil {
		return Result{}, fmt.Errorf("create demo client: %w", err)
	}
	res.ClientID, res.ClientSecret = created.ClientID, created.ClientSecret
	return res, nil
}

// LoadCatalogue puts every entry that does not exist yet into the catalogue.
func LoadCatalogue(ctx context.Context, adm *admin.API, st store.Reader, entries []CatalogueEntry) error {
	p := admin.SystemPrincipal()
	for _, e := range entries {
		if _, err := st.GetScope(ctx, e.Name); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up scope %s: %w", e.Name, err)
		}
		if !scopeName.MatchString(e.Name) {
			return fmt.Errorf("catalogue scope %q: not service.object.right", e.Name)
		}
		if _, err := adm.PutScope(ctx, p, e.Name, admin.PutScopeRequest{Description: e.Description, Permissions: e.Permissions}); err != nil {
			return fmt.Errorf("catalogue scope %s: %w", e.Name, err)
		}
	}
	return nil
}

var scopeName = regexp.MustCompile(`^[a-z0-9_]+(\.[a-z0-9_]+){2,}$`)
