package server

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/keyshift/keyshift/internal/store/postgres/pgtest"
)

// TestServer_OnPostgres_IssuesTokens runs the same server on PostgreSQL,
// selected by a postgres:// --db URL (schema via search_path).
func TestServer_OnPostgres_IssuesTokens(t *testing.T) {
	dsn := pgtest.DSN(t)
	schema := pgtest.NewSchema(t, dsn)
	url := dsn + "&search_path=" + schema
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := OpenStore(ctx, url, logger, time.Now)
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	defer st.Close()
	op, err := Initialise(ctx, st, "http://pg.test", time.Now)
	if err != nil || op == nil {
		t.Fatalf("initialise on postgres: %v %v", op, err)
	}
	srv, err := New(ctx, Config{Issuer: "http://pg.test", Logger: logger, SecretFile: filepath.Join(t.TempDir(), "ks.secret")}, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()
	cc := clientcredentials.Config{ClientID: op.ClientID, ClientSecret: op.ClientSecret, TokenURL: hs.URL + "/oauth2/token"}
	if _, err := cc.Token(ctx); err != nil {
		t.Fatalf("token on postgres: %v", err)
	}
	if _, err := st.GetTenant(ctx, "platform"); err != nil {
		t.Fatalf("platform tenant not in the postgres schema: %v", err)
	}
}
