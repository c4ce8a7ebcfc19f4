package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyshift/keyshift/internal/store"
)

// listener holds one dedicated connection that LISTENs on the store's
// channel and forwards every notification to the local feed. Whenever it
// may have missed notifications (the connection broke and was replaced) and
// every ResyncEvery, it publishes ChangeResync so caches reload: a lost
// notification cannot leave a cache stale for longer than that bound.
type listener struct {
	cfg      *pgx.ConnConfig
	channel  string
	instance string // notifications of this instance are published by Tx
	feed     *store.Feed
	log      *slog.Logger
	every    time.Duration
	timeout  time.Duration // of LISTEN and of the liveness ping
}

// connect opens the connection and starts listening.
func (l *listener) connect(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, l.cfg.Copy())
	if err != nil {
		return nil, fmt.Errorf("postgres: listener: connect: %w", mapErr(err))
	}
	// A connection that froze right after connecting must not leave the
	// listener waiting for LISTEN's answer forever.
	lctx, cancel := store.Bound(ctx, l.timeout)
	defer cancel()
	if _, err := conn.Exec(lctx, `LISTEN `+pgx.Identifier{l.channel}.Sanitize()); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("postgres: listener: listen: %w", mapErr(err))
	}
	return conn, nil
}

// run forwards notifications until ctx is done, reconnecting with backoff.
func (l *listener) run(ctx context.Context, conn *pgx.Conn) {
	backoff := 100 * time.Millisecond
	for {
		err := l.receive(ctx, conn)
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		_ = conn.Close(cctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		l.log.WarnContext(ctx, "postgres change listener lost its connection", "err", err)
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			conn, err = l.connect(ctx)
			if err == nil {
				break
			}
			backoff = min(2*backoff, 5*time.Second)
			l.log.WarnContext(ctx, "postgres change listener cannot reconnect", "err", err)
		}
		backoff = 100 * time.Millisecond
		l.log.InfoContext(ctx, "postgres change listener reconnected")
		// Notifications sent while no connection listened are gone.
		l.feed.Publish(store.Change{Kind: store.ChangeResync})
	}
}

// receive forwards notifications from conn until it fails or ctx is done.
// Waiting is cut every ResyncEvery to publish the periodic resync and to
// check that the connection is alive (a silently dead TCP peer would
// otherwise leave WaitForNotification blocked).
func (l *listener) receive(ctx context.Context, conn *pgx.Conn) error {
	next := time.Now().Add(l.every)
	for {
		wctx, cancel := context.WithDeadline(ctx, next)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		if err == nil {
			l.forward(ctx, n.Payload)
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if conn.IsClosed() || time.Now().Before(next) {
			return err // the connection failed, not the period ended
		}
		// The period is over.
		next = time.Now().Add(l.every)
		l.feed.Publish(store.Change{Kind: store.ChangeResync})
		pctx, cancel := store.Bound(ctx, l.timeout)
		err = conn.Ping(pctx)
		cancel()
		if err != nil {
			return err
		}
	}
}

// forward publishes the changes of one notification.
func (l *listener) forward(ctx context.Context, payload string) {
	var n notification
	if err := json.Unmarshal([]byte(payload), &n); err != nil {
		l.log.WarnContext(ctx, "postgres change listener got a bad payload", "err", err)
		l.feed.Publish(store.Change{Kind: store.ChangeResync})
		return
	}
	if n.Instance == l.instance {
		return
	}
	if n.Resync {
		l.feed.Publish(store.Change{Kind: store.ChangeResync})
		return
	}
	l.feed.Publish(n.Changes...)
}
