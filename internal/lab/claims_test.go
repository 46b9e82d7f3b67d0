package lab

import (
	"bytes"
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// srow is a synthetic measured row: speedup s, wall 100 ms, CPU cpu ms,
// overhead ov µs per task.
func srow(rt, wl, model string, s, cpu, ov float64) Row {
	return Row{Runtime: rt, Workload: wl, Model: model, Speedup: s, WallMS: 100, CPUMS: cpu, OverheadUSPerTask: ov, Workers: 4, Tasks: 4}
}

var quiet2 = Machine{Cores: 2, LoadAvg: [2]float64{0.5, 0.5}}

// articlesRows are rows that behave as the articles say, on 2 cores.
func articlesRows() []Row {
	g, p := RuntimeGo, RuntimeCPython
	return []Row{
		srow(g, CPUBound, "sequential", 1, 100, 0.1),
		srow(g, CPUBound, "threads-gil", 0.99, 100, 4),
		srow(g, CPUBound, "goroutines", 1.96, 100, 0.5),
		srow(g, CPUBound, "threadpool", 1.95, 100, 3),
		srow(g, CPUBound, "procpool", 1.7, 110, 240),
		srow(g, CPUBound, "aio", 1.0, 100, 2),
		srow(g, CPUBound, "aio-tothread", 1.9, 100, 7),
		srow(g, CPUBound, "aio-procpool", 1.6, 110, 250),
		srow(p, CPUBound, "sequential", 1, 100, 2),
		srow(p, CPUBound, "threading", 1.04, 100, 75),
		srow(p, CPUBound, "thread-pool", 1.01, 100, 95),
		srow(p, CPUBound, "multiprocessing", 1.6, 120, 400),
		srow(p, CPUBound, "process-pool", 1.7, 120, 340),
		srow(p, CPUBound, "asyncio", 0.98, 100, 25),
		srow(p, CPUBound, "asyncio-to-thread", 1.0, 100, 120),
		srow(p, CPUBound, "asyncio-processes", 1.5, 120, 350),
		srow(g, FastIO, "threads-gil", 3.5, 5, 4),
		srow(p, FastIO, "threading", 1.8, 10, 75),
		srow(p, FastIO, "thread-pool", 2.5, 10, 95),
		srow(g, SlowIO, "threads-gil", 3.9, 1, 4),
		srow(g, SlowIO, "aio", 3.9, 1, 2),
		srow(p, SlowIO, "threading", 3.9, 2, 75),
		srow(p, SlowIO, "thread-pool", 3.8, 2, 95),
		srow(p, SlowIO, "asyncio", 3.9, 2, 25),
		srow(g, Mixed, "aio", 2.0, 20, 2),
		srow(g, Mixed, "aio-procpool", 2.6, 30, 250),
		srow(p, Mixed, "asyncio", 2.0, 20, 25),
		srow(p, Mixed, "asyncio-processes", 2.5, 30, 350),
	}
}

func claimByID(t *testing.T, cs []Claim, id string) Claim {
	t.Helper()
	for _, c := range cs {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no claim %q in %+v", id, cs)
	return Claim{}
}

// with returns rows with the speedup (and CPU) of one row changed.
func with(rows []Row, rt, wl, model string, s, cpu float64) []Row {
	out := make([]Row, 0, len(rows))
	for _, r := range rows {
		if r.Runtime == rt && r.Workload == wl && r.Model == model {
			r.Speedup = s
			if cpu >= 0 {
				r.CPUMS = cpu
			}
		}
		out = append(out, r)
	}
	return out
}

// only keeps the rows for which keep is true.
func only(rows []Row, keep func(Row) bool) []Row {
	var out []Row
	for _, r := range rows {
		if keep(r) {
			out = append(out, r)
		}
	}
	return out
}

func TestSpeedsUpAt(t *testing.T) {
	for cores, want := range map[int]float64{0: 1, 1: 1, 2: 1.3, 3: 1.6, 4: 1.9, 64: 1.9} {
		if got := SpeedsUpAt(cores); got < want-1e-9 || got > want+1e-9 {
			t.Errorf("SpeedsUpAt(%d) = %v, want %v", cores, got, want)
		}
	}
}

func TestClaimsAllHold(t *testing.T) {
	cs := claims(articlesRows(), quiet2)
	if len(cs) != 6 {
		t.Fatalf("%d claims", len(cs))
	}
	for _, c := range cs {
		if c.Holds != HoldsYes || c.Noisy || len(c.Evidence) == 0 || len(c.Checks) == 0 || c.Claim == "" || c.Explanation == "" {
			t.Errorf("claim %s: %+v", c.ID, c)
		}
		if strings.Contains(c.Explanation, "Not in this run") {
			t.Errorf("claim %s says rows are missing: %s", c.ID, c.Explanation)
		}
	}
	free := claimByID(t, cs, "free-threads")
	for _, want := range []string{"goroutines 1.96x", "threads-gil 0.99x", "CPython threading 1.04x", "does not apply to Go code"} {
		if !strings.Contains(free.Explanation, want) {
			t.Errorf("free-threads explanation lacks %q: %s", want, free.Explanation)
		}
	}
	off := claimByID(t, cs, "asyncio-offload")
	for _, want := range []string{"asyncio-to-thread 1.00x", "ToThread did parallelise it (1.90x)", "aio-procpool 2.60x beat aio 2.00x"} {
		if !strings.Contains(off.Explanation, want) {
			t.Errorf("asyncio-offload explanation lacks %q: %s", want, off.Explanation)
		}
	}
	proc := claimByID(t, cs, "processes-cpu")
	if !strings.Contains(proc.Explanation, "procpool 240.0µs vs threadpool 3.0µs per task") {
		t.Errorf("processes-cpu explanation lacks the cost: %s", proc.Explanation)
	}
}

// TestClaimsDoNotHold breaks each claim with one measured figure and checks
// that exactly that claim turns to "no", naming the row.
func TestClaimsDoNotHold(t *testing.T) {
	g, p := RuntimeGo, RuntimeCPython
	cases := []struct {
		id   string
		rows []Row
		want string
	}{
		{"gil-cpu", with(articlesRows(), p, CPUBound, "threading", 1.9, -1), "cpython threading on cpu-bound: 1.90x"},
		{"processes-cpu", with(articlesRows(), p, CPUBound, "process-pool", 0.9, -1), "cpython process-pool on cpu-bound: 0.90x"},
		{"free-threads", with(articlesRows(), g, CPUBound, "goroutines", 1.0, -1), "go goroutines on cpu-bound: 1.00x"},
		{"io-releases-gil", with(articlesRows(), p, FastIO, "threading", 1.05, -1), "cpython threading on fast-io: 1.05x"},
		{"asyncio-waits", with(articlesRows(), g, SlowIO, "aio", 3.9, 60), "used almost no CPU: 60ms of CPU"},
		{"asyncio-offload", with(articlesRows(), p, CPUBound, "asyncio-to-thread", 1.8, -1), "cpython asyncio-to-thread on cpu-bound: 1.80x"},
	}
	for _, c := range cases {
		t.Run(c.id, func(t *testing.T) {
			for _, cl := range claims(c.rows, quiet2) {
				want := HoldsYes
				if cl.ID == c.id {
					want = HoldsNo
				}
				if cl.Holds != want {
					t.Fatalf("claim %s: holds %q, want %q: %s", cl.ID, cl.Holds, want, cl.Explanation)
				}
				if cl.ID == c.id && !strings.Contains(cl.Explanation, c.want) {
					t.Fatalf("explanation lacks %q: %s", c.want, cl.Explanation)
				}
			}
		})
	}
	// The cost half of claim 2: processes cheaper per task than threads.
	rows := articlesRows()
	for i := range rows {
		if rows[i].Model == "procpool" {
			rows[i].OverheadUSPerTask = 1
		}
	}
	if cl := claimByID(t, claims(rows, quiet2), "processes-cpu"); cl.Holds != HoldsNo || !strings.Contains(cl.Explanation, "per-task cost was not above") {
		t.Fatalf("cheap processes: %+v", cl)
	}
}

func TestClaimsNotMeasured(t *testing.T) {
	// Only Go's slow-io goroutines ran (--workload slow-io --model goroutines).
	rows := []Row{srow(RuntimeGo, SlowIO, "sequential", 1, 1, 0), srow(RuntimeGo, SlowIO, "goroutines", 3.9, 1, 0.5)}
	for _, cl := range claims(rows, quiet2) {
		if cl.Holds != HoldsNotMeasured || !strings.Contains(cl.Explanation, "Not measured") || len(cl.Evidence) != 0 || cl.Evidence == nil {
			t.Fatalf("claim %s: %+v", cl.ID, cl)
		}
	}
	// No python3: the CPython-only parts are listed as not in this run, the
	// Go rows still decide.
	goOnly := only(articlesRows(), func(r Row) bool { return r.Runtime == RuntimeGo })
	gc := claimByID(t, claims(goOnly, quiet2), "gil-cpu")
	if gc.Holds != HoldsYes || !strings.Contains(gc.Explanation, "Only the emulated GIL was measured") || !strings.Contains(gc.Explanation, "cpython/cpu-bound/threading") {
		t.Fatalf("go-only gil-cpu: %+v", gc)
	}
	// A failed row does not count as measured.
	failed := articlesRows()
	for i := range failed {
		if failed[i].Workload == SlowIO && (failed[i].Model == "aio" || failed[i].Model == "asyncio") {
			failed[i].Error, failed[i].Speedup = "boom", 0
		}
	}
	if cl := claimByID(t, claims(failed, quiet2), "asyncio-waits"); cl.Holds != HoldsNotMeasured {
		t.Fatalf("failed rows: %+v", cl)
	}
	// One core: the CPU-bound claims cannot be measured; the I/O ones can.
	for _, cl := range claims(articlesRows(), Machine{Cores: 1}) {
		cpu := cl.ID != "io-releases-gil" && cl.ID != "asyncio-waits"
		if cpu != (cl.Holds == HoldsNotMeasured) {
			t.Fatalf("one core, claim %s: %+v", cl.ID, cl)
		}
	}
}

func TestClaimsUnclearAndNoisy(t *testing.T) {
	rows := with(articlesRows(), RuntimeGo, CPUBound, "threads-gil", 1.2, -1)
	if cl := claimByID(t, claims(rows, quiet2), "gil-cpu"); cl.Holds != HoldsUnclear {
		t.Fatalf("1.2x under the GIL: %+v", cl)
	}
	// On 4 cores 1.6x is no longer "speeds up".
	if cl := claimByID(t, claims(articlesRows(), Machine{Cores: 4}), "processes-cpu"); cl.Holds != HoldsUnclear {
		t.Fatalf("1.6x on 4 cores: %+v", cl)
	}
	// The load average alone flags nothing: noise is measured per row.
	for _, cl := range claims(articlesRows(), Machine{Cores: 2, LoadAvg: [2]float64{5, 3}}) {
		if cl.Noisy {
			t.Fatalf("load average alone flagged claim %s: %+v", cl.ID, cl)
		}
	}
	// A Go CPU-bound sequential row that waited for a core: claims resting
	// on Go's CPU-bound rows become UNCLEAR, leaning to what the figures
	// say, with the measured noise named; the others keep their outcome.
	rows = articlesRows()
	for i := range rows {
		if rows[i].Model == "sequential" && rows[i].Runtime == RuntimeGo && rows[i].Workload == CPUBound {
			rows[i].Waited, rows[i].WaitedRounds, rows[i].RunQueueMS, rows[i].OthersCPUShare = true, 4, 38, 0.6
			rows[i].Rounds = make([]Round, 5)
		}
	}
	cs := claims(rows, quiet2)
	ft := claimByID(t, cs, "free-threads")
	if ft.Holds != HoldsUnclear || ft.Leaning != HoldsYes || !ft.Noisy || !strings.Contains(ft.Explanation, "run-queue wait 38ms") || !strings.Contains(ft.Explanation, "60% of the CPUs") {
		t.Fatalf("free-threads on a waited row: %+v", ft)
	}
	if w := claimByID(t, cs, "asyncio-waits"); w.Noisy || w.Holds != HoldsYes {
		t.Fatalf("asyncio-waits does not rest on the waited row: %+v", w)
	}
}

// A claim is decided only when the whole spread is on one side of the
// threshold: a median above it with a round below is UNCLEAR, never a flip.
func TestClaimsSpread(t *testing.T) {
	set := func(rows []Row, rt, wl, model string, med, l, h float64) []Row {
		for i := range rows {
			if rows[i].Runtime == rt && rows[i].Workload == wl && rows[i].Model == model {
				rows[i].Speedup, rows[i].SpeedupLo, rows[i].SpeedupHi = med, l, h
				rows[i].Rounds = make([]Round, 5)
			}
		}
		return rows
	}
	rows := set(articlesRows(), RuntimeCPython, CPUBound, "multiprocessing", 1.6, 1.05, 1.7)
	cl := claimByID(t, claims(rows, quiet2), "processes-cpu")
	if cl.Holds != HoldsUnclear || !strings.Contains(cl.Explanation, "1.60x (1.05-1.70)") {
		t.Fatalf("processes with a spread across both thresholds: %+v", cl)
	}
	rows = set(articlesRows(), RuntimeCPython, CPUBound, "multiprocessing", 1.05, 1.0, 1.1)
	if cl := claimByID(t, claims(rows, quiet2), "processes-cpu"); cl.Holds != HoldsNo {
		t.Fatalf("processes wholly below 1.15x: %+v", cl)
	}
	rows = set(articlesRows(), RuntimeCPython, CPUBound, "threading", 1.0, 0.9, 1.2)
	if cl := claimByID(t, claims(rows, quiet2), "gil-cpu"); cl.Holds != HoldsUnclear {
		t.Fatalf("threading spread reaching 1.2x: %+v", cl)
	}
}

func TestClaimsOutput(t *testing.T) {
	res := &Result{Machine: quiet2, Rows: articlesRows()}
	res.Claims = claims(res.Rows, res.Machine)
	res.ClaimThresholds = ClaimThresholds{SpeedsUp: SpeedsUpAt(2), NoSpeedup: NoSpeedupAt}
	var tbl, page, js bytes.Buffer
	if err := res.WriteTable(&tbl); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Claims of the articles", ">= 1.30x on 2 cores", "1. Threads do not speed up CPU-bound Python (the GIL): HOLDS", "(ok, context) go threads-gil"} {
		if !strings.Contains(tbl.String(), want) {
			t.Fatalf("table lacks %q:\n%s", want, tbl.String())
		}
	}
	if err := res.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	if !strings.Contains(h, `<h2 id="claims">`) || strings.Index(h, `id="claims"`) > strings.Index(h, `id="verdicts"`) || strings.Count(h, `<div class="claim claim-yes"`) != 6 {
		t.Fatal("HTML: no Claims section before the verdicts, or not six holding claims")
	}
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Claims []map[string]any `json:"claims"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil || len(back.Claims) != 6 {
		t.Fatalf("JSON claims: %v %v", err, back.Claims)
	}
	for _, c := range back.Claims {
		for _, k := range []string{"claim", "holds", "evidence", "explanation", "checks"} {
			if _, ok := c[k]; !ok {
				t.Fatalf("JSON claim lacks %q: %v", k, c)
			}
		}
	}
}

// withRounds gives a row per-round speedups (median and min-max from them).
func withRounds(rows []Row, rt, wl, model string, sps ...float64) []Row {
	for i := range rows {
		if rows[i].Runtime == rt && rows[i].Workload == wl && rows[i].Model == model {
			rows[i].Rounds = nil
			for _, s := range sps {
				rows[i].Rounds = append(rows[i].Rounds, Round{Speedup: s})
			}
			rows[i].Speedup, rows[i].SpeedupLo, rows[i].SpeedupHi = median(sps), slices.Min(sps), slices.Max(sps)
		}
	}
	return rows
}

// With five rounds, one outlying round does not decide a claim (seen in a
// quiet full run: CPython threading 0.94x over rounds reaching 1.25x made
// gil-cpu UNCLEAR, "gained a little", in one run of five); two such rounds,
// or a quick run's two rounds, still leave it UNCLEAR, and the words then
// say that the medians show no speedup.
func TestClaimsSetAsideOneOutlyingRound(t *testing.T) {
	py := RuntimeCPython
	rows := withRounds(articlesRows(), py, CPUBound, "threading", 0.93, 0.94, 0.95, 0.97, 1.25)
	cl := claimByID(t, claims(rows, quiet2), "gil-cpu")
	if cl.Holds != HoldsYes || !strings.Contains(checksText(cl), "judged by 0.94-0.97") {
		t.Fatalf("one outlying round of five: %+v", cl)
	}
	rows = withRounds(articlesRows(), py, CPUBound, "threading", 0.93, 0.94, 0.95, 1.2, 1.25)
	cl = claimByID(t, claims(rows, quiet2), "gil-cpu")
	if cl.Holds != HoldsUnclear || !strings.Contains(cl.Explanation, "The medians show no speedup") || strings.Contains(cl.Explanation, "gained a little") {
		t.Fatalf("two high rounds of five: %+v", cl)
	}
	rows = withRounds(articlesRows(), py, CPUBound, "threading", 0.95, 1.25)
	if cl := claimByID(t, claims(rows, quiet2), "gil-cpu"); cl.Holds != HoldsUnclear {
		t.Fatalf("a quick run's two rounds keep min-max: %+v", cl)
	}
	rows = withRounds(articlesRows(), py, CPUBound, "threading", 1.1, 1.12, 1.2, 1.22, 1.3)
	cl = claimByID(t, claims(rows, quiet2), "gil-cpu")
	if cl.Holds != HoldsUnclear || !strings.Contains(cl.Explanation, "gained a little") {
		t.Fatalf("a median above 1.15x: %+v", cl)
	}
	rows = withRounds(articlesRows(), py, CPUBound, "asyncio-to-thread", 0.9, 0.95, 0.97, 1.2, 1.3)
	cl = claimByID(t, claims(rows, quiet2), "asyncio-offload")
	if !strings.Contains(cl.Explanation, "no gain by the median") || strings.Contains(cl.Explanation, "more than the GIL should allow") {
		t.Fatalf("to_thread with a median of no gain: %+v", cl)
	}
}

func checksText(cl Claim) string {
	var b strings.Builder
	for _, ch := range cl.Checks {
		b.WriteString(ch.Check + "\n")
	}
	return b.String()
}
