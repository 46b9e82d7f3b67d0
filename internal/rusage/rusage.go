// Package rusage reads CPU time from the operating system: the calling OS
// thread's own usage (Linux RUSAGE_THREAD) and a finished child process's
// usage (from its wait4 rusage, as kept in os.ProcessState).
//
// It is the measuring half of trident's choice rule: CPU time set against
// wall time tells whether a piece of work computes or waits. It is internal
// because its shape follows the needs of the advise package and the job
// runner, not a public contract.
package rusage

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// Usage is CPU time spent in user and kernel mode, and the peak resident set
// size where the source reports one.
type Usage struct {
	User time.Duration
	Sys  time.Duration
	// MaxRSSKB is the peak resident set size in KiB (0 when unknown). For a
	// difference of two readings it is the later reading's value.
	MaxRSSKB int64
}

// CPU is user plus system time.
func (u Usage) CPU() time.Duration { return u.User + u.Sys }

// Sub returns the CPU time spent between an earlier reading v and u.
func (u Usage) Sub(v Usage) Usage {
	return Usage{User: u.User - v.User, Sys: u.Sys - v.Sys, MaxRSSKB: u.MaxRSSKB}
}

// Add returns the sum of two usages; MaxRSSKB is the larger of the two.
func (u Usage) Add(v Usage) Usage {
	return Usage{User: u.User + v.User, Sys: u.Sys + v.Sys, MaxRSSKB: max(u.MaxRSSKB, v.MaxRSSKB)}
}

// FromProcessState returns the CPU time of a child process that has been
// waited for. It is zero when ps is nil (the process never started).
func FromProcessState(ps *os.ProcessState) Usage {
	if ps == nil {
		return Usage{}
	}
	u := Usage{User: ps.UserTime(), Sys: ps.SystemTime()}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok && ru != nil {
		u.MaxRSSKB = int64(ru.Maxrss)
	}
	return u
}

func fromTimeval(tv syscall.Timeval) time.Duration {
	return time.Duration(tv.Sec)*time.Second + time.Duration(tv.Usec)*time.Microsecond
}

// Self returns the CPU time and peak RSS of the whole calling process
// (getrusage(RUSAGE_SELF)).
func Self() (Usage, error) { return getrusage(syscall.RUSAGE_SELF, "RUSAGE_SELF") }

// Children returns the CPU time of the calling process's terminated,
// waited-for children, and the peak RSS of the largest of them
// (getrusage(RUSAGE_CHILDREN)).
func Children() (Usage, error) { return getrusage(syscall.RUSAGE_CHILDREN, "RUSAGE_CHILDREN") }

func getrusage(who int, name string) (Usage, error) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return Usage{}, fmt.Errorf("rusage: getrusage(%s): %w", name, err)
	}
	return Usage{User: fromTimeval(ru.Utime), Sys: fromTimeval(ru.Stime), MaxRSSKB: int64(ru.Maxrss)}, nil
}
