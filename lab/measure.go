package lab

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"syscall"
	"time"
)

// usage is one getrusage reading of this process and its waited-for children.
type usage struct {
	self, children time.Duration
	childMaxRSSKB  int64
}

func readUsage() usage {
	var u usage
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		u.self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru) == nil {
		u.children = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		u.childMaxRSSKB = ru.Maxrss
	}
	return u
}

// resetPeakRSS asks Linux to restart this process's peak-RSS count (VmHWM)
// from the current RSS (writing 5 to /proc/self/clear_refs). It reports
// whether that worked; elsewhere the peak is the process's lifetime peak.
func resetPeakRSS() bool {
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// peakRSSKB reads VmHWM from /proc/self/status, falling back to getrusage's
// lifetime maxrss.
func peakRSSKB() int64 {
	if b, err := os.ReadFile("/proc/self/status"); err == nil {
		sc := bufio.NewScanner(bytes.NewReader(b))
		for sc.Scan() {
			line := sc.Bytes()
			if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
				f := bytes.Fields(v)
				if len(f) > 0 {
					if n, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
						return n
					}
				}
			}
		}
	}
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return ru.Maxrss
	}
	return 0
}

// selfMaxRSSKB is getrusage(RUSAGE_SELF).ru_maxrss, for a worker process to
// report its own peak.
func selfMaxRSSKB() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		return ru.Maxrss
	}
	return 0
}
