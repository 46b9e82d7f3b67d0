//go:build linux

package rusage

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

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

// ThreadSched returns the calling OS thread's time on a CPU and time spent
// runnable but waiting for a CPU (run-queue wait), in ns precision, from
// /proc/thread-self/schedstat. ok is false when the kernel does not offer it.
// The caller must hold the thread with runtime.LockOSThread.
func ThreadSched() (run, wait time.Duration, ok bool) {
	b, err := os.ReadFile("/proc/thread-self/schedstat")
	if err != nil {
		return 0, 0, false
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	r, err1 := strconv.ParseInt(f[0], 10, 64)
	w, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return time.Duration(r), time.Duration(w), true
}
