// Package advise turns a measurement of a workload into a choice of
// concurrency model and worker count: the closing rule of the Python
// concurrency articles ("CPU-bound work to processes, fast I/O to threads,
// slow I/O to an event loop") written as code, so nobody has to guess.
//
// # Measuring
//
// A profile sets CPU time (user + system) against the wall time the work did
// not spend waiting on the run queue for a busy CPU (which is neither compute
// nor I/O: the machine delayed it), so the ratio is what CPU/wall would be on
// an idle machine; a profile taken on a busy machine says so (BusyNote):
//
//	p, err := advise.ProfileFunc(ctx, fn, 5)                      // a Go function, 5 runs
//	p, err := advise.ProfileCommand(ctx, []string{"gzip", "-k", "f"}, 3) // a command, 3 runs
//	a := advise.Classify(p)                                      // class, model, workers, reasons
//	fmt.Println(a.Class, a.Model, a.Workers, a.Reason)
//
// ProfileFunc runs fn on a goroutine locked to its OS thread and reads that
// thread's CPU time with getrusage(RUSAGE_THREAD) before and after, so time
// spent blocked (sleeping, reading a socket) does not count as CPU. Work that
// fn hands to other goroutines runs on other threads and is NOT counted: such
// a function looks I/O-bound. ProfileCommand runs the command and reads the
// child's rusage (wait4), which includes every thread of the child and of its
// own waited-for children.
//
// # The flowchart
//
// Classify follows these steps, and reports the one that decided (Advice.Step):
//
//	step 1: CPU/wall >= CPUBoundRatio (0.80)       -> cpu-bound: processes, workers = cores
//	        (a command that itself uses k cores gets cores/k workers, at least 1)
//	step 2: CPU/wall <= IOBoundRatio (0.20)        -> I/O-bound; then by the wait per run:
//	  2a:   wait <  LongWait (50ms)                -> io-bound-short-waits: threads,
//	        workers = cores x (1 + wait/compute), at most MaxThreadWorkers (256)
//	  2b:   wait >= LongWait                       -> io-bound-long-waits: event loop,
//	        workers = cores x (1 + wait/compute), at most MaxEventLoopWorkers (10000)
//	step 3: in between                             -> mixed: processes (the compute part
//	        needs real cores), workers = cores x (1 + wait/compute), at most 4 x cores
//
// "Processes" is the Python answer for CPU-bound work because of the GIL; in
// Go, goroutines already use every core, so for Go code "processes" mainly
// means isolation, and a thread pool with the same worker count is as fast.
// For shell jobs (trident run) every job is a process anyway, and the advice
// is the number of slots.
//
// The thresholds are package variables with documented defaults; the tests
// check them on synthetic workloads: a busy loop, a short sleep, a long sleep
// and a loop that half sleeps, half computes.
package advise

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
)

// Thresholds of the flowchart. They are variables so that a caller with
// different hardware can tune them; the defaults are what the tests check.
var (
	// CPUBoundRatio is the CPU/wall ratio at or above which work is CPU-bound.
	CPUBoundRatio = 0.80
	// IOBoundRatio is the CPU/wall ratio at or below which work is I/O-bound.
	IOBoundRatio = 0.20
	// LongWait is the mean wait per run (wall minus CPU) at or above which
	// I/O-bound work has "long waits" and goes to an event loop.
	LongWait = 50 * time.Millisecond
	// MaxThreadWorkers caps the thread count recommended for short waits.
	MaxThreadWorkers = 256
	// MaxEventLoopWorkers caps the concurrency recommended for an event loop.
	MaxEventLoopWorkers = 10000
)

// ErrBadRuns is returned when the number of runs is less than 1.
var ErrBadRuns = errors.New("advise: number of runs must be at least 1")

// Sample is one measured run.
type Sample struct {
	// Wall is the elapsed time of the run.
	Wall time.Duration `json:"wall_ns"`
	// User and Sys are the CPU time of the run in user and kernel mode.
	User time.Duration `json:"user_ns"`
	Sys  time.Duration `json:"sys_ns"`
	// RunQueue is the time the work was ready to run but waited for a CPU
	// (another program had it). It is neither compute nor I/O: the ratio
	// leaves it out (CPU / (wall - run-queue wait)), so a busy loop on a
	// loaded machine stays CPU-bound and a short wait followed by a long
	// wait for a core stays I/O. ProfileFunc measures it on Linux
	// (/proc/thread-self/schedstat); ProfileCommand follows the command's
	// threads in /proc/PID/task/TID/schedstat while it runs.
	RunQueue time.Duration `json:"run_queue_ns,omitempty"`
	// UnseenRunQueue is the part of RunQueue that ProfileCommand estimated
	// for processes that came and went between its readings (a launcher
	// script's short-lived shells): their CPU time at the seen threads' rate
	// of waiting per CPU second, at most the run's otherwise unexplained
	// wait. Zero on an idle machine.
	UnseenRunQueue time.Duration `json:"unseen_run_queue_ns,omitempty"`
	// Others is the CPU time other work on the machine used during the run
	// (the machine's busy time from /proc/stat minus the run's and this
	// process's own); zero where /proc is missing.
	Others time.Duration `json:"others_cpu_ns,omitempty"`
}

// CPU is user plus system time.
func (s Sample) CPU() time.Duration { return s.User + s.Sys }

// Profile is what a workload did over one or more runs: wall time against CPU
// time. Python has no counterpart in the standard library; it is what one
// would gather by hand with time.perf_counter and time.thread_time (for a
// function) or resource.getrusage(RUSAGE_CHILDREN) (for a command).
type Profile struct {
	// What names the workload (the command line, or "func").
	What string `json:"what"`
	// Samples holds one entry per run, in order.
	Samples []Sample `json:"samples"`
	// Cores is the number of usable CPUs when the profile was taken.
	Cores int `json:"cores"`
}

// Runs is the number of runs measured.
func (p Profile) Runs() int { return len(p.Samples) }

// Wall is the mean wall time per run.
func (p Profile) Wall() time.Duration {
	if len(p.Samples) == 0 {
		return 0
	}
	var t time.Duration
	for _, s := range p.Samples {
		t += s.Wall
	}
	return t / time.Duration(len(p.Samples))
}

// CPU is the mean CPU time (user + sys) per run.
func (p Profile) CPU() time.Duration {
	if len(p.Samples) == 0 {
		return 0
	}
	var t time.Duration
	for _, s := range p.Samples {
		t += s.CPU()
	}
	return t / time.Duration(len(p.Samples))
}

// RunQueue is the mean run-queue wait per run (see Sample.RunQueue).
func (p Profile) RunQueue() time.Duration {
	if len(p.Samples) == 0 {
		return 0
	}
	var t time.Duration
	for _, s := range p.Samples {
		t += s.RunQueue
	}
	return t / time.Duration(len(p.Samples))
}

// UnseenRunQueue is the mean per run of Sample.UnseenRunQueue, the
// estimated part of RunQueue.
func (p Profile) UnseenRunQueue() time.Duration {
	if len(p.Samples) == 0 {
		return 0
	}
	var t time.Duration
	for _, s := range p.Samples {
		t += s.UnseenRunQueue
	}
	return t / time.Duration(len(p.Samples))
}

// Compute is the mean time per run the work ran or wanted to run: CPU plus
// run-queue wait.
func (p Profile) Compute() time.Duration { return p.CPU() + p.RunQueue() }

// Others is the mean CPU time other work used per run (see Sample.Others).
func (p Profile) Others() time.Duration {
	if len(p.Samples) == 0 {
		return 0
	}
	var t time.Duration
	for _, s := range p.Samples {
		t += s.Others
	}
	return t / time.Duration(len(p.Samples))
}

// Busy thresholds: a profile was measured on a busy machine when its work
// waited on the run queue for at least BusyRunQueue of its wall time, or
// other work used at least BusyOthers of the machine's CPU capacity.
var (
	BusyRunQueue = 0.10
	BusyOthers   = 0.25
)

// BusyNote says, with the figures, why the profile was measured on a busy
// machine, or "" when it was not.
func (p Profile) BusyNote() string {
	wall := p.Wall()
	if wall <= 0 {
		return ""
	}
	cores := max(p.Cores, 1)
	rq := float64(p.RunQueue()) / float64(wall)
	others := float64(p.Others()) / (float64(wall) * float64(cores))
	if rq < BusyRunQueue && others < BusyOthers {
		return ""
	}
	return fmt.Sprintf("measured on a busy machine: the work waited %v per run for a CPU (%.0f%% of its wall time) and other programs used %.0f%% of the %d core(s); "+
		"the ratio leaves the run-queue wait out, but measure again on a quieter machine to be sure", round(p.RunQueue()), 100*rq, 100*others, cores)
}

// Wait is the mean time per run the work waited for something other than
// a CPU: wall minus compute, never negative (a multi-threaded command can
// use more CPU than wall time).
func (p Profile) Wait() time.Duration { return max(0, p.Wall()-p.Compute()) }

// Ratio is CPU time over the wall time the work did not spend waiting for
// a CPU: CPU / (wall - run-queue wait), what CPU/wall would be on an idle
// machine. About 1 for a busy loop (loaded machine or not), about 0 for a
// sleep, above 1 for a command that keeps several cores busy. It is 0 for
// an empty profile.
func (p Profile) Ratio() float64 {
	w := p.Wall() - p.RunQueue()
	if p.Wall() <= 0 {
		return 0
	}
	if w <= 0 {
		return 1 // it only ever waited for a CPU
	}
	return float64(p.CPU()) / float64(w)
}

// Class is the kind of a workload.
type Class int

// The classes of the flowchart.
const (
	// CPUBound work spends (nearly) all its wall time computing.
	CPUBound Class = iota
	// IOBoundShortWaits work mostly waits, for short times (a local
	// request, a disk read).
	IOBoundShortWaits
	// IOBoundLongWaits work mostly waits, for long times (a slow server, a
	// timer).
	IOBoundLongWaits
	// Mixed work both computes and waits for a sizeable share of its time.
	Mixed
)

var classNames = [...]string{"cpu-bound", "io-bound-short-waits", "io-bound-long-waits", "mixed"}

// String returns the class's name, e.g. "cpu-bound".
func (c Class) String() string {
	if c < 0 || int(c) >= len(classNames) {
		return fmt.Sprintf("Class(%d)", int(c))
	}
	return classNames[c]
}

// MarshalText encodes the class as its name, so JSON carries "cpu-bound".
func (c Class) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText parses a class name.
func (c *Class) UnmarshalText(b []byte) error {
	for i, n := range classNames {
		if n == string(b) {
			*c = Class(i)
			return nil
		}
	}
	return fmt.Errorf("advise: unknown class %q", b)
}

// Model is one of the three concurrency models.
type Model int

// The three models of the articles.
const (
	// Processes: Python's multiprocessing / ProcessPoolExecutor; trident's
	// procpool (or, for shell jobs, one process per job).
	Processes Model = iota
	// Threads: Python's threading / ThreadPoolExecutor; trident's threadpool.
	Threads
	// EventLoop: Python's asyncio; trident's aio.
	EventLoop
)

var modelNames = [...]string{"processes", "threads", "event-loop"}

// String returns the model's name, e.g. "event-loop".
func (m Model) String() string {
	if m < 0 || int(m) >= len(modelNames) {
		return fmt.Sprintf("Model(%d)", int(m))
	}
	return modelNames[m]
}

// MarshalText encodes the model as its name.
func (m Model) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText parses a model name.
func (m *Model) UnmarshalText(b []byte) error {
	for i, n := range modelNames {
		if n == string(b) {
			*m = Model(i)
			return nil
		}
	}
	return fmt.Errorf("advise: unknown model %q", b)
}

// Advice is the outcome of the flowchart for one profile.
type Advice struct {
	// Profile is the measurement the advice is based on.
	Profile Profile `json:"profile"`
	// Ratio is Profile.Ratio(), CPU over wall.
	Ratio float64 `json:"cpu_wall_ratio"`
	// Class is the kind of workload.
	Class Class `json:"class"`
	// Model is the recommended concurrency model.
	Model Model `json:"model"`
	// Workers is the recommended number of workers (at least 1).
	Workers int `json:"workers"`
	// Step names the flowchart step that decided, e.g. "2b".
	Step string `json:"step"`
	// Rule is that step's rule in words.
	Rule string `json:"rule"`
	// Reason explains the choice with the measured numbers.
	Reason string `json:"reason"`
	// Busy is Profile.BusyNote(): set when the profile was measured on a
	// busy machine, saying so with the figures.
	Busy string `json:"busy,omitempty"`
}

// String is a one-line summary.
func (a Advice) String() string {
	return fmt.Sprintf("%s -> %s, %d workers (step %s)", a.Class, a.Model, a.Workers, a.Step)
}

// MarshalJSON adds the derived figures of the profile (means in ns).
func (a Advice) MarshalJSON() ([]byte, error) {
	type plain Advice
	return json.Marshal(struct {
		plain
		WallNs int64 `json:"mean_wall_ns"`
		CPUNs  int64 `json:"mean_cpu_ns"`
		WaitNs int64 `json:"mean_wait_ns"`
	}{plain(a), int64(a.Profile.Wall()), int64(a.Profile.CPU()), int64(a.Profile.Wait())})
}

// Classify runs the flowchart (see the package doc) on p and returns the
// class, model, worker count and reasons. When p.Cores is not set it uses
// runtime.NumCPU(). An empty profile is classified as CPU-bound with a reason
// saying nothing was measured.
func Classify(p Profile) Advice {
	cores := p.Cores
	if cores < 1 {
		cores = runtime.NumCPU()
	}
	a := Advice{Profile: p, Ratio: p.Ratio(), Busy: p.BusyNote()}
	wall, cpu, wait := p.Wall(), p.CPU(), p.Wait()
	if len(p.Samples) == 0 || wall <= 0 {
		a.Class, a.Model, a.Workers, a.Step = CPUBound, Processes, cores, "0"
		a.Rule = "nothing measured: assume CPU-bound"
		a.Reason = fmt.Sprintf("no run was measured, so the safe choice is one worker per core (%d)", cores)
		return a
	}
	// sizing is the pool-sizing law cores x (1 + wait/compute), capped.
	sizing := func(limit int) int {
		c := max(cpu, time.Microsecond) // a pure sleep still costs a little
		w := float64(cores) * (1 + float64(wait)/float64(c))
		if math.IsInf(w, 0) || math.IsNaN(w) || w > float64(limit) {
			return limit
		}
		return max(1, int(math.Round(w)))
	}
	nums := fmt.Sprintf("CPU %v of wall %v per run, %v of it waiting for a CPU (ratio CPU/(wall - run-queue wait) %.2f, wait %v) over %d run(s) on %d core(s)",
		round(cpu), round(wall), round(p.RunQueue()), a.Ratio, round(wait), len(p.Samples), cores)
	if u := p.UnseenRunQueue(); u > 0 {
		nums += fmt.Sprintf(" (%v of that wait estimated for short-lived processes that ended between readings, from their CPU time at the rate the seen threads waited)", round(u))
	}
	switch {
	case a.Ratio >= CPUBoundRatio:
		a.Class, a.Model, a.Step = CPUBound, Processes, "1"
		a.Rule = fmt.Sprintf("CPU/wall >= %.2f: CPU-bound -> processes, one worker per core", CPUBoundRatio)
		per := max(1, a.Ratio)
		a.Workers = max(1, int(math.Round(float64(cores)/per)))
		a.Reason = nums + ": the work keeps a core busy, so more workers than cores only adds switching; " +
			"in Python the GIL makes threads useless here, hence processes"
		if per >= 1.5 {
			a.Reason += fmt.Sprintf("; each run already uses about %.1f cores itself, so %d worker(s) fill the machine", per, a.Workers)
		}
	case a.Ratio <= IOBoundRatio && wait < LongWait:
		a.Class, a.Model, a.Step = IOBoundShortWaits, Threads, "2a"
		a.Workers = sizing(MaxThreadWorkers)
		a.Rule = fmt.Sprintf("CPU/wall <= %.2f and wait < %v: I/O-bound with short waits -> threads, workers = cores x (1 + wait/compute)", IOBoundRatio, LongWait)
		a.Reason = nums + fmt.Sprintf(": the work mostly waits, briefly; a thread pool overlaps the waits, "+
			"and %d x (1 + %v/%v) gives %d workers (cap %d)", cores, round(wait), round(cpu), a.Workers, MaxThreadWorkers)
	case a.Ratio <= IOBoundRatio:
		a.Class, a.Model, a.Step = IOBoundLongWaits, EventLoop, "2b"
		a.Workers = sizing(MaxEventLoopWorkers)
		a.Rule = fmt.Sprintf("CPU/wall <= %.2f and wait >= %v: I/O-bound with long waits -> event loop, concurrency = cores x (1 + wait/compute)", IOBoundRatio, LongWait)
		a.Reason = nums + fmt.Sprintf(": the work mostly waits, for long; that many concurrent waits are cheapest as "+
			"coroutines on an event loop, and %d x (1 + %v/%v) gives %d concurrent tasks (cap %d)", cores, round(wait), round(cpu), a.Workers, MaxEventLoopWorkers)
	default:
		a.Class, a.Model, a.Step = Mixed, Processes, "3"
		a.Workers = sizing(4 * cores)
		a.Rule = fmt.Sprintf("%.2f < CPU/wall < %.2f: mixed -> processes, workers = cores x (1 + wait/compute), at most 4 x cores", IOBoundRatio, CPUBoundRatio)
		a.Reason = nums + fmt.Sprintf(": the work both computes and waits; the compute part needs real cores "+
			"(processes in Python), and the waits leave room for %d workers", a.Workers)
	}
	return a
}

func round(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
