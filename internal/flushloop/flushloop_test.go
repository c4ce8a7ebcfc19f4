package flushloop

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestRun_PeriodicAndFinal: flushes on the ticker, reports a periodic
// failure as not final, and flushes once more after ctx ends with a live
// context, reporting that failure as final.
func TestRun_PeriodicAndFinal(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int32
	var mu sync.Mutex
	var reports []bool
	flush := func(fctx context.Context) error {
		n := calls.Add(1)
		if ctx.Err() != nil && fctx.Err() != nil {
			t.Error("the final flush got a dead context")
		}
		if n == 1 || ctx.Err() != nil {
			return errors.New("store down")
		}
		return nil
	}
	done := make(chan struct{})
	go func() {
		Run(ctx, time.Millisecond, flush, func(_ error, final bool) { mu.Lock(); reports = append(reports, final); mu.Unlock() })
		close(done)
	}()
	for calls.Load() < 3 {
		time.Sleep(time.Millisecond)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if len(reports) < 2 || reports[0] || !reports[len(reports)-1] {
		t.Fatalf("reports = %v, want a periodic failure first and the final one last", reports)
	}
}
