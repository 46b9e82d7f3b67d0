package runner

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// JoblogHeader is the first line of a joblog, as GNU parallel writes it.
const JoblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// JoblogEntry is one line of a joblog (GNU parallel's --joblog format).
type JoblogEntry struct {
	// Seq is the job number.
	Seq int
	// Host is ":" for the local machine.
	Host string
	// Start is when the job started.
	Start time.Time
	// Runtime is the job's wall time.
	Runtime time.Duration
	// Send is the number of bytes sent to the job (always 0 locally).
	Send int64
	// Receive is the number of bytes the job wrote to stdout.
	Receive int64
	// Exitval is the exit status (-1 when the job could not be started).
	Exitval int
	// Signal is the signal that killed the job, or 0.
	Signal int
	// Command is the command as run.
	Command string
}

// Failed reports whether the job failed (non-zero exit or killed).
func (e JoblogEntry) Failed() bool { return e.Exitval != 0 || e.Signal != 0 }

// String formats the entry as one joblog line (with the newline): tab
// separated, times in seconds with three decimals, the runtime right-aligned
// in ten characters, exactly like GNU parallel.
func (e JoblogEntry) String() string {
	host := e.Host
	if host == "" {
		host = ":"
	}
	start := float64(e.Start.UnixNano()) / 1e9
	return fmt.Sprintf("%d\t%s\t%.3f\t%10.3f\t%d\t%d\t%d\t%d\t%s\n",
		e.Seq, host, start, e.Runtime.Seconds(), e.Send, e.Receive, e.Exitval, e.Signal, e.Command)
}

// ReadJoblog parses a joblog (with or without its header). Lines that do not
// parse are reported with their line number.
func ReadJoblog(r io.Reader) ([]JoblogEntry, error) {
	var out []JoblogEntry
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 64<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Text()
		if line == "" || (n == 1 && strings.HasPrefix(line, "Seq\t")) {
			continue
		}
		f := strings.SplitN(line, "\t", 9)
		if len(f) != 9 {
			return out, fmt.Errorf("joblog line %d: %d fields, want 9", n, len(f))
		}
		var e JoblogEntry
		var err error
		var ints [5]int64
		for i, idx := range []int{0, 4, 5, 6, 7} {
			if ints[i], err = strconv.ParseInt(strings.TrimSpace(f[idx]), 10, 64); err != nil {
				return out, fmt.Errorf("joblog line %d: field %d: %w", n, idx+1, err)
			}
		}
		st, err := strconv.ParseFloat(strings.TrimSpace(f[2]), 64)
		if err != nil {
			return out, fmt.Errorf("joblog line %d: start time: %w", n, err)
		}
		rt, err := strconv.ParseFloat(strings.TrimSpace(f[3]), 64)
		if err != nil {
			return out, fmt.Errorf("joblog line %d: runtime: %w", n, err)
		}
		e.Seq, e.Host, e.Send, e.Receive = int(ints[0]), f[1], ints[1], ints[2]
		e.Exitval, e.Signal, e.Command = int(ints[3]), int(ints[4]), f[8]
		e.Start = time.Unix(0, int64(st*1e9))
		e.Runtime = time.Duration(rt * 1e9)
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("joblog: %w", err)
	}
	return out, nil
}
