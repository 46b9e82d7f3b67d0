package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trident-go/trident/procpool"
)

// TestMain makes the re-executed test binary a procpool worker (for the
// procpool models) and checks for leaked goroutines.
func TestMain(m *testing.M) {
	procpool.Main()
	goleak.VerifyTestMain(m)
}

func hangGuard(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestPrimes(t *testing.T) {
	if n := countPrimes(0, 100); n != 25 {
		t.Fatalf("primes below 100: %d, want 25", n)
	}
	if n := countPrimes(0, 1000); n != 168 {
		t.Fatalf("primes below 1000: %d, want 168", n)
	}
	if n := countPrimesCtx(context.Background(), 0, 10000); n != 1229 {
		t.Fatalf("primes below 10000: %d, want 1229", n)
	}
	if calibrate() <= 0 {
		t.Fatal("calibration gave no rate")
	}
}

func TestParseList(t *testing.T) {
	got, err := ParseList("workload", " cpu-bound, slow-io,cpu-bound,", WorkloadNames)
	if err != nil || !slices.Equal(got, []string{CPUBound, SlowIO}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseList("workload", "slow-io,all", WorkloadNames); err != nil || got != nil {
		t.Fatalf("all: %v %v", got, err)
	}
	_, err = ParseList("workload", "cpu-bound,gpu-bound", WorkloadNames)
	if !errors.Is(err, ErrUnknownWorkload) || !strings.Contains(err.Error(), `"gpu-bound"`) || !strings.Contains(err.Error(), "fast-io") {
		t.Fatalf("unknown workload error: %v", err)
	}
	_, err = ParseList("model", "greenlets", ModelNames())
	if !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), "threads-gil") || !strings.Contains(err.Error(), "asyncio") {
		t.Fatalf("unknown model error: %v", err)
	}
}

func FuzzParseList(f *testing.F) {
	for _, s := range []string{"", "cpu-bound", "a,b", "all", " ,fast-io, ", "mixed,mixed,slow-io", ",,,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseList("workload", s, WorkloadNames)
		if err != nil {
			if !errors.Is(err, ErrUnknownWorkload) {
				t.Fatalf("error without sentinel: %v", err)
			}
			return
		}
		seen := map[string]bool{}
		for _, g := range got {
			if !slices.Contains(WorkloadNames, g) || seen[g] {
				t.Fatalf("ParseList(%q) = %v", s, got)
			}
			seen[g] = true
		}
	})
}

func TestValidate(t *testing.T) {
	if err := (Config{Workloads: []string{"nope"}}).Validate(); !errors.Is(err, ErrUnknownWorkload) {
		t.Fatal(err)
	}
	if err := (Config{Models: []string{"nope"}}).Validate(); !errors.Is(err, ErrUnknownModel) {
		t.Fatal(err)
	}
	if err := (Config{SwitchInterval: -1}).Validate(); err == nil {
		t.Fatal("negative interval accepted")
	}
	if _, err := Run(context.Background(), Config{Models: []string{"nope"}}); !errors.Is(err, ErrUnknownModel) {
		t.Fatal(err)
	}
	var names []string
	for _, m := range Models() {
		names = append(names, m.Runtime+"/"+m.Name)
	}
	for _, want := range []string{"go/sequential", "go/threads-gil", "go/goroutines", "cpython/threading", "cpython/multiprocessing", "cpython/asyncio"} {
		if !slices.Contains(names, want) {
			t.Fatalf("Models() lacks %s: %v", want, names)
		}
	}
}

// heldOverlap reports whether two gil-held spans of a row overlap.
func heldOverlap(spans []Span) bool {
	var held []Span
	for _, s := range spans {
		if s.Kind == KindGILHeld {
			held = append(held, s)
		}
	}
	slices.SortFunc(held, func(a, b Span) int {
		switch {
		case a.StartUS < b.StartUS:
			return -1
		case a.StartUS > b.StartUS:
			return 1
		}
		return 0
	})
	for i := 1; i < len(held); i++ {
		if held[i].StartUS < held[i-1].EndUS-0.001 {
			return true
		}
	}
	return false
}

func findRow(rows []Row, w, m, rt string) *Row {
	for i := range rows {
		if rows[i].Workload == w && rows[i].Model == m && rows[i].Runtime == rt {
			return &rows[i]
		}
	}
	return nil
}

// A quick Go-only run: every selected row is measured and has a timeline,
// and the emulated GIL row shows turns taken (never two holders).
func TestRunQuickGo(t *testing.T) {
	ctx := hangGuard(t)
	var progress []Progress
	res, err := Run(ctx, Config{Quick: true, NoPython: true,
		Workloads: []string{CPUBound, SlowIO}, Models: []string{"threads-gil", "goroutines", "procpool", "aio-procpool", "threading"},
		SwitchInterval: time.Millisecond,
		Progress:       func(p Progress) { progress = append(progress, p) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(progress) == 0 || progress[len(progress)-1].Done != progress[len(progress)-1].Total {
		t.Fatalf("progress not reported to the end: %v", progress)
	}
	for _, w := range []string{CPUBound, SlowIO} {
		for _, m := range []string{"sequential", "threads-gil", "goroutines", "procpool", "aio-procpool"} {
			r := findRow(res.Rows, w, m, RuntimeGo)
			if r == nil {
				t.Fatalf("no row %s/%s", w, m)
			}
			if r.Error != "" || r.WallMS <= 0 || r.Speedup <= 0 || len(r.Spans) == 0 || r.PeakRSSKB <= 0 {
				t.Fatalf("row %s/%s not measured: %+v", w, m, *r)
			}
			if r.OverheadUSPerTask <= 0 {
				t.Fatalf("row %s/%s has no overhead figure", w, m)
			}
		}
		if findRow(res.Rows, w, "sequential", RuntimeGo).Speedup != 1 {
			t.Fatalf("sequential speedup is not 1")
		}
	}
	if pr := findRow(res.Rows, CPUBound, "procpool", RuntimeGo); pr.ChildrenRSSKB <= 0 || pr.Workers < 1 {
		t.Fatalf("procpool row without worker memory: %+v", *pr)
	}
	gilRow := findRow(res.Rows, CPUBound, "threads-gil", RuntimeGo)
	if gilRow.GIL == nil || gilRow.GIL.Acquisitions < uint64(gilRow.Tasks) {
		t.Fatalf("threads-gil row without lock stats: %+v", gilRow.GIL)
	}
	if heldOverlap(gilRow.Spans) {
		t.Fatal("two threads held the emulated GIL at once")
	}
	for _, r := range res.Rows {
		if r.Runtime != RuntimeGo {
			t.Fatalf("CPython row despite NoPython: %+v", r)
		}
	}
	if len(res.Verdicts) != 2 || res.Verdicts[0].Workload != CPUBound || res.Verdicts[0].BestModel == "" || res.Verdicts[0].Reason == "" {
		t.Fatalf("verdicts: %+v", res.Verdicts)
	}
	if res.Verdicts[0].Advise == "" || res.Verdicts[0].Advise == "unknown" {
		t.Fatalf("no advise classification: %+v", res.Verdicts[0])
	}
	if !slices.ContainsFunc(res.Notes, func(n string) bool { return strings.Contains(n, "--no-python") }) {
		t.Fatalf("notes do not say the CPython rows were skipped: %v", res.Notes)
	}

	var js bytes.Buffer
	if err := res.WriteJSON(&js); err != nil {
		t.Fatal(err)
	}
	var generic struct {
		Rows     []map[string]any `json:"rows"`
		Verdicts []map[string]any `json:"verdicts"`
	}
	if err := json.Unmarshal(js.Bytes(), &generic); err != nil {
		t.Fatal(err)
	}
	for _, r := range generic.Rows {
		for _, k := range []string{"workload", "model", "runtime", "wall_ms", "cpu_ms", "speedup", "peak_rss_kb", "overhead_us_per_task", "spans"} {
			if _, ok := r[k]; !ok {
				t.Fatalf("JSON row lacks %q: %v", k, r)
			}
		}
	}
	for _, v := range generic.Verdicts {
		if v["workload"] == "" || v["best_model"] == "" {
			t.Fatalf("JSON verdict: %v", v)
		}
	}
	var tbl, page bytes.Buffer
	if err := res.WriteTable(&tbl); err != nil || !strings.Contains(tbl.String(), "threads-gil") || !strings.Contains(tbl.String(), "Verdicts") {
		t.Fatalf("table: %v\n%s", err, tbl.String())
	}
	if err := res.WriteHTML(&page); err != nil {
		t.Fatal(err)
	}
	h := page.String()
	if n := strings.Count(h, `<svg class="chart timeline"`); n != len(res.Rows) {
		t.Fatalf("%d timelines for %d rows", n, len(res.Rows))
	}
	if !strings.Contains(h, `<svg class="chart speedup"`) || !strings.Contains(h, `fill="`+kindColor[KindGILHeld]+`"`) {
		t.Fatal("HTML lacks the speedup chart or GIL-held bars")
	}
	// Offline: nothing is loaded from anywhere (the SVG namespace is a name, not a fetch).
	stripped := strings.ReplaceAll(h, `xmlns="http://www.w3.org/2000/svg"`, "")
	for _, bad := range []string{"http://", "https://", " src=", "<link", "@import"} {
		if strings.Contains(stripped, bad) {
			t.Fatalf("HTML refers to something outside the page: %q", bad)
		}
	}
}

func TestRunCPython(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not on PATH: the CPython rows cannot be tested here")
	}
	ctx := hangGuard(t)
	res, err := Run(ctx, Config{Quick: true, Workloads: []string{SlowIO, FastIO}, Models: []string{"threading", "asyncio"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{SlowIO, FastIO} {
		for _, m := range []string{"sequential", "threading", "asyncio"} {
			r := findRow(res.Rows, w, m, RuntimeCPython)
			if r == nil || r.Error != "" || r.WallMS <= 0 || len(r.Spans) == 0 || r.Speedup <= 0 || r.CPUMS < 0 {
				t.Fatalf("CPython row %s/%s: %+v", w, m, r)
			}
		}
	}
	// Go rows of the selected CPython models are not run, but Go's
	// sequential baseline is.
	if findRow(res.Rows, SlowIO, "sequential", RuntimeGo) == nil || findRow(res.Rows, SlowIO, "goroutines", RuntimeGo) != nil {
		t.Fatalf("rows: %v", res.Rows)
	}
	if res.Machine.Python == "" || res.Verdicts[0].CPythonBestModel == "" {
		t.Fatalf("machine %+v verdict %+v", res.Machine, res.Verdicts[0])
	}
}

// A python3 that does not work: the Go rows still come, with a note.
func TestRunBadPython(t *testing.T) {
	ctx := hangGuard(t)
	var warned []string
	res, err := Run(ctx, Config{Quick: true, Python: "/nonexistent/python3", Workloads: []string{SlowIO}, Models: []string{"goroutines", "threading"},
		Warn: func(s string) { warned = append(warned, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if findRow(res.Rows, SlowIO, "goroutines", RuntimeGo) == nil {
		t.Fatal("Go rows missing when python fails")
	}
	if slices.ContainsFunc(res.Rows, func(r Row) bool { return r.Runtime == RuntimeCPython }) {
		t.Fatal("CPython rows from a python that does not exist")
	}
	if !slices.ContainsFunc(warned, func(s string) bool {
		return strings.Contains(s, "CPython rows skipped") && strings.Contains(s, "/nonexistent/python3")
	}) {
		t.Fatalf("no warning naming the interpreter: %v", warned)
	}
}

func TestRunCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Run(ctx, Config{Quick: true, NoPython: true, Workloads: []string{SlowIO}}); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled run: %v", err)
	}
}

func TestJudge(t *testing.T) {
	row := func(m, fam string, s, l, h float64) Row {
		return Row{Workload: CPUBound, Model: m, Family: fam, Runtime: RuntimeCPython, Speedup: s, SpeedupLo: l, SpeedupHi: h, WallMS: 100, CPUMS: 100}
	}
	seq := row("sequential", FamilySequential, 1, 0.98, 1.02)
	waited := func(r Row) Row { r.Waited, r.WaitedRounds, r.Rounds = true, 3, make([]Round, 5); return r }
	cases := []struct {
		name    string
		rows    []Row
		best    string
		outcome string
		says    string
	}{
		{"rule wins", []Row{seq, row("threading", FamilyThreads, 1, 0.9, 1.1), row("multiprocessing", FamilyProcesses, 1.9, 1.8, 2)}, "multiprocessing", OutcomeAgrees, "agrees"},
		{"tie", []Row{seq, row("threading", FamilyThreads, 2.0, 1.7, 2.1), row("multiprocessing", FamilyProcesses, 1.9, 1.8, 2)}, "threading", OutcomeAgrees, "within the spread"},
		{"within 5% is a tie", []Row{seq, row("threading", FamilyThreads, 3.94, 3.94, 3.95), row("multiprocessing", FamilyProcesses, 3.86, 3.80, 3.92)}, "threading", OutcomeAgrees, "within 5%"},
		{"disagree", []Row{seq, row("threading", FamilyThreads, 2.0, 1.9, 2.1), row("multiprocessing", FamilyProcesses, 1.2, 1.1, 1.3)}, "threading", OutcomeDisagrees, "DISAGREES"},
		{"disagree on waited rows", []Row{waited(seq), row("threading", FamilyThreads, 2.0, 1.9, 2.1), row("multiprocessing", FamilyProcesses, 1.2, 1.1, 1.3)}, "threading", OutcomeUnclear, "waited for a core"},
		{"agrees on waited rows", []Row{waited(seq), row("multiprocessing", FamilyProcesses, 1.9, 1.8, 2)}, "multiprocessing", OutcomeUnclear, "lean to: agrees"},
		{"no rule model", []Row{seq, row("threading", FamilyThreads, 2.0, 2, 2)}, "threading", OutcomeUnclear, "no model of the rule's kind"},
		{"offload counts", []Row{seq, row("asyncio-processes", FamilyEventLoop, 1.8, 1.7, 1.9), row("threading", FamilyThreads, 1, 1, 1)}, "asyncio-processes", OutcomeAgrees, "agrees"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			best, outcome, reason, _, ok := judge(CPUBound, RuntimeCPython, c.rows)
			if !ok || best.Model != c.best || outcome != c.outcome || !strings.Contains(reason, c.says) {
				t.Fatalf("judge: best %s outcome %v reason %q", best.Model, outcome, reason)
			}
		})
	}
	if _, _, _, _, ok := judge(SlowIO, RuntimeGo, nil); ok {
		t.Fatal("judged with no rows")
	}
	vs := verdicts([]string{CPUBound}, []Row{row("threading", FamilyThreads, 1, 1, 1)}, nil)
	if vs[0].BestModel != "none" || vs[0].Advise != "unknown" || vs[0].CPythonBestModel != "threading" {
		t.Fatalf("verdicts: %+v", vs[0])
	}
}

func FuzzContentLength(f *testing.F) {
	f.Add([]byte("HTTP/1.1 200 OK\r\nContent-Length: 1024\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 404 Not Found\r\n\r\n"))
	f.Add([]byte("HTTP/1.1 200 OK\r\ncontent-length: -3\r\n\r\n"))
	f.Fuzz(func(t *testing.T, head []byte) {
		n, err := contentLength(head)
		if err == nil && n < 0 {
			t.Fatalf("negative length %d from %q", n, head)
		}
	})
}

// Stress: lanes are never handed to two holders at once, and the recorder
// keeps at most maxSpans spans, counting the rest.
func TestLanesAndRecorderStress(t *testing.T) {
	var ln lanes
	var inUse [64]atomic.Int32
	rec := newRecorder()
	var wg sync.WaitGroup
	for g := range 32 {
		wg.Go(func() {
			for i := range 300 {
				l := ln.get()
				if l >= len(inUse) {
					t.Errorf("lane %d with at most 32 holders", l)
					return
				}
				if inUse[l].Add(1) != 1 {
					t.Errorf("lane %d handed out twice", l)
				}
				rec.add(Span{Lane: l, Task: g, Kind: KindRun, StartUS: float64(i), EndUS: float64(i + 1)})
				inUse[l].Add(-1)
				ln.put(l)
			}
		})
	}
	wg.Wait()
	if len(rec.spans) != maxSpans || rec.dropped != 32*300-maxSpans {
		t.Fatalf("recorder kept %d, dropped %d", len(rec.spans), rec.dropped)
	}
}

func TestBusyNotes(t *testing.T) {
	rows := []Row{
		{Workload: CPUBound, Model: "sequential", Runtime: RuntimeGo, WallMS: 1000, CPUMS: 990, Rounds: make([]Round, 5)},
		{Workload: CPUBound, Model: "sequential", Runtime: RuntimeCPython, WallMS: 1500, CPUMS: 960, Rounds: make([]Round, 5), Waited: true, WaitedRounds: 4, RunQueueMS: 500, OthersCPUShare: 0.7},
	}
	notes := busyNotes(rows, Machine{Cores: 2, LoadAvg: [2]float64{5, 5}})
	if len(notes) != 1 || !strings.Contains(notes[0], "cpython cpu-bound sequential (4/5 rounds, run-queue wait 500ms, others 70%)") || strings.Contains(notes[0], "go cpu-bound") {
		t.Fatalf("notes: %q", notes)
	}
	m := Machine{Cores: 2, SpinAfter: Spin{WallMS: 60, CPUMS: 30, RunQueueMS: 30, Busy: true}}
	if notes := busyNotes(nil, m); len(notes) != 1 || !strings.Contains(notes[0], "spin after the run waited 30ms") {
		t.Fatalf("spin notes: %q", notes)
	}
	if busyBefore(Machine{Cores: 2, LoadAvg: [2]float64{0.3, 0}}) != "" {
		t.Fatal("a quiet machine called busy")
	}
	if s := busyBefore(Machine{Cores: 2, LoadAvg: [2]float64{3.4, 0}, SpinBefore: Spin{WallMS: 50, CPUMS: 30, RunQueueMS: 20, Busy: true}}); !strings.Contains(s, "load average 3.4") || !strings.Contains(s, "waited 20ms") {
		t.Fatalf("busy before: %q", s)
	}
}

// The noise thresholds on single rounds.
func TestRoundWaited(t *testing.T) {
	for _, c := range []struct {
		r    Round
		want bool
	}{
		{Round{CPUMS: 100, RunQueueMS: 1}, false},
		{Round{CPUMS: 100, RunQueueMS: 15}, true},
		{Round{CPUMS: 5, RunQueueMS: 1.5}, false}, // below 2 ms
		{Round{CPUMS: 100, StealMS: 12}, true},
		{Round{CPUMS: 100, OthersCPUShare: 0.3}, true},
		{Round{CPUMS: 100, OthersCPUShare: 0.1, RunQueueMS: 3}, false},
	} {
		if got := roundWaited(c.r); got != c.want {
			t.Errorf("roundWaited(%+v) = %v", c.r, got)
		}
	}
}

// aggregate: medians, the paired per-round speedups and their spread, the
// median round's timeline, and a row waited when half its rounds did.
func TestAggregate(t *testing.T) {
	mk := func(model string, walls []float64, waited ...bool) []Row {
		var out []Row
		for i, w := range walls {
			rd := Round{WallMS: w, CPUMS: 100}
			if i < len(waited) {
				rd.Waited = waited[i]
			}
			out = append(out, Row{Runtime: RuntimeGo, Workload: CPUBound, Model: model, WallMS: w, CPUMS: 100, Rounds: []Round{rd},
				Spans: []Span{{Task: i, StartUS: 0, EndUS: w * 1e3}}})
		}
		return out
	}
	samples := map[string][]Row{
		key(RuntimeGo, CPUBound, "sequential"): mk("sequential", []float64{200, 300, 200}),
		key(RuntimeGo, CPUBound, "goroutines"): mk("goroutines", []float64{100, 100, 125}, true, false, true),
	}
	rows := aggregate([]string{key(RuntimeGo, CPUBound, "sequential"), key(RuntimeGo, CPUBound, "goroutines")}, samples)
	if len(rows) != 2 {
		t.Fatalf("rows: %+v", rows)
	}
	g := rows[1]
	// Paired speedups: 200/100, 300/100, 200/125 = 2, 3, 1.6.
	if g.Speedup != 2 || g.SpeedupLo != 1.6 || g.SpeedupHi != 3 || g.WallMS != 100 || g.WallMaxMS != 125 {
		t.Fatalf("goroutines: speedup %v (%v-%v), wall %v max %v", g.Speedup, g.SpeedupLo, g.SpeedupHi, g.WallMS, g.WallMaxMS)
	}
	if !g.Waited || g.WaitedRounds != 2 || len(g.Rounds) != 3 || g.Spans[0].Task != 0 {
		t.Fatalf("goroutines: waited %v %d rounds %d spans %+v", g.Waited, g.WaitedRounds, len(g.Rounds), g.Spans)
	}
	if rows[0].Waited || rows[0].WallMS != 200 {
		t.Fatalf("sequential: %+v", rows[0])
	}
	if median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Fatal("median of an even count")
	}
}

// advise classes the lab's fast-io workload as I/O-bound with short waits
// (the articles' "fast I/O -> threads"): one request on an open connection
// is profiled; dialling a connection per profiled request made it "mixed".
func TestAdviseFastIO(t *testing.T) {
	srv, err := startServer(time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.close()
	l := &labRun{srv: srv, fetch: newFetcher(srv.URL), goPerMS: calibrate(), cfg: Config{SwitchInterval: time.Millisecond}}
	w := sizes(false)[FastIO]
	var got string
	for range 3 { // a shared machine may delay a wake-up; the class must come out right in one of three tries
		l.advise(hangGuard(t), w)
		a, ok := l.advice[FastIO]
		if !ok {
			t.Fatal("advise did not profile fast-io")
		}
		got = a.String() + ": " + a.Reason
		if a.Class.String() == "io-bound-short-waits" && a.Model.String() == "threads" {
			return
		}
	}
	t.Fatalf("fast-io: %s", got)
}

// TestQuickSelection checks what a quick run leaves out: cpu-bound keeps
// the full run's tasks (fewer let process start-up eat the speedup and
// flipped the claim on processes), every model the claims decide on is
// measured, and --model overrides the quick selection.
func TestQuickSelection(t *testing.T) {
	full, quick := sizes(false), sizes(true)
	if quick[CPUBound].Tasks != full[CPUBound].Tasks || quick[CPUBound].TaskCPU != full[CPUBound].TaskCPU {
		t.Errorf("quick cpu-bound %+v, want the full run's %+v", quick[CPUBound], full[CPUBound])
	}
	for _, w := range WorkloadNames {
		if quick[w].TaskCPU != full[w].TaskCPU || quick[w].Sleep != full[w].Sleep || quick[w].Reads != full[w].Reads {
			t.Errorf("quick %s tasks are not the full run's size: %+v vs %+v", w, quick[w], full[w])
		}
	}
	l := &labRun{cfg: Config{Quick: true}}
	need := map[string][]string{
		CPUBound: {"sequential", "threading", "goroutines", "procpool", "multiprocessing", "asyncio", "asyncio-processes"},
		FastIO:   {"sequential", "threads-gil", "threading", "thread-pool"},
		SlowIO:   {"sequential", "threads-gil", "threading", "aio", "asyncio"},
		Mixed:    {"sequential", "aio", "aio-procpool", "asyncio", "asyncio-processes"},
	}
	for w, ms := range need {
		for _, m := range ms {
			if !l.measures(w, m) {
				t.Errorf("quick run does not measure %s on %s", m, w)
			}
		}
	}
	if l.measures(CPUBound, "threads-gil") || l.measures(CPUBound, "aio-procpool") || l.measures(FastIO, "multiprocessing") {
		t.Error("quick run measures models it should leave to the full run")
	}
	if !l.probes("multiprocessing") || l.probes("asyncio-processes") {
		t.Error("quick run probes the wrong overheads")
	}
	l.cfg.Models = []string{"threads-gil"}
	if !l.measures(CPUBound, "threads-gil") || !l.probes("asyncio") {
		t.Error("--model does not override the quick selection")
	}
	if l := (&labRun{}); !l.measures(FastIO, "multiprocessing") || !l.probes("asyncio-processes") {
		t.Error("a full run leaves a model out")
	}
}

// sideBySide runs the i-th steps of both lists at the same time (each pair
// meets inside its step), keeps the rest of the longer list one at a time,
// and returns a pair's first error.
func TestSideBySide(t *testing.T) {
	var mu sync.Mutex
	var ran []string
	note := func(s string) { mu.Lock(); ran = append(ran, s); mu.Unlock() }
	meet := func(name string, here, there chan struct{}) step {
		return step{label: name, do: func(ctx context.Context) error {
			close(here)
			select { // the partner must be running now, not after this step
			case <-there:
			case <-time.After(10 * time.Second):
				return errors.New(name + ": its partner did not run beside it")
			}
			note(name)
			return nil
		}}
	}
	a0, b0 := make(chan struct{}), make(chan struct{})
	boom := errors.New("boom")
	a := []step{meet("go seq", a0, b0), {label: "go threads", do: func(context.Context) error { note("go threads"); return nil }},
		{label: "go aio", do: func(context.Context) error { note("go aio"); return nil }}}
	b := []step{meet("py seq", b0, a0), {label: "py threading", do: func(context.Context) error { note("py threading"); return boom }}}
	steps := sideBySide(a, b)
	var labels []string
	for _, s := range steps {
		labels = append(labels, s.label)
	}
	if want := []string{"go seq | py seq", "go threads | py threading", "go aio"}; !slices.Equal(labels, want) {
		t.Fatalf("labels %q, want %q", labels, want)
	}
	ctx := hangGuard(t)
	if err := steps[0].do(ctx); err != nil {
		t.Fatal(err)
	}
	if err := steps[1].do(ctx); !errors.Is(err, boom) {
		t.Fatalf("a pair's error: %v, want boom", err)
	}
	if err := steps[2].do(ctx); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ran)
	if want := []string{"go aio", "go seq", "go threads", "py seq", "py threading"}; !slices.Equal(ran, want) {
		t.Fatalf("ran %q, want %q", ran, want)
	}
	if got := sideBySide(nil, b[1:]); len(got) != 1 || got[0].label != "py threading" {
		t.Fatalf("one list empty: %v", got)
	}
}

// A process-model row that loses to the best by no more than its own
// measured start and stop, in a run with fewer tasks than the full run (a
// quick mixed run), is UNCLEAR with the reason in words, not DISAGREES; with
// the full run's tasks, or a loss larger than its start-up, it disagrees.
func TestJudgeProcessStartup(t *testing.T) {
	full := fullTasks(Mixed)
	row := func(m, fam string, wall, s, l, h, startStop float64, tasks int) Row {
		return Row{Workload: Mixed, Model: m, Family: fam, Runtime: RuntimeGo, Tasks: tasks, WallMS: wall, CPUMS: 70,
			Speedup: s, SpeedupLo: l, SpeedupHi: h, StartStopMS: startStop, Rounds: make([]Round, 2)}
	}
	rows := func(tasks int, startStop float64) []Row {
		return []Row{
			row("sequential", FamilySequential, 260, 1, 1, 1, 0.1, tasks),
			row("aio", FamilyEventLoop, 110, 2.36, 2.3, 2.42, 1, tasks),
			row("aio-procpool", FamilyEventLoop, 150, 1.73, 1.7, 1.76, startStop, tasks),
		}
	}
	cases := []struct {
		name      string
		tasks     int
		startStop float64
		outcome   string
		says      []string
	}{
		{"quick, loss within its start-up", full / 2, 45, OutcomeUnclear, []string{"UNCLEAR", "40ms of wall time", "own start and stop (45ms", fmt.Sprintf("has %d tasks where the full run has %d", full/2, full)}},
		{"quick, loss larger than its start-up", full / 2, 20, OutcomeDisagrees, []string{"DISAGREES"}},
		{"full run's tasks", full, 45, OutcomeDisagrees, []string{"DISAGREES"}},
		{"start-up not measured", full / 2, 0, OutcomeDisagrees, []string{"DISAGREES"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			best, outcome, reason, _, ok := judge(Mixed, RuntimeGo, rows(c.tasks, c.startStop))
			if !ok || best.Model != "aio" || outcome != c.outcome {
				t.Fatalf("best %s outcome %s, want aio %s: %s", best.Model, outcome, c.outcome, reason)
			}
			for _, s := range c.says {
				if !strings.Contains(reason, s) {
					t.Errorf("reason lacks %q: %s", s, reason)
				}
			}
		})
	}
	// A thread model losing by little is not excused by start-up.
	rs := rows(full/2, 45)
	rs[2].Model, rs[2].Family = "goroutines", FamilyThreads
	if startUpAteGap(Mixed, rs[1], rs[2]) {
		t.Error("start-up excused a model without processes")
	}
}

// startStopMS is the wall time outside the timeline: before the first span
// and after the last.
func TestStartStopMS(t *testing.T) {
	spans := []Span{{StartUS: 30e3, EndUS: 80e3}, {StartUS: 25e3, EndUS: 90e3}}
	if got := startStopMS(spans, 0, 100); got != 35 {
		t.Fatalf("start+stop %v ms, want 25+10", got)
	}
	if startStopMS(nil, 0, 100) != 0 || startStopMS(spans, 3, 100) != 0 {
		t.Fatal("no timeline, or a truncated one, must give 0")
	}
}
