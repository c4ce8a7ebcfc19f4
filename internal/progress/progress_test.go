package progress

import (
	"bytes"
	"io"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer lets the test read what the bar drew; the bar itself writes
// from the caller's goroutine only.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// slowStart is longer than several 100 ms spinner ticks of the library: a
// store copy reads for a while before its first progress callback, and a
// redraw goroutine that ticked before the first draw reads the start time
// that draw writes (the race -race reported in TestMigrateAndStoreCopy_CLI).
const slowStart = 350 * time.Millisecond

// Under -race, a bar that redraws from a goroutine of its own is reported;
// updating it for well over its tick interval, after a slow start, proves it
// draws only from the caller.
func TestCount_FirstUpdateAfterSpinnerTicks_NoRace(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	bar := Count(&out, "copying")
	time.Sleep(slowStart)
	deadline := time.Now().Add(500 * time.Millisecond)
	var n int64
	for ; time.Now().Before(deadline); n++ {
		if n == 50 {
			bar.ChangeMax64(1 << 40)
		}
		_ = bar.Set64(n)
		time.Sleep(time.Millisecond)
	}
	bar.ChangeMax64(n)
	_ = bar.Finish()
	if !strings.Contains(out.String(), "copying") {
		t.Errorf("nothing drawn: %q", out.String())
	}
}

func TestBytes_UnknownSizeFedByTeeReader_NoRace(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	bar := Bytes(&out, "sending keys.jsonl", -1, func() { _, _ = out.Write([]byte("\n")) })
	time.Sleep(slowStart)
	deadline := time.Now().Add(500 * time.Millisecond)
	chunk := strings.Repeat("x", 100)
	for time.Now().Before(deadline) {
		if _, err := io.Copy(io.Discard, io.TeeReader(strings.NewReader(chunk), bar)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	_ = bar.Finish()
	if !strings.Contains(out.String(), "sending keys.jsonl") {
		t.Errorf("nothing drawn: %q", out.String())
	}
}
