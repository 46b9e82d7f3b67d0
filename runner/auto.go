package runner

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/trident-go/trident/advise"
)

// How -j auto works (see also the package doc):
//
//  1. Probe: run with one slot per core. As soon as 2 x cores jobs have
//     finished (their CPU time comes from each child's rusage), or after
//     probeAfter with jobs still running (their CPU time so far is read
//     from /proc for every process of the job's process group), the mean
//     CPU and wall time per job go to advise.Classify. The /proc probe
//     counts run-queue waits as CPU (the job wanted a CPU), so CPU-bound
//     jobs on a loaded machine are not mistaken for waiting ones.
//  2. CPU-bound: the advice is one slot per core (fewer when each job
//     itself uses several cores); it stays there, as more slots cannot
//     make CPU-bound work faster.
//  3. Long waits seen by the probe (jobs still running, so the wait is only
//     a lower bound): straight to --max-jobs, an event loop's answer.
//  4. Otherwise the sizing law cores x (1 + wait/compute), bounded by
//     --max-jobs, gives the starting slots; then hill-climbing on
//     completions per second: measure a window of at least max(slots, 8)
//     completions, add half as many slots again, keep going while the
//     throughput rises by more than 5%, go back to the last better count
//     and stop when it does not.
//
// probeAfter is longer than advise.LongWait, so jobs still waiting at the probe
// have long waits by the flowchart's own rule. It is also long enough for a
// job's start-up not to dominate: on the 2-core CI machine a shell and one
// exec of sleep cost about 15 ms of CPU and 10 ms of run-queue wait before
// the job's own work starts, so a probe at 60 ms classed `sleep 0.2` jobs as
// mixed (CPU/wall 0.38) where their whole run is 0.08.
const probeAfter = 250 * time.Millisecond

type runningObs struct {
	pgid int
	wall time.Duration
}

type autoCtl struct {
	cores, max int
	slots      int
	settled    bool
	log        func(string)

	decided   bool
	class     advise.Class
	firstTick time.Time

	nDone            int
	sumWall, sumCPU  time.Duration
	climbing         bool
	winStart         time.Time
	winDone          int
	prevSlots        int
	prevTput         float64
	clockTicksPerSec float64
}

func newAutoCtl(cores, maxJobs int, log func(string)) *autoCtl {
	return &autoCtl{cores: cores, max: maxJobs, slots: min(cores, maxJobs), log: log, clockTicksPerSec: 100, firstTick: time.Now()}
}

func (a *autoCtl) onDone(now time.Time, wall, cpu time.Duration, queued bool) {
	a.nDone++
	a.sumWall += wall
	a.sumCPU += cpu
	switch {
	case !a.decided && a.nDone >= 2*a.cores:
		a.decide(now, a.sumWall, a.sumCPU, a.nDone, "finished jobs", queued)
	case a.climbing:
		a.winDone++
		a.climb(now, queued)
	}
}

func (a *autoCtl) onTick(now time.Time, obs []runningObs, queued bool) {
	if a.firstTick.IsZero() {
		a.firstTick = now
		return
	}
	if a.decided {
		if a.climbing {
			a.climb(now, queued)
		}
		return
	}
	if now.Sub(a.firstTick) < probeAfter || len(obs) == 0 {
		return
	}
	_, demand := groupCPU(obs, a.clockTicksPerSec)
	wall := a.sumWall
	for _, o := range obs {
		wall += o.wall
	}
	// The probe counts run-queue waits as CPU demand, which the finished
	// jobs' rusage cannot; it is the better measure, so it is not
	// second-guessed by the first completions.
	a.decide(now, wall, a.sumCPU+demand, a.nDone+len(obs),
		fmt.Sprintf("%d finished and %d running jobs (CPU + run-queue wait from /proc)", a.nDone, len(obs)), queued)
	if a.class == advise.IOBoundLongWaits && a.slots < a.max && queued {
		// The jobs are still running: their wait so far is only a lower
		// bound, so the sizing law undercounts. Long waits with little CPU
		// are an event loop's case: as many concurrent waits as allowed.
		a.slots = a.max
		a.climbing, a.settled = false, true
		a.log(fmt.Sprintf("the jobs are still waiting, so their real wait is longer: going to the --max-jobs bound, %d slots", a.max))
	}
}

func (a *autoCtl) profile(wall, cpu time.Duration, n int) advise.Profile {
	n = max(n, 1)
	return advise.Profile{What: "jobs", Cores: a.cores,
		Samples: []advise.Sample{{Wall: wall / time.Duration(n), User: cpu / time.Duration(n)}}}
}

func (a *autoCtl) decide(now time.Time, wall, cpu time.Duration, n int, from string, queued bool) {
	a.decided = true
	adv := advise.Classify(a.profile(wall, cpu, n))
	a.class = adv.Class
	slots := max(1, min(adv.Workers, a.max))
	a.log(fmt.Sprintf("sampled %s: mean CPU %v of wall %v per job (ratio %.2f): %s, step %s: %s -> %d slot(s) (advice %d, --max-jobs %d)",
		from, (cpu / time.Duration(max(n, 1))).Round(time.Microsecond), (wall / time.Duration(max(n, 1))).Round(time.Microsecond),
		adv.Ratio, adv.Class, adv.Step, rule(adv), slots, adv.Workers, a.max))
	a.slots = slots
	if adv.Class == advise.CPUBound || slots >= a.max || !queued {
		a.climbing = false
		a.settled = true
		return
	}
	a.climbing = true
	a.winStart, a.winDone, a.prevSlots, a.prevTput = now, 0, 0, 0
}

func rule(adv advise.Advice) string {
	if adv.Class == advise.CPUBound {
		return "one slot per core"
	}
	return "cores x (1 + wait/compute)"
}

func (a *autoCtl) climb(now time.Time, queued bool) {
	if !queued {
		a.climbing = false
		a.settled = true
		return
	}
	el := now.Sub(a.winStart)
	if a.winDone < max(a.slots, 8) || el < 100*time.Millisecond {
		return
	}
	tput := float64(a.winDone) / el.Seconds()
	switch {
	case a.prevSlots == 0 || tput > a.prevTput*1.05:
		if a.prevSlots != 0 {
			a.log(fmt.Sprintf("%.1f jobs/s at %d slots (was %.1f at %d): more", tput, a.slots, a.prevTput, a.prevSlots))
		}
		next := min(a.max, a.slots+max(1, a.slots/2))
		if next == a.slots {
			a.log(fmt.Sprintf("%.1f jobs/s at %d slots, the --max-jobs bound: staying", tput, a.slots))
			a.climbing, a.settled = false, true
			return
		}
		a.prevSlots, a.prevTput = a.slots, tput
		a.slots = next
		a.log(fmt.Sprintf("trying %d slots", next))
	default:
		a.log(fmt.Sprintf("%.1f jobs/s at %d slots, not better than %.1f at %d: back to %d and staying",
			tput, a.slots, a.prevTput, a.prevSlots, a.prevSlots))
		a.slots = a.prevSlots
		a.climbing, a.settled = false, true
	}
	a.winStart, a.winDone = now, 0
}

// groupCPU reads, for every process whose process group is one of the
// running jobs', its CPU time so far and its time waiting for a CPU on the
// run queue (/proc/PID/schedstat, in ns), plus the CPU time of its
// waited-for children (/proc/PID/stat, in clock ticks). demand = cpu + run
// queue wait is the time the job wanted a CPU: on a loaded machine a
// CPU-bound job's demand stays close to its wall time while its CPU time
// does not. On systems without /proc both are 0.
func groupCPU(obs []runningObs, ticksPerSec float64) (cpu, demand time.Duration) {
	groups := make(map[int]bool, len(obs))
	for _, o := range obs {
		groups[o.pgid] = true
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, 0
	}
	for _, e := range ents {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		b, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue
		}
		pgrp, own, children, ok := parseStat(b)
		if !ok || !groups[pgrp] {
			continue
		}
		toDur := func(t int64) time.Duration { return time.Duration(float64(t) / ticksPerSec * float64(time.Second)) }
		run, wait := toDur(own), time.Duration(0)
		if sb, err := os.ReadFile("/proc/" + name + "/schedstat"); err == nil {
			if f := bytes.Fields(sb); len(f) >= 2 {
				r, err1 := strconv.ParseInt(string(f[0]), 10, 64)
				w, err2 := strconv.ParseInt(string(f[1]), 10, 64)
				if err1 == nil && err2 == nil {
					run, wait = time.Duration(r), time.Duration(w)
				}
			}
		}
		cpu += run + toDur(children)
		demand += run + wait + toDur(children)
	}
	return cpu, demand
}

// parseStat returns the process group, the process's own utime+stime and
// its waited-for children's cutime+cstime (in clock ticks) from the text of
// /proc/PID/stat.
func parseStat(b []byte) (pgrp int, own, children int64, ok bool) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, 0, false
	}
	f := bytes.Fields(b[i+1:])
	// f[0] is field 3 (state); pgrp is field 5, utime..cstime 14..17.
	if len(f) < 15 {
		return 0, 0, 0, false
	}
	g, err := strconv.Atoi(string(f[2]))
	if err != nil {
		return 0, 0, 0, false
	}
	var t [4]int64
	for k := range t {
		if t[k], err = strconv.ParseInt(string(f[11+k]), 10, 64); err != nil {
			return 0, 0, 0, false
		}
	}
	return g, t[0] + t[1], t[2] + t[3], true
}
