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
	"strings"
	"time"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/apikey"
	"github.com/keyshift/keyshift/internal/oauth"
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

// Result says what Seed created; secrets are empty when the objects existed.
type Result struct {
	Tenant       string
	ClientID     string
	ClientSecret string
	Scopes       []string
	KeyID        string
	Key          string
	Timeline     apikey.Timeline
	// Users are the demo's people (fixed demo passwords, see DemoUsers).
	Users []DemoUser
	// AppClientID is a public app of the flows for people (code + PKCE,
	// device code, refresh tokens) registered with AppRedirectURI.
	AppClientID string
}

// DemoUser is a person the demo signs in with.
type DemoUser struct {
	Tenant, Login, Password, Role string
}

// DemoUsers are the demo's people. Their passwords are public: the demo
// runs on loopback with throwaway data.
var DemoUsers = []DemoUser{
	{Tenant: store.PlatformTenant, Login: "operator", Password: "demo-operator-pass", Role: store.RoleAdmin},
	{Tenant: Tenant, Login: "alice", Password: "demo-alice-pass", Role: store.RoleAdmin},
	{Tenant: Tenant, Login: "bob", Password: "demo-bob-password"},
}

// AppRedirectURI is where the demo app receives codes: a loopback
// address, where native apps listen (any port, RFC 8252 §7.3).
const AppRedirectURI = "http://127.0.0.1/callback"

// GuideURL is where the demo's deprecation headers point.
const GuideURL = "https://keyshift.example/docs/migration-guide"

var demoScopes = []string{"core.common.read", "core.invoice.read", "core.invoice.write", "core.purchase_order.read", "core.supplier.read"}

// Seed loads the catalogue and creates tenant acme with one integration
// client, through the admin API's own operations (so audit events are written).
// It is idempotent: existing objects are left alone.
func Seed(ctx context.Context, adm *admin.API, st store.Store, now time.Time) (Result, error) {
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
	var err error
	if res.Timeline, err = seedTimeline(ctx, adm, now); err != nil {
		return Result{}, err
	}
	if err := seedClient(ctx, adm, st, &res); err != nil {
		return Result{}, err
	}
	if err := seedKey(ctx, adm, st, &res); err != nil {
		return Result{}, err
	}
	if err := seedUsers(ctx, adm, st, &res); err != nil {
		return Result{}, err
	}
	if err := seedApp(ctx, adm, st, &res); err != nil {
		return Result{}, err
	}
	return res, nil
}

// seedUsers creates the demo's people unless they exist.
func seedUsers(ctx context.Context, adm *admin.API, st store.Reader, res *Result) error {
	for _, u := range DemoUsers {
		res.Users = append(res.Users, u)
		if _, err := st.GetUserByLogin(ctx, u.Tenant, u.Login); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("look up demo user %s: %w", u.Login, err)
		}
		pw := u.Password
		req := admin.CreateUserRequest{Login: u.Login, Name: strings.ToUpper(u.Login[:1]) + u.Login[1:],
			Email: u.Login + "@" + u.Tenant + ".example", Password: &pw}
		if u.Role != "" {
			req.Roles = []string{u.Role}
		}
		if _, err := adm.CreateUser(ctx, admin.SystemPrincipal(), u.Tenant, req); err != nil {
			return fmt.Errorf("create demo user %s: %w", u.Login, err)
		}
	}
	return nil
}

// seedApp registers the demo's public app of the flows for people.
func seedApp(ctx context.Context, adm *admin.API, st store.Reader, res *Result) error {
	clients, err := st.ListClients(ctx, Tenant)
	if err != nil {
		return fmt.Errorf("list demo clients: %w", err)
	}
	for _, c := range clients {
		if c.Contact.Login == "demo-app" {
			res.AppClientID = c.ID
			return nil
		}
	}
	created, err := adm.CreateClient(ctx, admin.SystemPrincipal(), Tenant, admin.CreateClientRequest{
		Name:         "Acme expenses app",
		Scopes:       []string{"core.invoice.read"},
		GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantDeviceCode},
		RedirectURIs: []string{AppRedirectURI},
		AuthMethod:   oauth.AuthNone,
		Contact:      store.Contact{Login: "demo-app", FirstName: "Dana", LastName: "Lee", Email: "dana.lee@acme.example"},
	})
	if err != nil {
		return fmt.Errorf("create demo app: %w", err)
	}
	res.AppClientID = created.ClientID
	return nil
}

func seedClient(ctx context.Context, adm *admin.API, st store.Reader, res *Result) error {
	clients, err := st.ListClients(ctx, Tenant)
	if err != nil {
		return fmt.Errorf("list demo clients: %w", err)
	}
	for _, c := range clients {
		if c.Contact.Login == "erp-integration" {
			res.ClientID = c.ID
			return nil
		}
	}
	created, err := adm.CreateClient(ctx, admin.SystemPrincipal(), Tenant, admin.CreateClientRequest{
		Name:   "ERP invoice sync",
		Scopes: demoScopes,
		Contact: store.Contact{Login: "erp-integration", FirstName: "Erin", LastName: "Park",
			Email: "erin.park@acme.example"},
	})
	if err != nil {
		return fmt.Errorf("create demo client: %w", err)
	}
	res.ClientID, res.ClientSecret = created.ClientID, created.ClientSecret
	return nil
}

// seedKey creates the legacy key the ERP integration still uses.
func seedKey(ctx context.Context, adm *admin.API, st store.Reader, res *Result) error {
	keys, err := st.ListAPIKeys(ctx, store.APIKeyFilter{Tenant: Tenant})
	if err != nil {
		return fmt.Errorf("list demo keys: %w", err)
	}
	for _, k := range keys {
		if k.Contact.Login == "erp-legacy" {
			res.KeyID = k.ID
			return nil
		}
	}
	created, err := adm.CreateKey(ctx, admin.SystemPrincipal(), Tenant, admin.CreateKeyRequest{
		Name:        "ERP legacy key",
		Description: "the key the ERP integration used before OAuth",
		Permissions: []string{"invoices:read", "suppliers:read", "purchase_orders:read"},
		Contact:     store.Contact{Login: "erp-legacy", FirstName: "Erin", LastName: "Park", Email: "erin.park@acme.example"},
	})
	if err != nil {
		return fmt.Errorf("create demo key: %w", err)
	}
	res.KeyID, res.Key = created.ID, created.Key
	return nil
}

// seedTimeline sets a sunset timeline around now unless one exists:
// deprecated a month ago, no new keys in two months, keys off in four.
func seedTimeline(ctx context.Context, adm *admin.API, now time.Time) (apikey.Timeline, error) {
	p := admin.SystemPrincipal()
	t, err := adm.GetTimeline(ctx, p)
	if err != nil {
		return apikey.Timeline{}, fmt.Errorf("read timeline: %w", err)
	}
	if t.KeysOffAt != nil {
		return t, nil
	}
	day := now.UTC().Truncate(24 * time.Hour)
	at := func(days int) *time.Time { d := day.AddDate(0, 0, days); return &d }
	t = apikey.Timeline{DeprecatedAt: at(-30), NoNewKeysAt: at(60), KeysOffAt: at(120), MigrationGuideURL: GuideURL}
	if t, err = adm.PutTimeline(ctx, p, t); err != nil {
		return apikey.Timeline{}, fmt.Errorf("set demo timeline: %w", err)
	}
	return t, nil
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
