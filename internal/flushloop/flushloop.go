// Package flushloop runs the flush of in-memory counters (legacy key usage,
// token traffic) on a ticker, and once more when the server stops.
package flushloop

import (
	"context"
	"time"
)

// FinalTimeout bounds the flush at shutdown, which runs after the serving
// context is done.
const FinalTimeout = 10 * time.Second

// Run calls flush every interval until ctx is done, then once more with a
// fresh context bounded by FinalTimeout. failed is told of every error,
// with final true for the last flush (whose counts are lost); errors of a
// periodic flush that ctx's end interrupted are not reported.
func Run(ctx context.Context, every time.Duration, flush func(context.Context) error, failed func(err error, final bool)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			if err := flush(ctx); err != nil && ctx.Err() == nil {
				failed(err, false)
			}
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), FinalTimeout)
			err := flush(fctx)
			cancel()
			if err != nil {
				failed(err, true)
			}
			return
		}
	}
}
