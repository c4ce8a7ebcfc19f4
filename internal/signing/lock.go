package signing

import (
	"context"
	"fmt"
	"time"

	"github.com/keyshift/keyshift/internal/store"
)

// settingKeyLock names the settings row that every transaction changing
// signing keys writes first. On a shared database the write takes a row
// lock held until commit, so instances that start, maintain or rotate at
// the same moment take turns, and each decides on what the previous one
// committed: without it, three instances starting on an empty database
// each created an active key (and a next key), and each signed with its
// own key before the others published it. SQLite serialises writers
// anyway; there the write costs nothing more.
const settingKeyLock = "signing_keys.lock"

// lockKeys serialises signing key changes across instances until tx ends.
// It must be the transaction's first statement, so that everything read
// after it reflects the previous holder's commit (PostgreSQL's READ
// COMMITTED takes a fresh snapshot per statement).
func lockKeys(ctx context.Context, tx store.Tx, now time.Time) error {
	if err := tx.PutSetting(ctx, settingKeyLock, []byte(now.UTC().Format(time.RFC3339Nano))); err != nil {
		return fmt.Errorf("lock signing keys: %w", err)
	}
	return nil
}
