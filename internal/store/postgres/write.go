package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
	"github.com/keyshift/keyshift/internal/store/sqlstore"
)

// tx implements store.Tx: sqlstore's writes, plus PostgreSQL's bulk paths
// (keys_write.go, traffic.go), which run on the transaction directly.
type tx struct {
	*sqlstore.Writer
	tx pgx.Tx
}

var (
	_ store.Tx            = (*tx)(nil)
	_ store.KeyTx         = (*tx)(nil)
	_ store.UserTx        = (*tx)(nil)
	_ store.GrantTx       = (*tx)(nil)
	_ store.TrafficTx     = (*tx)(nil)
	_ store.KeyReader     = (*Store)(nil)
	_ store.UserReader    = (*Store)(nil)
	_ store.GrantReader   = (*Store)(nil)
	_ store.TrafficReader = (*Store)(nil)
)
