package server

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/admin"
	"github.com/keyshift/keyshift/internal/oauth"
	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestStart_InstancesTogetherOnFreshPostgres_AllStartOneOfEach starts
// several instances at the same moment on a fresh PostgreSQL schema, each
// doing what `keyshift serve` does on its first start (migrate, initialise,
// build the server: console client, signing keys), and checks that all of
// them start, that exactly one platform tenant, console client, operator
// client and active signing key per algorithm exist, and that every
// instance serves a token. It is repeated on fresh schemas because the
// race it guards against was lost about one start in three.
func TestStart_InstancesTogetherOnFreshPostgres_AllStartOneOfEach(t *testing.T) {
	if testing.Short() {
		t.Skip("starts several servers, repeatedly")
	}
	dsn := pgtest.DSN(t)
	const instances, rounds = 4, 4
	for round := range rounds {
		schema := pgtest.NewSchema(t, dsn) // empty, as a fresh database
		db := dsn + "&search_path=" + schema
		startTogether(t, round, db, instances)
	}
}

func startTogether(t *testing.T, round int, db string, instances int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	const issuer = "http://together.test"
	secret := "together-test-master-secret-of-at-least-32-characters"
	type started struct {
		st  store.Store
		srv *Server
		op  *OperatorCredentials
		err error
	}
	out := make([]started, instances)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := range out {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-release
			r := &out[i]
			if r.st, r.err = openSchemaStore(ctx, db, logger); r.err != nil {
				return
			}
			if r.op, r.err = Initialise(ctx, r.st, issuer, time.Now); r.err != nil {
				return
			}
			r.srv, r.err = New(ctx, Config{Issuer: issuer, Logger: logger, Secret: secret}, r.st)
		}()
	}
	close(release)
	wg.Wait()
	var ops []*OperatorCredentials
	for i, r := range out {
		if r.st != nil {
			defer r.st.Close()
		}
		if r.err != nil {
			t.Fatalf("round %d: instance %d did not start: %v", round, i, r.err)
		}
		if r.op != nil {
			ops = append(ops, r.op)
		}
	}
	if len(ops) != 1 {
		t.Fatalf("round %d: %d instances created an operator client, want exactly 1", round, len(ops))
	}
	st := out[0].st
	if _, err := st.GetTenant(ctx, store.PlatformTenant); err != nil {
		t.Fatalf("round %d: platform tenant: %v", round, err)
	}
	clients, err := st.ListClients(ctx, store.PlatformTenant)
	if err != nil {
		t.Fatal(err)
	}
	consoles, operators := 0, 0
	for _, c := range clients {
		switch {
		case c.ID == admin.ConsoleClientID:
			consoles++
		case slices.Contains(c.Scopes, oauth.ScopeAdmin):
			operators++
		}
	}
	if consoles != 1 || operators != 1 {
		t.Errorf("round %d: %d console clients and %d operator clients, want 1 and 1", round, consoles, operators)
	}
	keys, err := st.ListSigningKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	active := map[string]int{}
	for _, k := range keys {
		if k.State == store.KeyActive {
			active[k.Alg]++
		}
	}
	for alg, n := range active {
		if n != 1 {
			t.Errorf("round %d: %d active %s signing keys, want 1", round, n, alg)
		}
	}
	for i, r := range out {
		if err := r.srv.Start(ctx); err != nil {
			t.Fatalf("round %d: start instance %d: %v", round, i, err)
		}
		hs := httptest.NewServer(r.srv.Handler())
		cc := clientcredentials.Config{ClientID: ops[0].ClientID, ClientSecret: ops[0].ClientSecret, TokenURL: hs.URL + "/oauth2/token"}
		_, err := cc.Token(ctx)
		hs.Close()
		if err != nil {
			t.Errorf("round %d: token from instance %d: %v", round, i, err)
		}
	}
}

// openSchemaStore opens db as `keyshift serve` does.
func openSchemaStore(ctx context.Context, db string, logger *slog.Logger) (store.Store, error) {
	st, err := OpenStore(ctx, db, logger, time.Now)
	if err != nil {
		return nil, errors.Join(errors.New("open store"), err)
	}
	return st, nil
}
