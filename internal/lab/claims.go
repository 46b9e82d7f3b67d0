package lab

import (
	"fmt"
	"slices"
	"strings"
)

// Claim outcomes, as Claim.Holds spells them.
const (
	// HoldsYes: every deciding check fits the articles' claim.
	HoldsYes = "yes"
	// HoldsNo: at least one deciding check contradicts it.
	HoldsNo = "no"
	// HoldsUnclear: no check contradicts it, but at least one figure fell
	// between the two thresholds (a small speedup that is neither clearly
	// "none" nor clearly "parallel").
	HoldsUnclear = "unclear"
	// HoldsNotMeasured: the rows the claim needs were not in this run
	// (not selected by --workload/--model, python3 absent, or one core).
	HoldsNotMeasured = "not measured"
)

// NoSpeedupAt is the largest speedup over sequential that still counts as
// "no speedup": 15% covers the run-to-run noise of a shared machine.
const NoSpeedupAt = 1.15

// SpeedsUpAt is the smallest speedup over sequential that counts as "speeds
// up" on a machine with this many cores: 1.3x on 2 cores, plus 0.3x per
// further core, up to 1.9x from 4 cores on. A run has 8 CPU-bound tasks,
// and pools pay their start-up inside the measured time, so the bar stays
// well below the ideal (the core count). With one core no model can compute
// in parallel, and the CPU-bound claims are reported as not measured.
func SpeedsUpAt(cores int) float64 {
	c := min(max(cores, 1), 4)
	return 1 + 0.3*float64(c-1)
}

// ClaimThresholds are the speedups the claims were judged with.
type ClaimThresholds struct {
	// SpeedsUp is SpeedsUpAt(cores): at or above it, a model sped the work up.
	SpeedsUp float64 `json:"speeds_up"`
	// NoSpeedup is NoSpeedupAt: at or below it, a model did not.
	NoSpeedup float64 `json:"no_speedup"`
}

// Claim is one of the articles' claims, checked against the measured rows.
type Claim struct {
	// ID is a short stable name (gil-cpu, processes-cpu, free-threads,
	// io-releases-gil, asyncio-waits, asyncio-offload).
	ID string `json:"id"`
	// Claim is the claim in the articles' words, shortened.
	Claim string `json:"claim"`
	// Holds is HoldsYes, HoldsNo, HoldsUnclear or HoldsNotMeasured.
	Holds string `json:"holds"`
	// Evidence lists the rows the claim was checked on, with their figures.
	Evidence []Evidence `json:"evidence"`
	// Checks are the tests applied to the evidence, each with its outcome.
	Checks []Check `json:"checks"`
	// Explanation says in one line what the figures show.
	Explanation string `json:"explanation"`
	// Noisy is set when a row the claim rests on (or its sequential
	// baseline) waited for a core in most of its rounds (Row.Waited): the
	// claim is then UNCLEAR, whatever its figures lean to.
	Noisy bool `json:"noisy"`
	// Leaning is what the figures alone would give (HoldsYes or HoldsNo)
	// when noise made the claim UNCLEAR; empty otherwise.
	Leaning string `json:"leaning,omitempty"`
	// Noise names the measured noise that made the claim UNCLEAR.
	Noise string `json:"noise,omitempty"`
}

// Evidence is one measured row a claim rests on.
type Evidence struct {
	Runtime           string  `json:"runtime"`
	Workload          string  `json:"workload"`
	Model             string  `json:"model"`
	Speedup           float64 `json:"speedup"`
	SpeedupLo         float64 `json:"speedup_lo"`
	SpeedupHi         float64 `json:"speedup_hi"`
	Waited            bool    `json:"waited"`
	RunQueueMS        float64 `json:"run_queue_ms"`
	OthersCPUShare    float64 `json:"others_cpu_share"`
	WallMS            float64 `json:"wall_ms"`
	CPUMS             float64 `json:"cpu_ms"`
	Workers           int     `json:"workers"`
	PeakRSSKB         int64   `json:"peak_rss_kb"`
	OverheadUSPerTask float64 `json:"overhead_us_per_task"`
}

// Check is one test of a claim on the evidence.
type Check struct {
	// Check says what was tested, with the figures.
	Check string `json:"check"`
	// Result is "yes" (fits the claim), "no" (contradicts it) or "unclear".
	Result string `json:"result"`
	// Side marks a check reported for context that does not decide the
	// claim (for example Go's aio-tothread, which the articles do not
	// speak about).
	Side bool `json:"side,omitempty"`
}

// Expectations of a row.
const (
	expectUp   = "speeds up"
	expectFlat = "no speedup"
)

// claimer holds what the claims are judged on.
type claimer struct {
	rows []Row
	m    Machine
	up   float64
}

func newClaimer(rows []Row, m Machine) *claimer {
	return &claimer{rows: rows, m: m, up: SpeedsUpAt(m.Cores)}
}

// lo and hi are a row's speedup interval (the median alone for a row
// measured once).
func lo(r Row) float64 {
	if r.SpeedupLo > 0 {
		return r.SpeedupLo
	}
	return r.Speedup
}

func hi(r Row) float64 {
	if r.SpeedupHi > 0 {
		return r.SpeedupHi
	}
	return r.Speedup
}

// fmtSpeed is "1.63x (1.52-1.71)": the median and the spread over the
// rounds.
func fmtSpeed(r Row) string {
	if len(r.Rounds) < 2 || lo(r) == hi(r) {
		return fmt.Sprintf("%.2fx", r.Speedup)
	}
	return fmt.Sprintf("%.2fx (%.2f-%.2f)", r.Speedup, lo(r), hi(r))
}

// noiseOf describes the measured noise of the rows that waited, or "".
func noiseOf(rows ...Row) string {
	var parts []string
	for _, r := range rows {
		if !r.Waited {
			continue
		}
		parts = append(parts, fmt.Sprintf("%s %s %s waited for a core in %d of %d rounds (run-queue wait %s, other programs used %.0f%% of the CPUs)",
			r.Runtime, r.Workload, r.Model, r.WaitedRounds, len(r.Rounds), fmtMS(r.RunQueueMS), 100*r.OthersCPUShare))
	}
	return strings.Join(parts, "; ")
}

// find returns the successful row, if it ran.
func (c *claimer) find(rt, wl, model string) (Row, bool) {
	for _, r := range c.rows {
		if r.Runtime == rt && r.Workload == wl && r.Model == model && r.Error == "" && r.Speedup > 0 {
			return r, true
		}
	}
	return Row{}, false
}

// fit sets a row's speedup interval against an expectation: it fits or
// contradicts only when the whole interval is on one side of the
// threshold; otherwise it is unclear.
// claimSpread is the interval a claim's threshold check judges a row by.
// With five or more rounds it is the second smallest to the second largest
// round's speedup: one outlying round each way (a round whose sequential
// baseline or whose own run was hit by a burst of load) does not decide a
// claim alone, and the interval still covers the median with
// 1-2(n+1)/2^n confidence (62.5% for 5 rounds, 89% for 7). The thresholds
// it is held against keep their own margins (NoSpeedupAt, SpeedsUpAt). With
// fewer rounds it is the whole spread (min-max). The verdicts' tie test
// keeps min-max.
func claimSpread(r Row) (float64, float64) {
	var sps []float64
	for _, rd := range r.Rounds {
		if rd.Speedup > 0 {
			sps = append(sps, rd.Speedup)
		}
	}
	if len(sps) < 5 {
		return lo(r), hi(r)
	}
	slices.Sort(sps)
	return sps[1], sps[len(sps)-2]
}

func (c *claimer) fit(r Row, expect string) string {
	l, h := claimSpread(r)
	switch {
	case expect == expectUp && l >= c.up, expect == expectFlat && h <= NoSpeedupAt:
		return HoldsYes
	case expect == expectUp && h <= NoSpeedupAt, expect == expectFlat && l >= c.up:
		return HoldsNo
	}
	return HoldsUnclear
}

func (c *claimer) bound(expect string) string {
	if expect == expectUp {
		return fmt.Sprintf(">= %.2fx", c.up)
	}
	return fmt.Sprintf("<= %.2fx", NoSpeedupAt)
}

// building accumulates one claim.
type building struct {
	c       *claimer
	cl      Claim
	missing []string
	rowsBy  map[string]Row // key rt/wl/model
	failed  []string       // deciding checks that did not fit
	unclear []string
	// noisyRows are rows deciding checks rest on that waited for a core.
	noisyRows []Row
}

func (c *claimer) start(id, text string) *building {
	return &building{c: c, cl: Claim{ID: id, Claim: text}, rowsBy: map[string]Row{}}
}

func key(rt, wl, model string) string { return rt + "/" + wl + "/" + model }

// row looks a row up, adds it to the evidence once, and notes it missing
// when it did not run.
func (b *building) row(rt, wl, model string) (Row, bool) {
	k := key(rt, wl, model)
	if r, ok := b.rowsBy[k]; ok {
		return r, true
	}
	r, ok := b.c.find(rt, wl, model)
	if !ok {
		if !slices.Contains(b.missing, k) {
			b.missing = append(b.missing, k)
		}
		return Row{}, false
	}
	b.rowsBy[k] = r
	b.cl.Evidence = append(b.cl.Evidence, Evidence{Runtime: r.Runtime, Workload: r.Workload, Model: r.Model, Speedup: r.Speedup,
		SpeedupLo: lo(r), SpeedupHi: hi(r), Waited: r.Waited, RunQueueMS: r.RunQueueMS, OthersCPUShare: r.OthersCPUShare,
		WallMS: r.WallMS, CPUMS: r.CPUMS, Workers: r.Workers, PeakRSSKB: r.PeakRSSKB, OverheadUSPerTask: r.OverheadUSPerTask})
	return r, true
}

// noteNoise records the rows a deciding check rests on (the row and its
// sequential baseline), for the noise test in finish.
func (b *building) noteNoise(rs ...Row) {
	for _, r := range rs {
		if r.Waited && !slices.ContainsFunc(b.noisyRows, func(x Row) bool { return key(x.Runtime, x.Workload, x.Model) == key(r.Runtime, r.Workload, r.Model) }) {
			b.noisyRows = append(b.noisyRows, r)
		}
	}
}

// baseline is the sequential row of r's runtime and workload.
func (c *claimer) baseline(r Row) Row {
	for _, x := range c.rows {
		if x.Runtime == r.Runtime && x.Workload == r.Workload && x.Model == "sequential" {
			return x
		}
	}
	return Row{}
}

// expect checks one row's speedup against an expectation.
func (b *building) expect(rt, wl, model, expect string, side bool) (Row, string, bool) {
	r, ok := b.row(rt, wl, model)
	if !ok {
		return r, "", false
	}
	res := b.c.fit(r, expect)
	if !side {
		b.noteNoise(r, b.c.baseline(r))
	}
	judged := ""
	if l, h := claimSpread(r); l != lo(r) || h != hi(r) {
		judged = fmt.Sprintf(", judged by %.2f-%.2f (the outermost round each way set aside)", l, h)
	}
	b.add(fmt.Sprintf("%s %s on %s: %s over %d rounds%s, expected %s (%s)", rt, model, wl, fmtSpeed(r), max(1, len(r.Rounds)), judged, expect, b.c.bound(expect)), res, side)
	return r, res, true
}

func (b *building) add(text, res string, side bool) {
	b.cl.Checks = append(b.cl.Checks, Check{Check: text, Result: res, Side: side})
	if side {
		return
	}
	switch res {
	case HoldsNo:
		b.failed = append(b.failed, text)
	case HoldsUnclear:
		b.unclear = append(b.unclear, text)
	}
}

// finish sets Holds from the deciding checks and writes the explanation:
// yes, no and unclear get their own sentence from the claim; the rest is
// common.
func (b *building) finish(yes, no, unclear string) Claim {
	deciding := 0
	for _, ch := range b.cl.Checks {
		if !ch.Side {
			deciding++
		}
	}
	var expl string
	switch {
	case deciding == 0:
		b.cl.Holds = HoldsNotMeasured
		expl = "Not measured: the rows it needs (" + strings.Join(b.missing, ", ") + ") were not in this run (select them with --workload/--model; CPython rows need python3)."
		b.missing = nil
	case len(b.failed) > 0:
		b.cl.Holds, expl = HoldsNo, no+" Against the claim: "+strings.Join(b.failed, "; ")+"."
	case len(b.unclear) > 0:
		b.cl.Holds, expl = HoldsUnclear, unclear+" Undecided: "+strings.Join(b.unclear, "; ")+"."
	default:
		b.cl.Holds, expl = HoldsYes, yes
	}
	if len(b.missing) > 0 {
		expl += " Not in this run: " + strings.Join(b.missing, ", ") + "."
	}
	if noise := noiseOf(b.noisyRows...); noise != "" {
		b.cl.Noisy, b.cl.Noise = true, noise
		if b.cl.Holds == HoldsYes || b.cl.Holds == HoldsNo {
			b.cl.Leaning = b.cl.Holds
			b.cl.Holds = HoldsUnclear
			expl = fmt.Sprintf("UNCLEAR because of measured noise: %s. Without the noise the figures would say it %s: %s",
				noise, map[string]string{HoldsYes: "holds", HoldsNo: "does not hold"}[b.cl.Leaning], expl)
		} else {
			expl += " Measured noise: " + noise + "."
		}
	}
	b.cl.Explanation = expl
	if b.cl.Evidence == nil {
		b.cl.Evidence = []Evidence{}
	}
	if b.cl.Checks == nil {
		b.cl.Checks = []Check{}
	}
	return b.cl
}

// oneCore returns a not-measured claim when the machine cannot compute in
// parallel at all.
func (c *claimer) oneCore(id, text string) (Claim, bool) {
	if c.m.Cores >= 2 {
		return Claim{}, false
	}
	return Claim{ID: id, Claim: text, Holds: HoldsNotMeasured, Evidence: []Evidence{}, Checks: []Check{},
		Explanation: "Not measured: this machine has one core, so no model can compute in parallel and a missing speedup proves nothing."}, true
}

// list formats "model 1.04x, model 1.02x" for the rows that ran.
func (b *building) list(rt, wl string, models ...string) string {
	var parts []string
	for _, m := range models {
		if r, ok := b.rowsBy[key(rt, wl, m)]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2fx", m, r.Speedup))
		}
	}
	return strings.Join(parts, ", ")
}

func joinNonEmpty(sep string, parts ...string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}

// claims checks the articles' claims against the measured rows. Nothing in
// it is decided in advance: each outcome comes from the rows' speedups and
// overheads against the thresholds (SpeedsUpAt, NoSpeedupAt).
func claims(rows []Row, m Machine) []Claim {
	c := newClaimer(rows, m)
	return []Claim{c.gilCPU(), c.processesCPU(), c.freeThreads(), c.ioReleasesGIL(), c.asyncioWaits(), c.asyncioOffload()}
}

const (
	claimGILCPU    = "Threads do not speed up CPU-bound Python (the GIL)"
	claimProcesses = "Processes do speed up CPU-bound work, at a cost"
	claimFree      = "Without a GIL, threads run CPU-bound work in parallel (free-threaded 3.13t)"
	claimIO        = "I/O (and time.sleep) releases the GIL, so threads speed up I/O-bound work"
	claimWaits     = "asyncio handles many slow waits in one thread"
	claimOffload   = "asyncio alone does not help CPU-bound work; offload it (to_thread for blocking calls, processes for CPU)"
)

func (c *claimer) gilCPU() Claim {
	if cl, ok := c.oneCore("gil-cpu", claimGILCPU); ok {
		return cl
	}
	b := c.start("gil-cpu", claimGILCPU)
	b.expect(RuntimeCPython, CPUBound, "threading", expectFlat, false)
	b.expect(RuntimeCPython, CPUBound, "thread-pool", expectFlat, false)
	b.expect(RuntimeGo, CPUBound, "threads-gil", expectFlat, false)
	py := b.list(RuntimeCPython, CPUBound, "threading", "thread-pool")
	gl := b.list(RuntimeGo, CPUBound, "threads-gil")
	figs := joinNonEmpty("; ", prefix("CPython ", py), prefix("Go under the emulated GIL: ", gl))
	yes := "Threads under a GIL ran CPU-bound work no faster than one thread (" + figs + "): only the lock holder computes, so the threads take turns."
	if py == "" {
		yes += " Only the emulated GIL was measured, not CPython itself."
	}
	unclear := "Threads under a GIL gained a little on CPU-bound work (" + figs + "), more than noise but less than parallel computing: likely noise, run again."
	if b.mediansAtMost(NoSpeedupAt) {
		unclear = "The medians show no speedup for threads under a GIL (" + figs + "), as the claim says, but the rounds spread past " + fmt.Sprintf("%.2fx", NoSpeedupAt) + ", so the figures do not settle it: run again."
	}
	return b.finish(yes,
		"Threads under a GIL sped CPU-bound work up ("+figs+"): either this CPython runs without the GIL (a free-threaded build) or the sequential row was slowed by a busy machine.",
		unclear)
}

// mediansAtMost reports whether every row the claim's checks looked at
// so far has a median speedup at or below x.
func (b *building) mediansAtMost(x float64) bool {
	if len(b.rowsBy) == 0 {
		return false
	}
	for _, r := range b.rowsBy {
		if r.Speedup > x {
			return false
		}
	}
	return true
}

func prefix(p, s string) string {
	if s == "" {
		return ""
	}
	return p + s
}

func (c *claimer) processesCPU() Claim {
	if cl, ok := c.oneCore("processes-cpu", claimProcesses); ok {
		return cl
	}
	b := c.start("processes-cpu", claimProcesses)
	type pair struct {
		rt      string
		procs   []string
		threads []string
	}
	var costs []string
	for _, p := range []pair{{RuntimeCPython, []string{"multiprocessing", "process-pool"}, []string{"thread-pool", "threading"}},
		{RuntimeGo, []string{"procpool"}, []string{"threadpool", "goroutines"}}} {
		var thread *Row
		for _, t := range p.threads {
			if r, ok := c.find(p.rt, CPUBound, t); ok && r.OverheadUSPerTask > 0 {
				thread = &r
				break
			}
		}
		for _, pm := range p.procs {
			r, _, ok := b.expect(p.rt, CPUBound, pm, expectUp, false)
			if !ok || thread == nil || r.OverheadUSPerTask <= 0 {
				continue
			}
			b.row(thread.Runtime, CPUBound, thread.Model)
			res := HoldsNo
			if r.OverheadUSPerTask > thread.OverheadUSPerTask {
				res = HoldsYes
			}
			b.add(fmt.Sprintf("%s %s costs more per task than %s: %s vs %s (empty tasks; peak memory %s vs %s)", p.rt, pm, thread.Model,
				fmtUS(r.OverheadUSPerTask), fmtUS(thread.OverheadUSPerTask), fmtKB(r.PeakRSSKB), fmtKB(thread.PeakRSSKB)), res, false)
			costs = append(costs, fmt.Sprintf("%s %s vs %s %s per task", pm, fmtUS(r.OverheadUSPerTask), thread.Model, fmtUS(thread.OverheadUSPerTask)))
		}
	}
	figs := joinNonEmpty("; ", prefix("CPython ", b.list(RuntimeCPython, CPUBound, "multiprocessing", "process-pool")), prefix("Go ", b.list(RuntimeGo, CPUBound, "procpool")))
	cost := strings.Join(costs, "; ")
	return b.finish(
		"Processes computed in parallel ("+figs+") and paid for it in start-up and copying arguments and results ("+cost+").",
		"Not as claimed: "+joinNonEmpty("; ", failedSpeedup(figs, b), costNote(b, cost))+".",
		"Processes gained less than parallel computing should ("+figs+"): the start-up and copying ("+cost+") ate part of the gain, or other programs took the cores; a run with more work per task (without --quick) or a quieter machine shows more.")
}

// failedSpeedup explains, from each process row's measurements, why
// processes did not speed the work up.
func failedSpeedup(figs string, b *building) string {
	for _, f := range b.failed {
		if strings.Contains(f, "expected") {
			var why []string
			for _, ev := range b.cl.Evidence {
				r := b.rowsBy[key(ev.Runtime, ev.Workload, ev.Model)]
				if slices.Contains([]string{"multiprocessing", "process-pool", "procpool"}, r.Model) && hi(r) <= NoSpeedupAt {
					why = append(why, r.Runtime+" "+costSentence(r, b.c.baseline(r)))
				}
			}
			return "processes did not speed CPU-bound work up here (" + figs + "): " + strings.Join(why, "; ")
		}
	}
	return ""
}

func costNote(b *building, cost string) string {
	for _, f := range b.failed {
		if strings.Contains(f, "costs more") {
			return "their per-task cost was not above threads' (" + cost + ")"
		}
	}
	return ""
}

func (c *claimer) freeThreads() Claim {
	if cl, ok := c.oneCore("free-threads", claimFree); ok {
		return cl
	}
	b := c.start("free-threads", claimFree)
	b.expect(RuntimeGo, CPUBound, "goroutines", expectUp, false)
	b.expect(RuntimeGo, CPUBound, "threadpool", expectUp, false)
	// The contrast: the same threads under the emulated GIL, and CPython's.
	b.expect(RuntimeGo, CPUBound, "threads-gil", expectFlat, true)
	free := b.list(RuntimeGo, CPUBound, "goroutines", "threadpool")
	contrast := prefix("Go ", b.list(RuntimeGo, CPUBound, "threads-gil"))
	if r, ok := c.find(RuntimeCPython, CPUBound, "threading"); ok {
		contrast = joinNonEmpty(", ", contrast, fmt.Sprintf("CPython threading %.2fx", r.Speedup))
	}
	procs := ""
	if r, ok := c.find(RuntimeGo, CPUBound, "procpool"); ok {
		procs = fmt.Sprintf(", as fast as or faster than procpool %.2fx without its %s per task", r.Speedup, fmtUS(r.OverheadUSPerTask))
	}
	yes := fmt.Sprintf("Go threads computed in parallel (%s on %d cores%s)", free, c.m.Cores, procs)
	if contrast != "" {
		yes += ", while threads under a GIL did not (" + contrast + ")"
	}
	yes += ". Go has no GIL, so the articles' rule (CPU-bound work to processes) does not apply to Go code: goroutines or a threadpool are enough."
	return b.finish(yes,
		"Go threads did not compute in parallel here ("+free+"): the cores were busy with other programs, or the work was too short.",
		"Go threads gained less than parallel computing should ("+free+"): likely a busy machine; run again.")
}

func (c *claimer) ioReleasesGIL() Claim {
	b := c.start("io-releases-gil", claimIO)
	for _, wl := range []string{FastIO, SlowIO} {
		b.expect(RuntimeGo, wl, "threads-gil", expectUp, false)
		b.expect(RuntimeCPython, wl, "threading", expectUp, false)
		b.expect(RuntimeCPython, wl, "thread-pool", expectUp, false)
	}
	var figs []string
	for _, wl := range []string{FastIO, SlowIO} {
		figs = append(figs, joinNonEmpty("; ", prefix(wl+" Go ", b.list(RuntimeGo, wl, "threads-gil")),
			prefix(wl+" CPython ", b.list(RuntimeCPython, wl, "threading", "thread-pool"))))
	}
	f := joinNonEmpty("; ", figs...)
	return b.finish(
		"Threads under a GIL overlapped their waits ("+f+"): a thread that waits for I/O or sleeps lets go of the lock, so the others run meanwhile.",
		"Threads under a GIL did not speed up I/O-bound work here ("+f+"): with waits this short, taking the lock back and switching cost as much as the overlap gained.",
		"Threads under a GIL gained a little on I/O-bound work ("+f+"): the waits were short next to the cost of switching; slow-io shows the effect more clearly.")
}

// nearZeroCPU is the CPU share of the wall time below which a run counts as
// "almost no CPU": it only waited.
const nearZeroCPU = 0.10

func (c *claimer) asyncioWaits() Claim {
	b := c.start("asyncio-waits", claimWaits)
	for _, p := range []struct{ rt, model string }{{RuntimeGo, "aio"}, {RuntimeCPython, "asyncio"}} {
		r, _, ok := b.expect(p.rt, SlowIO, p.model, expectUp, false)
		if !ok {
			continue
		}
		res := HoldsNo
		if r.CPUMS <= nearZeroCPU*r.WallMS {
			res = HoldsYes
		}
		b.add(fmt.Sprintf("%s %s on %s used almost no CPU: %s of CPU in %s of wall (<= %.0f%%), %d tasks on one event-loop thread (the model's design)",
			p.rt, p.model, SlowIO, fmtMS(r.CPUMS), fmtMS(r.WallMS), nearZeroCPU*100, r.Workers), res, false)
	}
	var figs []string
	for _, p := range []struct{ rt, model string }{{RuntimeGo, "aio"}, {RuntimeCPython, "asyncio"}} {
		if r, ok := b.rowsBy[key(p.rt, SlowIO, p.model)]; ok {
			figs = append(figs, fmt.Sprintf("%s %s %.2fx, %s CPU in %s", p.rt, p.model, r.Speedup, fmtMS(r.CPUMS), fmtMS(r.WallMS)))
		}
	}
	f := strings.Join(figs, "; ")
	return b.finish(
		"One event-loop thread overlapped all the slow waits ("+f+"): a waiting task costs the loop nothing until its wake-up.",
		"The event loop did not overlap the slow waits cheaply here ("+f+").",
		"The event loop overlapped the slow waits only partly ("+f+"): likely a busy machine; run again.")
}

func (c *claimer) asyncioOffload() Claim {
	if cl, ok := c.oneCore("asyncio-offload", claimOffload); ok {
		return cl
	}
	b := c.start("asyncio-offload", claimOffload)
	b.expect(RuntimeGo, CPUBound, "aio", expectFlat, false)
	b.expect(RuntimeCPython, CPUBound, "asyncio", expectFlat, false)
	b.expect(RuntimeGo, CPUBound, "aio-procpool", expectUp, false)
	b.expect(RuntimeCPython, CPUBound, "asyncio-processes", expectUp, false)
	// asyncio.to_thread runs CPU work on threads, still under the GIL.
	_, pyToThread, _ := b.expect(RuntimeCPython, CPUBound, "asyncio-to-thread", expectFlat, false)
	// Go's ToThread runs on threads without a GIL: it may parallelise CPU
	// work. Reported, not judged: the articles speak about CPython.
	_, goToThread, haveGoToThread := b.expect(RuntimeGo, CPUBound, "aio-tothread", expectUp, true)
	// On mixed, offloading should beat the loop alone (the CPU part runs
	// in parallel while the loop keeps waiting): reported as context,
	// because the CPU part of mixed may be too small to pay for processes.
	var mixed []string
	for _, p := range []struct{ rt, alone, off string }{{RuntimeGo, "aio", "aio-procpool"}, {RuntimeCPython, "asyncio", "asyncio-processes"}} {
		a, ok1 := c.find(p.rt, Mixed, p.alone)
		o, ok2 := c.find(p.rt, Mixed, p.off)
		if !ok1 || !ok2 {
			continue
		}
		b.row(p.rt, Mixed, p.alone)
		b.row(p.rt, Mixed, p.off)
		res := HoldsUnclear
		switch {
		case lo(o) > hi(a):
			res = HoldsYes
		case hi(o) < lo(a):
			res = HoldsNo
		}
		b.add(fmt.Sprintf("%s %s beats %s on %s (the spreads do not overlap): %s vs %s", p.rt, p.off, p.alone, Mixed, fmtSpeed(o), fmtSpeed(a)), res, true)
		word := map[string]string{HoldsYes: "beat", HoldsNo: "lost to", HoldsUnclear: "tied with"}[res]
		m := fmt.Sprintf("%s %s %s %s %s", p.off, fmtSpeed(o), word, p.alone, fmtSpeed(a))
		if res != HoldsYes {
			m += " (" + costSentence(o, c.baseline(o)) + ")"
		}
		mixed = append(mixed, m)
	}
	alone := joinNonEmpty(", ", prefix("Go ", b.list(RuntimeGo, CPUBound, "aio")), prefix("CPython ", b.list(RuntimeCPython, CPUBound, "asyncio")))
	off := joinNonEmpty(", ", prefix("Go ", b.list(RuntimeGo, CPUBound, "aio-procpool")), prefix("CPython ", b.list(RuntimeCPython, CPUBound, "asyncio-processes")))
	tt := prefix("CPython ", b.list(RuntimeCPython, CPUBound, "asyncio-to-thread"))
	tail := ""
	switch {
	case tt != "" && pyToThread == HoldsYes:
		tail += " asyncio.to_thread did not help (" + tt + "): its threads still share the GIL."
	case tt != "" && pyToThread == HoldsUnclear && b.rowsBy[key(RuntimeCPython, CPUBound, "asyncio-to-thread")].Speedup <= NoSpeedupAt:
		tail += " asyncio.to_thread gave " + tt + ": no gain by the median, as the GIL predicts, but the rounds spread past " + fmt.Sprintf("%.2fx", NoSpeedupAt) + "."
	case tt != "":
		tail += " asyncio.to_thread gave " + tt + ": more than the GIL should allow (a free-threaded CPython, or noise)."
	}
	if haveGoToThread {
		r := b.rowsBy[key(RuntimeGo, CPUBound, "aio-tothread")]
		if goToThread == HoldsYes {
			tail += fmt.Sprintf(" Go's aio ToThread did parallelise it (%.2fx): Go threads have no GIL, unlike asyncio.to_thread's.", r.Speedup)
		} else {
			tail += fmt.Sprintf(" Go's aio ToThread gave %.2fx here.", r.Speedup)
		}
	}
	if len(mixed) > 0 {
		tail += " On mixed: " + strings.Join(mixed, "; ") + "."
	}
	return b.finish(
		"The event loop alone computed one task at a time ("+alone+"); offloading to processes ran the CPU work in parallel ("+off+")."+tail,
		"Not as claimed on cpu-bound: loop alone "+alone+"; offloaded to processes "+off+" (a contradiction here is usually a busy machine, or a run too short to pay for starting processes)."+tail,
		"Partly: loop alone "+alone+"; offloaded to processes "+off+"; some figures fell between the thresholds."+tail)
}
