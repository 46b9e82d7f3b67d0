package lab

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"time"

	"github.com/trident-go/trident/internal/rusage"
)

// usage is one getrusage reading of this process and its waited-for children.
type usage struct {
	self, children time.Duration
	childMaxRSSKB  int64
}

func readUsage() usage {
	var u usage
	if self, err := rusage.Self(); err == nil {
		u.self = self.CPU()
	}
	if ch, err := rusage.Children(); err == nil {
		u.children = ch.CPU()
		u.childMaxRSSKB = ch.MaxRSSKB
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
	return selfMaxRSSKB()
}

// selfMaxRSSKB is getrusage(RUSAGE_SELF).ru_maxrss, for a worker process to
// report its own peak.
func selfMaxRSSKB() int64 {
	if u, err := rusage.Self(); err == nil {
		return u.MaxRSSKB
	}
	return 0
}
