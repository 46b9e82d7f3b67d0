// Package lab performs the Python concurrency articles' experiments on this
// machine and reports where their claims hold, with numbers and timelines
// instead of hand-drawn diagrams.
//
// The articles say: threads do not speed up CPU-bound Python because of the
// GIL; processes do, at a cost; sleeping and I/O release the GIL, so threads
// help I/O-bound work; an event loop handles many slow waits in one thread;
// and CPython 3.13's free-threaded build changes the picture. Their rule:
// CPU-bound work to processes, fast I/O to threads, slow I/O to an event loop.
//
// The lab runs four workloads (cpu-bound: counting primes; fast-io: many small
// HTTP requests to a local server it starts; slow-io: sleeps of a few hundred
// milliseconds; mixed: some of both) under every concurrency model it has:
//
//   - Go: sequential; threads under an emulated GIL (package gil); plain
//     goroutines and trident's threadpool (free-threaded threads); trident's
//     procpool (processes); trident's aio event loop, alone, with ToThread,
//     and offloading CPU work to processes.
//   - CPython, when python3 is found: the same workloads with threading,
//     concurrent.futures, multiprocessing and asyncio, from stdlib-only
//     scripts embedded in this package.
//
// Each row is measured: wall time, CPU time (this process and its children,
// from getrusage), speedup over the sequential row of the same runtime, peak
// memory, and the per-task overhead of the model (from a separate run of empty
// tasks). Each row also has a timeline: which worker, thread, process or task
// ran or waited when, and when the emulated GIL was held. Verdicts set the best
// model measured for each workload against the articles' rule and against the
// advise package's classification of the workload. Claims check each of the
// articles' claims on its own rows (threads under a GIL do not speed up CPU
// work; processes do, at a cost; without a GIL threads do; waiting releases
// the GIL; one event loop handles many slow waits; asyncio needs offloading
// for CPU work) and say whether it held here, with thresholds relative to the
// core count (SpeedsUpAt, NoSpeedupAt).
//
// CPU work is calibrated: each runtime measures how fast it counts primes and
// sizes the tasks to the same CPU time, so a Go row and a CPython row of one
// workload do the same amount of waiting and comparable amounts of computing
// (not the same count of primes: CPython is tens of times slower at that).
package lab

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/trident-go/trident/advise"
	"github.com/trident-go/trident/internal/gil"
)

// Runtimes.
const (
	RuntimeGo      = "go"
	RuntimeCPython = "cpython"
)

// ErrUnknownWorkload and ErrUnknownModel are returned for a selection that
// names something the lab does not have; the message lists the valid names.
var (
	ErrUnknownWorkload = errors.New("lab: unknown workload")
	ErrUnknownModel    = errors.New("lab: unknown model")
)

// Config selects and sizes a lab run. The zero value runs everything at full
// size with python3 from PATH.
type Config struct {
	// Quick measures fewer models (those the claims and verdicts rest on,
	// see quickModels) with fewer tasks where that keeps the outcome
	// (tasks of the same size; cpu-bound keeps all of them) in 2 rounds,
	// so that its verdicts agree with the full run's or are UNCLEAR.
	Quick bool
	// Rounds is how many interleaved rounds measure each row (0: 5, or 2
	// with Quick). Every round runs every model of a workload once, in
	// turn, so a change of load hits all of them alike.
	Rounds int
	// Workloads selects workloads by name (nil: all of WorkloadNames).
	Workloads []string
	// Models selects models by name, Go or CPython (nil: all). The
	// sequential baseline of each runtime is always run: speedups need it.
	Models []string
	// Python is the interpreter to use ("": python3 from PATH).
	Python string
	// NoPython skips the CPython rows.
	NoPython bool
	// SwitchInterval is the emulated GIL's switch interval (0: 5 ms, as
	// CPython's default).
	SwitchInterval time.Duration
	// ServerDelay is how long the local HTTP server takes per request for
	// fast-io (0: 1 ms).
	ServerDelay time.Duration
	// Progress, if set, is called before each measurement and once at the end.
	Progress func(Progress)
	// Warn, if set, receives notes meant for stderr (python3 missing, a model
	// not available in this build).
	Warn func(string)
}

// Progress reports how far a run is.
type Progress struct {
	Done, Total int
	Label       string
}

// Round is one measurement of a row: one run of the workload under the
// model, with the noise measured around it.
type Round struct {
	WallMS float64 `json:"wall_ms"`
	CPUMS  float64 `json:"cpu_ms"`
	// Speedup is the sequential row's wall time in the same round over
	// this round's.
	Speedup float64 `json:"speedup"`
	// RunQueueMS is the time the row's measured threads were ready to run
	// but waited for a core (/proc/PID/task/TID/schedstat): this process's
	// threads, and the CPython interpreter's for a CPython row (threads that
	// ended during the row and worker processes are not seen).
	RunQueueMS float64 `json:"run_queue_ms"`
	// StealMS is the hypervisor's steal time during the round (/proc/stat).
	StealMS float64 `json:"steal_ms"`
	// OthersCPUShare is the share of the machine's CPU capacity (cores x
	// wall) that other programs used during the round: the machine's busy
	// time from /proc/stat minus the row's own CPU time.
	OthersCPUShare float64 `json:"others_cpu_share"`
	// Waited marks a round whose work waited for a core: run-queue wait
	// plus steal at least 10% of its CPU time (and at least 2 ms), or other
	// programs using at least a quarter of the machine.
	Waited bool `json:"waited"`
	// StartStopMS is the part of the wall time before the first task
	// started and after the last one ended, from the timeline: starting
	// and stopping the model's workers (a pool's processes, the loop).
	StartStopMS float64 `json:"start_stop_ms"`
}

// Row is one workload under one model, measured in Rounds interleaved
// rounds. The figures are medians over the rounds, with the spread (min-max)
// beside them: for 5 rounds, the median lies within min-max with 94%
// confidence, for 3 rounds 75%, for 2 (a quick run) 50%.
type Row struct {
	Workload string `json:"workload"`
	Model    string `json:"model"`
	Runtime  string `json:"runtime"`
	Family   string `json:"family"`
	Workers  int    `json:"workers"`
	Tasks    int    `json:"tasks"`
	// WallMS is the median wall time of the whole run, pools started and
	// shut down included; WallMinMS and WallMaxMS the spread.
	WallMS    float64 `json:"wall_ms"`
	WallMinMS float64 `json:"wall_min_ms"`
	WallMaxMS float64 `json:"wall_max_ms"`
	// CPUMS is the median user+system time of the process and its
	// waited-for children.
	CPUMS float64 `json:"cpu_ms"`
	// Speedup is the median over the rounds of the sequential row's wall
	// time (same workload, runtime and round) over this row's; SpeedupLo
	// and SpeedupHi are the smallest and largest.
	Speedup   float64 `json:"speedup"`
	SpeedupLo float64 `json:"speedup_lo"`
	SpeedupHi float64 `json:"speedup_hi"`
	// RunQueueMS and OthersCPUShare are the medians of the rounds' (see
	// Round).
	RunQueueMS     float64 `json:"run_queue_ms"`
	OthersCPUShare float64 `json:"others_cpu_share"`
	// StartStopMS is the median of the rounds' (see Round).
	StartStopMS float64 `json:"start_stop_ms"`
	// Waited marks a row whose CPU work waited for a core in at least half
	// of its rounds; claims and verdicts resting on it are not stated with
	// confidence.
	Waited       bool `json:"waited"`
	WaitedRounds int  `json:"waited_rounds"`
	// Rounds are the single measurements, in order.
	Rounds []Round `json:"rounds"`
	// PeakRSSKB is the peak resident memory of the measuring process during
	// the row plus the peaks of the worker processes it used.
	PeakRSSKB int64 `json:"peak_rss_kb"`
	// ChildrenRSSKB is the part of PeakRSSKB due to worker processes.
	ChildrenRSSKB int64 `json:"children_rss_kb"`
	// OverheadUSPerTask is the model's cost per task measured on empty tasks:
	// the wall time of a run of empty tasks divided by their number.
	OverheadUSPerTask float64 `json:"overhead_us_per_task"`
	// GIL holds the emulated lock's counters (threads-gil rows only).
	GIL *gil.Stats `json:"gil,omitempty"`
	// Spans is the row's timeline, from the round whose wall time is the
	// median.
	Spans        []Span `json:"spans"`
	SpansDropped int    `json:"spans_dropped,omitempty"`
	// Error is set when the model failed; its figures are then zero.
	Error string `json:"error,omitempty"`
}

// Verdict is the lab's conclusion for one workload.
type Verdict struct {
	Workload string `json:"workload"`
	// BestModel is the Go model with the highest speedup.
	BestModel   string  `json:"best_model"`
	BestFamily  string  `json:"best_family"`
	BestSpeedup float64 `json:"best_speedup"`
	// Rule is the articles' choice for this kind of work.
	Rule string `json:"articles_rule"`
	// BestSpeedupLo and BestSpeedupHi are the best row's spread; Ties the
	// models whose spread overlaps it.
	BestSpeedupLo float64  `json:"best_speedup_lo"`
	BestSpeedupHi float64  `json:"best_speedup_hi"`
	Ties          []string `json:"ties,omitempty"`
	// Outcome is OutcomeAgrees, OutcomeDisagrees or OutcomeUnclear for the
	// Go rows; Agrees is Outcome == OutcomeAgrees.
	Outcome string `json:"outcome"`
	Agrees  bool   `json:"agrees"`
	Reason  string `json:"reason"`
	// The same for the CPython rows (empty when they did not run).
	CPythonBestModel     string   `json:"cpython_best_model,omitempty"`
	CPythonBestSpeedup   float64  `json:"cpython_best_speedup,omitempty"`
	CPythonBestSpeedupLo float64  `json:"cpython_best_speedup_lo,omitempty"`
	CPythonBestSpeedupHi float64  `json:"cpython_best_speedup_hi,omitempty"`
	CPythonTies          []string `json:"cpython_ties,omitempty"`
	CPythonOutcome       string   `json:"cpython_outcome,omitempty"`
	CPythonAgrees        bool     `json:"cpython_agrees"`
	CPythonReason        string   `json:"cpython_reason,omitempty"`
	// AdviseAgrees reports whether advise's model is of the measured best
	// model's kind (or tied with it) in every runtime; AdviseVsLab says so
	// in words, naming where they differ.
	AdviseAgrees bool   `json:"advise_agrees"`
	AdviseVsLab  string `json:"advise_vs_lab,omitempty"`
	// Advise is the advise package's classification of one task of the
	// workload (run in Go), its recommended model and its reason.
	Advise       string `json:"advise_class"`
	AdviseModel  string `json:"advise_model"`
	AdviseReason string `json:"advise_reason"`
}

// Machine describes where the lab ran.
type Machine struct {
	Cores     int    `json:"cores"`
	GOOS      string `json:"goos"`
	GOARCH    string `json:"goarch"`
	GoVersion string `json:"go_version"`
	Python    string `json:"python,omitempty"`
	// PythonNoGIL is set for a free-threaded CPython running without the
	// GIL (sys._is_gil_enabled() false).
	PythonNoGIL bool `json:"python_no_gil,omitempty"`
	// GoNumbersPerMS and PythonNumbersPerMS are the calibrations: how many
	// numbers each runtime tests for primality per millisecond.
	GoNumbersPerMS     float64 `json:"go_numbers_per_ms"`
	PythonNumbersPerMS float64 `json:"python_numbers_per_ms,omitempty"`
	// LoadAvg is the 1-minute load average (from /proc/loadavg) at the start
	// and at the end of the run: above the core count, other programs were
	// competing for the CPUs and the figures are noisier.
	LoadAvg [2]float64 `json:"load_avg"`
	// SpinBefore and SpinAfter are the calibration spins before the first
	// and after the last measurement.
	SpinBefore Spin `json:"spin_before"`
	SpinAfter  Spin `json:"spin_after"`
	// BusyBefore says, in words, whether the machine was busy before the
	// run started (load average above the core count, or a spin that
	// waited for a core); empty when it was quiet.
	BusyBefore string `json:"busy_before,omitempty"`
}

// Result is a whole lab run.
type Result struct {
	Machine   Machine    `json:"machine"`
	Quick     bool       `json:"quick"`
	Rounds    int        `json:"rounds"`
	Workloads []Workload `json:"workloads"`
	Rows      []Row      `json:"rows"`
	Verdicts  []Verdict  `json:"verdicts"`
	// Claims checks each of the articles' claims against the rows: where it
	// holds, where it does not, and what was not measured.
	Claims []Claim `json:"claims"`
	// ClaimThresholds are the speedups the claims were judged with.
	ClaimThresholds ClaimThresholds `json:"claim_thresholds"`
	// Notes are what the run could not do (python3 missing, models not
	// available in this build) and caveats of the measurement.
	Notes    []string `json:"notes"`
	Started  string   `json:"started"`
	Duration float64  `json:"duration_s"`
}

// ModelInfo describes a model the lab knows.
type ModelInfo struct {
	Name      string `json:"name"`
	Runtime   string `json:"runtime"`
	Family    string `json:"family"`
	About     string `json:"about"`
	Available bool   `json:"available"`
}

// Models lists every model the lab knows, Go first, with whether this build
// can run it.
func Models() []ModelInfo {
	var out []ModelInfo
	have := map[string]goRunner{}
	for _, r := range goRunners() {
		have[r.name] = r
	}
	for _, name := range goModelsPlanned {
		r, ok := have[name]
		mi := ModelInfo{Name: name, Runtime: RuntimeGo, Available: ok, Family: r.family, About: r.about}
		if !ok {
			mi.Family, mi.About = plannedFamily(name), "not available in this build: its executor package has not landed"
		}
		out = append(out, mi)
	}
	for _, m := range pyModels {
		out = append(out, ModelInfo{Name: m.name, Runtime: RuntimeCPython, Family: m.family, About: m.about, Available: true})
	}
	return out
}

func plannedFamily(name string) string {
	switch {
	case name == "procpool":
		return FamilyProcesses
	case strings.HasPrefix(name, "aio"):
		return FamilyEventLoop
	default:
		return FamilyThreads
	}
}

// ModelNames lists the names Config.Models accepts.
func ModelNames() []string {
	var out []string
	for _, m := range Models() {
		if !slices.Contains(out, m.Name) {
			out = append(out, m.Name)
		}
	}
	return out
}

// ParseList splits a comma-separated selection ("cpu-bound,slow-io") and
// checks every name against valid. Empty input selects nothing (nil).
// Duplicates are dropped. The error names the bad entry and lists the valid
// ones.
func ParseList(what, s string, valid []string) ([]string, error) {
	var out []string
	for part := range strings.SplitSeq(s, ",") {
		name := strings.TrimSpace(part)
		if name == "" {
			continue
		}
		if name == "all" {
			return nil, nil
		}
		if !slices.Contains(valid, name) {
			sentinel := ErrUnknownModel
			if what == "workload" {
				sentinel = ErrUnknownWorkload
			}
			return nil, fmt.Errorf("%w %q; valid %ss: %s (or all)", sentinel, name, what, strings.Join(valid, ", "))
		}
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	return out, nil
}

// Validate checks a Config's selections without running anything.
func (c Config) Validate() error {
	for _, w := range c.Workloads {
		if !slices.Contains(WorkloadNames, w) {
			return fmt.Errorf("%w %q; valid workloads: %s", ErrUnknownWorkload, w, strings.Join(WorkloadNames, ", "))
		}
	}
	names := ModelNames()
	for _, m := range c.Models {
		if !slices.Contains(names, m) {
			return fmt.Errorf("%w %q; valid models: %s", ErrUnknownModel, m, strings.Join(names, ", "))
		}
	}
	if c.SwitchInterval < 0 || c.ServerDelay < 0 {
		return errors.New("lab: switch interval and server delay must not be negative")
	}
	return nil
}

func (c Config) wants(model string) bool {
	return model == "sequential" || len(c.Models) == 0 || slices.Contains(c.Models, model)
}

// partsOf says which parts of a task a workload has.
func partsOf(w Workload) int {
	p := 0
	if w.TaskCPU > 0 {
		p |= partCPU
	}
	if w.Reads > 0 {
		p |= partReads
	}
	if w.Sleep > 0 {
		p |= partSleep
	}
	return p
}

// step is one measurement to make.
type step struct {
	label string
	do    func(ctx context.Context) error
}

// Run performs the selected experiments and returns the measured rows and
// verdicts. It fails only for a bad Config, a cancelled ctx or a lab that
// cannot start (no local HTTP server); a model that fails gives a row with
// Error set, and a missing python3 gives a note, not an error.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	warn := cfg.Warn
	if warn == nil {
		warn = func(string) {}
	}
	start := time.Now()
	if cfg.SwitchInterval == 0 {
		cfg.SwitchInterval = gil.DefaultSwitchInterval
	}
	if cfg.ServerDelay == 0 {
		cfg.ServerDelay = time.Millisecond
	}
	res := &Result{Quick: cfg.Quick, Started: start.UTC().Format(time.RFC3339),
		Machine: Machine{Cores: runtime.NumCPU(), GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, GoVersion: runtime.Version()}}
	note := func(s string) { res.Notes = append(res.Notes, s); warn(s) }
	res.Machine.LoadAvg[0] = loadAvg()

	selected := cfg.Workloads
	if len(selected) == 0 {
		selected = WorkloadNames
	}
	all := sizes(cfg.Quick)

	// Which models run.
	available := map[string]bool{}
	var runners []goRunner
	for _, r := range goRunners() {
		available[r.name] = true
		if cfg.wants(r.name) {
			runners = append(runners, r)
		}
	}
	for _, name := range goModelsPlanned {
		if !available[name] && cfg.wants(name) {
			note(fmt.Sprintf("model %s (go) is not available in this build: its executor package has not landed; no row is shown for it", name))
		}
	}
	var pyWanted []string
	for _, m := range pyModels {
		if cfg.wants(m.name) && (len(cfg.Models) == 0 || slices.Contains(cfg.Models, m.name) || m.name == "sequential") {
			pyWanted = append(pyWanted, m.name)
		}
	}
	if len(cfg.Models) > 0 && !slices.ContainsFunc(cfg.Models, func(m string) bool { return slices.Contains(pyModelNames(), m) && m != "sequential" }) && !slices.Contains(cfg.Models, "sequential") {
		pyWanted = nil // only Go models were asked for
	}
	// The CPython interpreter starts (and calibrates) while the Go side
	// starts its server and calibrates: each calibration counts its own
	// thread's CPU time, so running them side by side on different cores
	// does not skew them, and the start of a run no longer waits for the
	// two one after the other.
	type pyStart struct {
		py  *python
		err error
	}
	var pyReady chan pyStart
	if cfg.NoPython {
		if len(pyWanted) > 0 {
			note("CPython rows skipped (--no-python)")
		}
	} else if len(pyWanted) > 0 {
		pyReady = make(chan pyStart, 1)
		go func() {
			py, err := startPython(ctx, cfg.Python)
			pyReady <- pyStart{py, err}
		}()
	}
	srv, err := startServer(cfg.ServerDelay)
	if err != nil {
		if pyReady != nil {
			if ps := <-pyReady; ps.py != nil {
				ps.py.close()
			}
		}
		return nil, err
	}
	defer srv.close()
	fetch := newFetcher(srv.URL)

	goPerMS := calibrate()
	res.Machine.GoNumbersPerMS = goPerMS
	var py *python
	if pyReady != nil {
		ps := <-pyReady
		py = ps.py
		if ps.err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			note(fmt.Sprintf("CPython rows skipped: %v", ps.err))
			py = nil
		} else {
			defer py.close()
			res.Machine.Python = py.version
			res.Machine.PythonNumbersPerMS = py.perMS
			res.Machine.PythonNoGIL = !py.gil
		}
	}
	if py == nil {
		pyWanted = nil
	}

	l := &labRun{cfg: cfg, srv: srv, fetch: fetch, goPerMS: goPerMS, py: py, overhead: map[string]float64{}, samples: map[string][]Row{}}
	if cfg.Rounds <= 0 {
		cfg.Rounds = 5
		if cfg.Quick {
			cfg.Rounds = 2
		}
	}
	l.cfg.Rounds = cfg.Rounds
	res.Rounds = cfg.Rounds
	res.Machine.SpinBefore = spin(goPerMS, spinFor)
	res.Machine.BusyBefore = busyBefore(res.Machine)
	if res.Machine.BusyBefore != "" {
		note("the machine was busy before the start: " + res.Machine.BusyBefore + "; figures will be noisier and claims resting on rows that waited for a core are marked UNCLEAR")
	}
	if cfg.Quick && len(cfg.Models) == 0 {
		note("quick run: the same task sizes as the full run (cpu-bound also the same number of tasks), fewer tasks elsewhere, fewer rounds, and per workload only the models the claims and verdicts rest on; the full run measures every model")
	}
	var steps []step
	probeTasks := 200
	if cfg.Quick {
		probeTasks = 40
	}
	// Per-task overhead: each model once, on empty tasks (a quick run
	// probes only the models the claim on processes' cost compares).
	for _, r := range runners {
		if !l.probes(r.name) {
			continue
		}
		steps = append(steps, step{label: "overhead " + r.name + " (go)", do: func(ctx context.Context) error {
			l.probeGo(ctx, r, probeTasks)
			return nil
		}})
	}
	for _, m := range pyWanted {
		if !l.probes(m) {
			continue
		}
		steps = append(steps, step{label: "overhead " + m + " (cpython)", do: func(ctx context.Context) error {
			l.probePy(ctx, m, probeTasks)
			return nil
		}})
	}
	var order []string // row keys in display order
	for _, name := range selected {
		w := all[name]
		w.About = w.describe(cfg.ServerDelay)
		res.Workloads = append(res.Workloads, w)
		steps = append(steps, step{label: "advise " + name, do: func(ctx context.Context) error {
			l.advise(ctx, w)
			return nil
		}})
		runners := slices.DeleteFunc(slices.Clone(runners), func(r goRunner) bool { return !l.measures(name, r.name) })
		pyWanted := slices.DeleteFunc(slices.Clone(pyWanted), func(m string) bool { return !l.measures(name, m) })
		for _, r := range runners {
			order = append(order, key(RuntimeGo, name, r.name))
		}
		for _, m := range pyWanted {
			order = append(order, key(RuntimeCPython, name, m))
		}
		// Interleaved rounds: A, B, C, A, B, C, ...
		for round := range cfg.Rounds {
			tag := fmt.Sprintf(" [round %d/%d]", round+1, cfg.Rounds)
			var goSteps, pySteps []step
			for _, r := range runners {
				goSteps = append(goSteps, step{label: name + " " + r.name + " (go)" + tag, do: func(ctx context.Context) error {
					l.addSample(key(RuntimeGo, name, r.name), l.goRow(ctx, r, w))
					return nil
				}})
			}
			for _, m := range pyWanted {
				pySteps = append(pySteps, step{label: name + " " + m + " (cpython)" + tag, do: func(ctx context.Context) error {
					l.addSample(key(RuntimeCPython, name, m), l.pyRow(ctx, m, w))
					return nil
				}})
			}
			// A quick run measures slow-io's Go and CPython rows side by
			// side: they sleep (a few ms of CPU in 80 ms waits) and none
			// of its quick models starts processes, so neither takes a core
			// the other needs. The full run keeps them one after another:
			// its process rows fork and compute beside the sleepers.
			if cfg.Quick && name == SlowIO && len(cfg.Models) == 0 {
				steps = append(steps, sideBySide(goSteps, pySteps)...)
			} else {
				steps = append(steps, goSteps...)
				steps = append(steps, pySteps...)
			}
		}
	}
	for i, s := range steps {
		if cfg.Progress != nil {
			cfg.Progress(Progress{Done: i, Total: len(steps), Label: s.label})
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := s.do(ctx); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cfg.Progress != nil {
		cfg.Progress(Progress{Done: len(steps), Total: len(steps), Label: "done"})
	}
	res.Machine.SpinAfter = spin(goPerMS, spinFor)
	l.rows = aggregate(order, l.samples)
	for i := range l.rows {
		r := &l.rows[i]
		r.OverheadUSPerTask = l.overhead[r.Runtime+"/"+r.Model]
	}
	res.Rows = l.rows
	res.Verdicts = verdicts(selected, l.rows, l.advice)
	if slices.ContainsFunc(l.rows, func(r Row) bool { return r.Model == "threads-gil" }) {
		res.Notes = append(res.Notes, "threads-gil counts only prime counting as bytecode; sending a request and reading its answer run with the emulated lock released (in CPython the bit of parsing in between holds the GIL)")
	}
	res.Machine.LoadAvg[1] = loadAvg()
	res.Claims = claims(l.rows, res.Machine)
	res.ClaimThresholds = ClaimThresholds{SpeedsUp: SpeedsUpAt(res.Machine.Cores), NoSpeedup: NoSpeedupAt}
	res.Notes = append(res.Notes, busyNotes(l.rows, res.Machine)...)
	res.Notes = append(res.Notes, "peak memory of a Go row is this whole lab process's peak during the row (plus its worker processes); a CPython row's is a fresh interpreter's (plus its workers)")
	res.Duration = time.Since(start).Seconds()
	return res, nil
}

// sideBySide pairs the steps of a and b, the i-th of a with the i-th of b,
// into steps that run both at the same time and return the first error; the
// rest of the longer list stays as it was, one step at a time.
func sideBySide(a, b []step) []step {
	var out []step
	for i := range max(len(a), len(b)) {
		switch {
		case i >= len(a):
			out = append(out, b[i])
		case i >= len(b):
			out = append(out, a[i])
		default:
			x, y := a[i], b[i]
			out = append(out, step{label: x.label + " | " + y.label, do: func(ctx context.Context) error {
				errc := make(chan error, 1)
				go func() { errc <- y.do(ctx) }()
				err := x.do(ctx)
				if err2 := <-errc; err == nil {
					err = err2
				}
				return err
			}})
		}
	}
	return out
}

// addSample records one round of a row (steps may run side by side).
func (l *labRun) addSample(k string, r Row) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.samples[k] = append(l.samples[k], r)
}

// measures reports whether the run measures model on workload: every
// selected model, except in a quick run without --model, which measures the
// sequential baselines and quickModels.
func (l *labRun) measures(workload, model string) bool {
	if !l.cfg.Quick || len(l.cfg.Models) > 0 || model == "sequential" {
		return true
	}
	return slices.Contains(quickModels[workload], model)
}

// quickProbes are the models whose per-task overhead a quick run measures:
// those the claim "processes ..., at a cost" compares.
var quickProbes = []string{"procpool", "goroutines", "multiprocessing", "threading"}

// probes reports whether the run measures model's per-task overhead.
func (l *labRun) probes(model string) bool {
	return !l.cfg.Quick || len(l.cfg.Models) > 0 || slices.Contains(quickProbes, model)
}

// labRun holds the state of one Run.
type labRun struct {
	cfg      Config
	srv      *server
	fetch    *fetcher
	goPerMS  float64
	py       *python
	rows     []Row
	mu       sync.Mutex       // guards samples
	samples  map[string][]Row // key(runtime, workload, model) -> one row per round
	overhead map[string]float64
	advice   map[string]advise.Advice
}

func durationNS(ns int64) time.Duration { return time.Duration(ns) }

func (l *labRun) env(w Workload) *env {
	return &env{w: w, numbers: int(l.goPerMS * float64(w.TaskCPU) / float64(time.Millisecond)), perMS: l.goPerMS,
		srv: l.srv, fetch: l.fetch, rec: newRecorder(), interval: int64(l.cfg.SwitchInterval)}
}

func (l *labRun) goRow(ctx context.Context, r goRunner, w Workload) Row {
	e := l.env(w)
	row := Row{Workload: w.Name, Model: r.name, Runtime: RuntimeGo, Family: r.family, Tasks: w.Tasks}
	runtime.GC()
	resetPeakRSS()
	u0 := readUsage()
	e.rec = newRecorder() // the timeline's zero is the start of the run
	np := startNoise(0)
	t0 := time.Now()
	err := r.run(ctx, e)
	wall := time.Since(t0)
	u1 := readUsage()
	peak := peakRSSKB()
	var rd Round
	row.Workers = e.workers
	if err != nil {
		row.Error = err.Error()
		return row
	}
	row.WallMS = ms(wall)
	row.CPUMS = ms((u1.self - u0.self) + (u1.children - u0.children))
	rd.WallMS, rd.CPUMS = row.WallMS, row.CPUMS
	np.stop(&rd, 0)
	rd.StartStopMS = startStopMS(e.rec.spans, e.rec.dropped, rd.WallMS)
	row.Rounds = []Round{rd}
	for _, kb := range e.childRSS {
		row.ChildrenRSSKB += kb
	}
	row.PeakRSSKB = peak + row.ChildrenRSSKB
	row.GIL = e.gilStats
	row.Spans, row.SpansDropped = e.rec.spans, e.rec.dropped
	return row
}

func (l *labRun) probeGo(ctx context.Context, r goRunner, n int) {
	w := Workload{Name: "noop", Tasks: n}
	e := l.env(w)
	e.forceParts = partCPU // dispatch the (empty) CPU part the way the model would
	t0 := time.Now()
	if err := r.run(ctx, e); err != nil {
		return
	}
	l.overhead[RuntimeGo+"/"+r.name] = float64(time.Since(t0).Microseconds()) / float64(n)
}

func (l *labRun) pyRow(ctx context.Context, model string, w Workload) Row {
	fam := ""
	for _, m := range pyModels {
		if m.name == model {
			fam = m.family
		}
	}
	row := Row{Workload: w.Name, Model: model, Runtime: RuntimeCPython, Family: fam, Tasks: w.Tasks}
	numbers := int(l.py.perMS * float64(w.TaskCPU) / float64(time.Millisecond))
	np := startNoise(l.py.pid)
	r, err := l.py.run(ctx, model, w, w.Tasks, numbers, partsOf(w), l.srv.URL)
	if err != nil {
		row.Error = err.Error()
		return row
	}
	rd := Round{WallMS: r.WallS * 1e3, CPUMS: r.CPUS * 1e3}
	np.stop(&rd, rd.CPUMS)
	row.Workers = r.Workers
	row.WallMS = r.WallS * 1e3
	row.CPUMS = r.CPUS * 1e3
	row.ChildrenRSSKB = r.ChildMaxRSSKB
	row.PeakRSSKB = r.SelfMaxRSSKB + r.ChildMaxRSSKB
	row.Spans, row.SpansDropped = r.spans()
	rd.StartStopMS = startStopMS(row.Spans, row.SpansDropped, rd.WallMS)
	row.Rounds = []Round{rd}
	return row
}

func (l *labRun) probePy(ctx context.Context, model string, n int) {
	r, err := l.py.run(ctx, model, Workload{Name: "noop"}, n, 0, partCPU, l.srv.URL)
	if err != nil {
		return
	}
	l.overhead[RuntimeCPython+"/"+model] = r.WallS * 1e6 / float64(n)
}

// advise classifies one task of w, run sequentially in Go, with the advise
// package.
func (l *labRun) advise(ctx context.Context, w Workload) {
	if l.advice == nil {
		l.advice = map[string]advise.Advice{}
	}
	// The unit advise sees is the unit that waits: a whole task, except for
	// fast-io, whose task is a string of short waits on one connection (the
	// articles' "fast I/O" is about how long each wait is), so one request
	// on an open connection is profiled, as a thread of a pool would make
	// it. Dialling is left out: a new TCP connection per profiled request
	// (and the local server's accept) is CPU the workload does not spend
	// per request, and made it look "mixed".
	e := l.env(w)
	// A quick run profiles a task that only sleeps once: its CPU/wall
	// hardly moves between runs. A task with a CPU part keeps two runs: with
	// one, a mixed task once came out "io-bound-long-waits" (CPU/wall 0.23,
	// a core taken away during its computing).
	runs := 3
	if l.cfg.Quick {
		runs = 2
		if partsOf(w) == partSleep {
			runs = 1
		}
	}
	fn := func(ctx context.Context) error {
		_, err := runPlain(ctx, e.spec(0, partsOf(w)), l.fetch)
		return err
	}
	if w.Name == FastIO {
		c, err := l.fetch.dial(ctx)
		if err != nil {
			return
		}
		defer c.close()
		if err := c.get(ctx); err != nil { // warm the connection up
			return
		}
		runs = 20 // a request is short: more runs, still cheap
		fn = c.get
	}
	p, err := advise.ProfileFunc(ctx, fn, runs)
	if err != nil {
		return
	}
	l.advice[w.Name] = advise.Classify(p)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// startStopMS is the part of a run's wall time (ms) outside its timeline:
// before the first span started and after the last one ended. It is 0 when
// the timeline is empty or lost spans (its ends are then unknown).
func startStopMS(spans []Span, dropped int, wallMS float64) float64 {
	if len(spans) == 0 || dropped > 0 {
		return 0
	}
	first, last := spans[0].StartUS, spans[0].EndUS
	for _, s := range spans[1:] {
		first, last = min(first, s.StartUS), max(last, s.EndUS)
	}
	return max(0, first/1e3) + max(0, wallMS-last/1e3)
}

// spinFor is the CPU time of a calibration spin.
const spinFor = 30 * time.Millisecond

// busyBefore says why the machine counted as busy before the run, or "".
func busyBefore(m Machine) string {
	var why []string
	if m.Cores > 0 && m.LoadAvg[0] > float64(m.Cores)*0.75 {
		why = append(why, fmt.Sprintf("load average %.1f over the last minute on %d cores", m.LoadAvg[0], m.Cores))
	}
	if m.SpinBefore.Busy {
		why = append(why, fmt.Sprintf("a %s calibration spin took %s of wall time and waited %s for a core",
			fmtMS(m.SpinBefore.CPUMS), fmtMS(m.SpinBefore.WallMS), fmtMS(m.SpinBefore.RunQueueMS)))
	}
	return strings.Join(why, "; ")
}

// aggregate turns the rounds of every row into one row each: medians,
// spreads and the paired speedups (each round's sequential wall time of
// the same workload and runtime over the row's).
func aggregate(order []string, samples map[string][]Row) []Row {
	var out []Row
	for _, k := range order {
		rs := samples[k]
		if len(rs) == 0 {
			continue
		}
		seq := samples[key(rs[0].Runtime, rs[0].Workload, "sequential")]
		row := rs[0]
		row.Rounds = nil
		var walls, cpus, sps, rqs, others, startStops []float64
		failed := ""
		for i, r := range rs {
			if r.Error != "" {
				failed = r.Error
				continue
			}
			rd := r.Rounds[0]
			if i < len(seq) && seq[i].Error == "" && rd.WallMS > 0 {
				rd.Speedup = seq[i].WallMS / rd.WallMS
				sps = append(sps, rd.Speedup)
			}
			row.Rounds = append(row.Rounds, rd)
			walls, cpus = append(walls, rd.WallMS), append(cpus, rd.CPUMS)
			rqs, others = append(rqs, rd.RunQueueMS), append(others, rd.OthersCPUShare)
			startStops = append(startStops, rd.StartStopMS)
			if rd.Waited {
				row.WaitedRounds++
			}
		}
		if failed != "" || len(walls) == 0 {
			out = append(out, Row{Workload: row.Workload, Model: row.Model, Runtime: row.Runtime, Family: row.Family,
				Workers: row.Workers, Tasks: row.Tasks, Error: failed, Spans: []Span{}, Rounds: row.Rounds})
			continue
		}
		// The timeline and the memory of the median round.
		med := median(walls)
		best := 0
		for i, r := range rs {
			if r.Error == "" && math.Abs(r.WallMS-med) < math.Abs(rs[best].WallMS-med) {
				best = i
			}
		}
		rounds := row.Rounds
		row = rs[best]
		row.Rounds = rounds
		row.WallMS, row.WallMinMS, row.WallMaxMS = med, slices.Min(walls), slices.Max(walls)
		row.CPUMS = median(cpus)
		row.RunQueueMS, row.OthersCPUShare = median(rqs), median(others)
		row.StartStopMS = median(startStops)
		row.WaitedRounds = 0
		for _, rd := range rounds {
			if rd.Waited {
				row.WaitedRounds++
			}
		}
		row.Waited = 2*row.WaitedRounds >= len(rounds)
		if len(sps) > 0 {
			row.Speedup, row.SpeedupLo, row.SpeedupHi = median(sps), slices.Min(sps), slices.Max(sps)
		}
		out = append(out, row)
	}
	return out
}

// median of a non-empty slice (the mean of the middle two for an even
// count).
func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	if n == 0 {
		return 0
	}
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

// loadAvg reads the 1-minute load average (0 where /proc is missing).
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	var v float64
	if _, err := fmt.Sscanf(string(b), "%f", &v); err != nil {
		return 0
	}
	return v
}

// busyNotes reports the measured noise: the rows that waited for a core in
// most of their rounds, and a calibration spin after the run that waited.
func busyNotes(rows []Row, m Machine) []string {
	var out []string
	var waited []string
	for _, r := range rows {
		if r.Waited {
			waited = append(waited, fmt.Sprintf("%s %s %s (%d/%d rounds, run-queue wait %s, others %.0f%%)", r.Runtime, r.Workload, r.Model,
				r.WaitedRounds, len(r.Rounds), fmtMS(r.RunQueueMS), 100*r.OthersCPUShare))
		}
	}
	if len(waited) > 0 {
		out = append(out, fmt.Sprintf("%d of %d rows waited for a core in most of their rounds (measured from /proc: run-queue wait of their threads, or other programs using at least %.0f%% of the CPUs): %s. Claims and verdicts resting on them are UNCLEAR; run again on a quieter machine to decide them",
			len(waited), len(rows), othersBusy*100, strings.Join(waited, "; ")))
	}
	if m.SpinAfter.Busy {
		out = append(out, fmt.Sprintf("the calibration spin after the run waited %s for a core (%s of CPU in %s of wall): the machine was busy at the end",
			fmtMS(m.SpinAfter.RunQueueMS), fmtMS(m.SpinAfter.CPUMS), fmtMS(m.SpinAfter.WallMS)))
	}
	return out
}
