//go:build linux

package rusage

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// ThreadPrecise reports whether Thread measures the calling thread alone
// (true on Linux) or falls back to the whole process.
const ThreadPrecise = true

// Thread returns the CPU time used so far by the calling OS thread. The
// caller must hold the thread with runtime.LockOSThread between two readings,
// or the goroutine may move to another thread and the difference is
// meaningless.
func Thread() (Usage, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_THREAD, &ru); err != nil {
		return Usage{}, fmt.Errorf("rusage: getrusage(RUSAGE_THREAD): %w", err)
	}
	return Usage{
		User:     fromTimeval(syscall.Timeval{Sec: ru.Utime.Sec, Usec: ru.Utime.Usec}),
		Sys:      fromTimeval(syscall.Timeval{Sec: ru.Stime.Sec, Usec: ru.Stime.Usec}),
		MaxRSSKB: ru.Maxrss,
	}, nil
}
