//go:build unix

package traffic_test

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used. Benchmarks report it
// per operation next to wall time, which on a shared, loaded machine mostly
// measures waiting for a CPU.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
