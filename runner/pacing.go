package runner

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
)

// paceState holds back job starts for --delay, --load and --memfree.
type paceState struct {
	lastStart time.Time
	timer     *time.Timer
	c         <-chan time.Time // fires when starting may be possible again
	checked   time.Time        // when --load/--memfree were last read
	blocked   bool             // their last answer
}

// pollPace is how often --load and --memfree are read again while they
// hold jobs back.
const pollPace = 100 * time.Millisecond

// wait reports whether the next job must wait; it then arms p.c.
func (p *paceState) wait(o Options, now time.Time) bool {
	if p.timer != nil {
		return true
	}
	var d time.Duration
	if o.Delay > 0 && !p.lastStart.IsZero() {
		d = o.Delay - now.Sub(p.lastStart)
	}
	if d <= 0 && (o.MaxLoad > 0 || o.MemFree > 0) {
		if now.Sub(p.checked) >= pollPace {
			p.checked = now
			p.blocked = (o.MaxLoad > 0 && float64(runningProcs()) >= o.MaxLoad) ||
				(o.MemFree > 0 && memAvailable() < o.MemFree)
		}
		if p.blocked {
			d = pollPace
		}
	}
	if d <= 0 {
		return false
	}
	p.timer = time.NewTimer(d)
	p.c = p.timer.C
	return true
}

func (p *paceState) started(now time.Time) { p.lastStart = now }

func (p *paceState) fired() {
	p.timer, p.c = nil, nil
	p.checked = time.Time{}
}

// runningProcs is the number of processes running or ready to run, other
// than the caller (procs_running of /proc/stat); -1 if it cannot be read,
// which never holds jobs back.
func runningProcs() int {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("procs_running ")); ok {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return -1
			}
			return n - 1
		}
	}
	return -1
}

// memAvailable is MemAvailable of /proc/meminfo in bytes; a huge number if
// it cannot be read, which never holds jobs back.
func memAvailable() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 1 << 62
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		if v, ok := bytes.CutPrefix(sc.Bytes(), []byte("MemAvailable:")); ok {
			f := bytes.Fields(v)
			if len(f) > 0 {
				if n, err := strconv.ParseInt(string(f[0]), 10, 64); err == nil {
					return n << 10
				}
			}
		}
	}
	return 1 << 62
}

// niced runs path/argv through nice(1) when Options.Nice is set. The job
// runs at niceness Options.Nice, whatever trident's own (GNU parallel sets
// the niceness, it does not add to it): nice(1) is given the difference.
func (s *state) niced(path string, argv []string) (string, []string) {
	if s.opts.Nice == 0 {
		return path, argv
	}
	nice, err := exec.LookPath("nice")
	if err != nil {
		nice = "/usr/bin/nice"
	}
	return nice, append([]string{"nice", "-n", strconv.Itoa(s.opts.Nice - ownNiceness()), path}, argv[1:]...)
}

// ownNiceness is this process's niceness (0 if it cannot be read).
func ownNiceness() int {
	// The raw getpriority system call returns 20 - niceness.
	p, err := syscall.Getpriority(syscall.PRIO_PROCESS, 0)
	if err != nil {
		return 0
	}
	return 20 - p
}

// passThrough reports whether output goes through as it comes (--line-buffer
// or -u) instead of being grouped per job. A Backend's job output arrives
// whole when the job ends, so it is always grouped.
func (s *state) passThrough() bool {
	return (s.opts.LineBuffer || s.opts.Ungroup) && s.opts.Backend == nil
}

// saveFile writes a job's stdout to a new file under os.TempDir() (--files)
// and returns its name.
func saveFile(c capture) (string, error) {
	f, err := os.CreateTemp("", "par*.par")
	if err != nil {
		return "", err
	}
	_, werr := c.WriteTo(f)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return f.Name(), werr
}
