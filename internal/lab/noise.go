package lab

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/trident-go/trident/internal/rusage"
)

// Noise thresholds: a round of a row "waited for a core" when its measured
// threads waited on the run queue (plus hypervisor steal) for at least
// waitedFrac of its CPU time and at least waitedMin, or when other programs
// used at least othersBusy of the machine's CPU capacity during it.
const (
	waitedFrac = 0.10
	waitedMin  = 2 * time.Millisecond
	othersBusy = 0.25
)

// ticksPerSec is USER_HZ, the unit of /proc/stat (100 on every Linux
// architecture Go supports).
const ticksPerSec = 100

// cpuStat is the machine-wide line of /proc/stat, in ticks.
type cpuStat struct {
	busy, steal int64
	ok          bool
}

func readCPUStat() cpuStat {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return cpuStat{}
	}
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := bytes.Fields(line)
	if len(f) < 9 || string(f[0]) != "cpu" {
		return cpuStat{}
	}
	var v [8]int64
	for i := range v {
		if v[i], err = strconv.ParseInt(string(f[i+1]), 10, 64); err != nil {
			return cpuStat{}
		}
	}
	// user nice system idle iowait irq softirq steal
	return cpuStat{busy: v[0] + v[1] + v[2] + v[5] + v[6], steal: v[7], ok: true}
}

func ticksMS(t int64) float64 { return float64(t) * 1000 / ticksPerSec }

// taskWaits reads the run-queue wait (ns) of every thread of a process
// (pid 0: this one) from /proc/PID/task/TID/schedstat.
func taskWaits(pid int) map[string]int64 {
	dir := "/proc/self/task"
	if pid > 0 {
		dir = "/proc/" + strconv.Itoa(pid) + "/task"
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := make(map[string]int64, len(ents))
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name(), "schedstat"))
		if err != nil {
			continue
		}
		f := bytes.Fields(b)
		if len(f) < 2 {
			continue
		}
		if w, err := strconv.ParseInt(string(f[1]), 10, 64); err == nil {
			out[e.Name()] = w
		}
	}
	return out
}

// waitDelta is the run-queue wait of the threads alive at the end since the
// start (a thread born in between counts whole; one that ended in between is
// lost).
func waitDelta(before, after map[string]int64) time.Duration {
	var d int64
	for tid, w := range after {
		d += max(0, w-before[tid])
	}
	return time.Duration(d)
}

// noiseProbe measures the noise around one measurement: run-queue wait of
// this process's threads (and of the CPython interpreter's, for a CPython
// row), hypervisor steal, and the CPU time other programs used.
type noiseProbe struct {
	stat   cpuStat
	self   map[string]int64
	py     map[string]int64
	pyPID  int
	cores  int
	usage0 usage
	t0     time.Time
}

func startNoise(pyPID int) *noiseProbe {
	p := &noiseProbe{pyPID: pyPID, cores: runtime.NumCPU()}
	p.self = taskWaits(0)
	if pyPID > 0 {
		p.py = taskWaits(pyPID)
	}
	p.usage0 = readUsage()
	p.stat = readCPUStat()
	p.t0 = time.Now()
	return p
}

// stop fills the noise fields of a round. extraCPUMS is CPU time the row
// used outside this process and its waited-for children (the CPython
// interpreter's, which it reports itself).
func (p *noiseProbe) stop(r *Round, extraCPUMS float64) {
	wall := time.Since(p.t0)
	st := readCPUStat()
	u := readUsage()
	rq := waitDelta(p.self, taskWaits(0))
	if p.pyPID > 0 {
		rq += waitDelta(p.py, taskWaits(p.pyPID))
	}
	r.RunQueueMS = ms(rq)
	if st.ok && p.stat.ok {
		r.StealMS = ticksMS(st.steal - p.stat.steal)
		own := ms((u.self-p.usage0.self)+(u.children-p.usage0.children)) + extraCPUMS
		others := max(0, ticksMS(st.busy-p.stat.busy)-own)
		if capMS := ms(wall) * float64(p.cores); capMS > 0 {
			r.OthersCPUShare = min(1, others/capMS)
		}
	}
	r.Waited = roundWaited(*r)
}

// roundWaited applies the noise thresholds to one round.
func roundWaited(r Round) bool {
	w := r.RunQueueMS + r.StealMS
	return (w >= ms(waitedMin) && w >= waitedFrac*r.CPUMS) || r.OthersCPUShare >= othersBusy
}

// Spin is the calibration spin: a fixed amount of prime counting on one
// locked thread, before and after the run. On a quiet machine its wall time
// equals its CPU time and it does not wait on the run queue.
type Spin struct {
	WallMS     float64 `json:"wall_ms"`
	CPUMS      float64 `json:"cpu_ms"`
	RunQueueMS float64 `json:"run_queue_ms"`
	// Busy is set when the spin waited for a core for more than a tenth of
	// its CPU time (or its wall time exceeded its CPU time by 30%).
	Busy bool `json:"busy"`
}

// spin counts primes for about d of CPU at perMS numbers per millisecond.
func spin(perMS float64, d time.Duration) Spin {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	n := max(1000, int(perMS*float64(d)/float64(time.Millisecond)))
	u0, _ := rusage.Thread()
	_, q0, ok0 := rusage.ThreadSched()
	t0 := time.Now()
	primeSink.Add(int64(countPrimes(primeBase, primeBase+n)))
	wall := time.Since(t0)
	u1, _ := rusage.Thread()
	_, q1, ok1 := rusage.ThreadSched()
	s := Spin{WallMS: ms(wall), CPUMS: ms(u1.Sub(u0).CPU())}
	if ok0 && ok1 {
		s.RunQueueMS = ms(q1 - q0)
	}
	s.Busy = s.RunQueueMS > 0.1*max(s.CPUMS, 1) || (s.CPUMS > 0 && s.WallMS > 1.3*s.CPUMS)
	return s
}
