//go:build !linux && unix

package rusage

import (
	"fmt"
	"syscall"
	"time"
)

// ThreadPrecise reports whether Thread measures the calling thread alone
// (true on Linux) or falls back to the whole process (here).
const ThreadPrecise = false

// Thread returns the CPU time used so far. Without RUSAGE_THREAD this is the
// whole process's usage, so other busy goroutines inflate it.
func Thread() (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return Usage{}, fmt.Errorf("rusage: getrusage(RUSAGE_SELF): %w", err)
	}
	return Usage{User: fromTimeval(ru.Utime), Sys: fromTimeval(ru.Stime), MaxRSSKB: int64(ru.Maxrss)}, nil
}

// ThreadSched is not available on this system: ok is always false.
func ThreadSched() (run, wait time.Duration, ok bool) { return 0, 0, false }
