// Package progress draws the one-line progress displays of long CLI
// commands (store copy, key import) on a terminal's stderr.
//
// It wraps github.com/schollz/progressbar/v3 configured so that it draws
// only from the caller's goroutine: by default that library starts a
// goroutine for bars of unknown length that redraws the spinner every
// 100 ms and reads the bar's state without its lock while Add writes it —
// a data race that fails `go test -race` at random. With the spinner
// interval set to zero no goroutine exists and every draw happens inside
// Add/Set/Finish, under the bar's lock.
package progress

import (
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// Bar is a progress line. Use it from one goroutine at a time, like any
// writer; it starts none of its own.
type Bar = progressbar.ProgressBar

// Count returns a bar counting objects, of unknown total until
// ChangeMax64 is called.
func Count(w io.Writer, description string) *Bar {
	return progressbar.NewOptions64(-1, append(common(w, description),
		progressbar.OptionShowCount(), progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionClearOnFinish())...)
}

// Bytes returns a bar counting bytes written to it, of size bytes (-1 when
// unknown), for use with io.TeeReader; onDone runs when it completes.
func Bytes(w io.Writer, description string, size int64, onDone func()) *Bar {
	return progressbar.NewOptions64(size, append(common(w, description),
		progressbar.OptionShowBytes(true), progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionShowElapsedTimeOnFinish(), progressbar.OptionOnCompletion(onDone))...)
}

func common(w io.Writer, description string) []progressbar.Option {
	return []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		// No redraw goroutine: see the package comment.
		progressbar.OptionSetSpinnerChangeInterval(0),
	}
}
