package advise

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func busy(d time.Duration) {
	deadline := time.Now().Add(d)
	x := 0
	for time.Now().Before(deadline) {
		for i := 0; i < 1000; i++ {
			x += i
		}
	}
	_ = x
}

// Synthetic workloads, profiled for real. The thresholds are wide (0.8 and
// 0.2) so a loaded machine still classifies a busy loop and a sleep right;
// the mixed case sleeps and computes equal shares.
func TestClassifySyntheticFuncs(t *testing.T) {
	cases := []struct {
		name  string
		fn    func(context.Context) error
		runs  int
		class Class
		model Model
	}{
		{"busy loop", func(context.Context) error { busy(40 * time.Millisecond); return nil }, 3, CPUBound, Processes},
		{"short sleep", func(context.Context) error { time.Sleep(2 * time.Millisecond); return nil }, 10, IOBoundShortWaits, Threads},
		{"long sleep", func(context.Context) error { time.Sleep(120 * time.Millisecond); return nil }, 2, IOBoundLongWaits, EventLoop},
		{"mix", func(context.Context) error {
			busy(30 * time.Millisecond)
			time.Sleep(30 * time.Millisecond)
			return nil
		}, 3, Mixed, Processes},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// A busy shared machine can steal the thread during a busy loop
			// (wall grows, CPU does not); retry a few times before failing.
			var a Advice
			for try := 0; try < 4; try++ {
				p, err := ProfileFunc(context.Background(), c.fn, c.runs)
				if err != nil {
					t.Fatal(err)
				}
				if p.Runs() != c.runs {
					t.Fatalf("runs %d, want %d", p.Runs(), c.runs)
				}
				a = Classify(p)
				if a.Class == c.class {
					break
				}
			}
			if a.Class != c.class || a.Model != c.model {
				t.Fatalf("got %v (ratio %.2f; %s), want %v/%v", a, a.Ratio, a.Reason, c.class, c.model)
			}
			if a.Workers < 1 || a.Reason == "" || a.Rule == "" || a.Step == "" {
				t.Fatalf("incomplete advice %+v", a)
			}
		})
	}
}

func TestClassifyCommands(t *testing.T) {
	if _, err := exec.LookPath("sleep"); err != nil {
		t.Skip("no sleep command")
	}
	p, err := ProfileCommand(context.Background(), []string{"sleep", "0.1"}, 2)
	if err != nil {
		t.Fatal(err)
	}
	a := Classify(p)
	if a.Class != IOBoundLongWaits {
		t.Fatalf("sleep 0.1: %v (%s)", a, a.Reason)
	}
	if a.Workers <= p.Cores {
		t.Fatalf("a sleep should get more workers than cores: %v", a)
	}
	p, err = ProfileCommand(context.Background(), []string{"sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if a := Classify(p); a.Class != CPUBound && a.Class != Mixed {
		// A shared machine may stretch wall time, but never into I/O-bound.
		t.Fatalf("shell loop: %v (%s)", a, a.Reason)
	}
}

// Table test of the flowchart on constructed profiles: exact thresholds.
func TestClassifyThresholds(t *testing.T) {
	ms := time.Millisecond
	mk := func(wall, cpu time.Duration, cores int) Profile {
		return Profile{Cores: cores, Samples: []Sample{{Wall: wall, User: cpu}}}
	}
	cases := []struct {
		name    string
		p       Profile
		class   Class
		step    string
		workers int
	}{
		{"all cpu", mk(100*ms, 100*ms, 4), CPUBound, "1", 4},
		{"at cpu threshold", mk(100*ms, 80*ms, 4), CPUBound, "1", 4},
		{"multi-threaded child", mk(100*ms, 400*ms, 8), CPUBound, "1", 2},
		{"short waits", mk(10*ms, 1*ms, 2), IOBoundShortWaits, "2a", 20},
		{"at io threshold", mk(10*ms, 2*ms, 2), IOBoundShortWaits, "2a", 10},
		{"thread cap", mk(49*ms, 1*time.Microsecond, 2), IOBoundShortWaits, "2a", MaxThreadWorkers},
		{"long waits", mk(500*ms, 5*ms, 2), IOBoundLongWaits, "2b", 200},
		{"pure sleep caps", mk(time.Second, 0, 4), IOBoundLongWaits, "2b", MaxEventLoopWorkers},
		{"mixed", mk(100*ms, 50*ms, 2), Mixed, "3", 4},
		{"mixed capped", mk(100*ms, 21*ms, 2), Mixed, "3", 8},
		{"empty", Profile{Cores: 3}, CPUBound, "0", 3},
		{"run-queue wait is not I/O", Profile{Cores: 2, Samples: []Sample{{Wall: 100 * ms, User: 30 * ms, RunQueue: 65 * ms}}}, CPUBound, "1", 2},
		// A 1 ms request followed by 5 ms in the run queue on a busy
		// machine: still I/O with short waits (was "mixed" when run-queue
		// wait counted as compute).
		{"run-queue wait is not compute either", Profile{Cores: 2, Samples: []Sample{{Wall: 10 * ms, User: 1 * ms, RunQueue: 5 * ms}}}, IOBoundShortWaits, "2a", 10},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := Classify(c.p)
			if a.Class != c.class || a.Step != c.step || a.Workers != c.workers {
				t.Fatalf("got %v workers %d step %s, want %v workers %d step %s (%s)",
					a.Class, a.Workers, a.Step, c.class, c.workers, c.step, a.Reason)
			}
		})
	}
}

// A CPU-bound command beside two busy loops (more runnable work than cores
// on 2 cores) stays CPU-bound: its run-queue wait is read from
// /proc/PID/task/TID/schedstat and left out of the ratio, and the advice
// says the machine was busy.
func TestClassifyCommandOnBusyMachine(t *testing.T) {
	if _, err := os.Stat("/proc/self/task"); err != nil {
		t.Skip("no /proc: run-queue wait cannot be measured here")
	}
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh")
	}
	n := runtime.NumCPU()
	var hogs []*exec.Cmd
	for range n {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		hogs = append(hogs, c)
	}
	t.Cleanup(func() {
		for _, c := range hogs {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	})
	p, err := ProfileCommand(context.Background(), []string{"sh", "-c", "i=0; while [ $i -lt 400000 ]; do i=$((i+1)); done"}, 1)
	if err != nil {
		t.Fatal(err)
	}
	a := Classify(p)
	if a.Class != CPUBound || p.RunQueue() <= 0 {
		t.Fatalf("beside %d busy loops: %v, run-queue wait %v, CPU %v, wall %v (%s)", n, a, p.RunQueue(), p.CPU(), p.Wall(), a.Reason)
	}
	if a.Busy == "" || !strings.Contains(a.Busy, "busy machine") {
		t.Fatalf("no busy note: %+v", a)
	}
}

func TestProfileErrors(t *testing.T) {
	ctx := context.Background()
	if _, err := ProfileFunc(ctx, func(context.Context) error { return nil }, 0); !errors.Is(err, ErrBadRuns) {
		t.Fatalf("n=0: %v", err)
	}
	if _, err := ProfileCommand(ctx, []string{"true"}, 0); !errors.Is(err, ErrBadRuns) {
		t.Fatalf("n=0: %v", err)
	}
	if _, err := ProfileFunc(ctx, nil, 1); err == nil {
		t.Fatal("nil func accepted")
	}
	if _, err := ProfileCommand(ctx, nil, 1); err == nil {
		t.Fatal("empty argv accepted")
	}
	boom := errors.New("boom")
	p, err := ProfileFunc(ctx, func(context.Context) error { return boom }, 3)
	if !errors.Is(err, boom) || p.Runs() != 1 {
		t.Fatalf("failing func: %v, runs %d", err, p.Runs())
	}
	if _, err := ProfileFunc(ctx, func(context.Context) error { panic("x") }, 1); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("panic: %v", err)
	}
	_, err = ProfileCommand(ctx, []string{"/no/such/command-xyz"}, 1)
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Run != 1 || !strings.Contains(err.Error(), "/no/such/command-xyz") {
		t.Fatalf("missing command: %v", err)
	}
	p, err = ProfileCommand(ctx, []string{"false"}, 2)
	var ee *exec.ExitError
	if !errors.As(err, &ee) || p.Runs() != 1 {
		t.Fatalf("false: %v runs %d", err, p.Runs())
	}
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	if _, err := ProfileCommand(cctx, []string{"sleep", "10"}, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled command: %v", err)
	}
	if time.Since(t0) > 5*time.Second {
		t.Fatal("cancel did not kill the command")
	}
	cctx2, cancel2 := context.WithCancel(ctx)
	cancel2()
	if _, err := ProfileFunc(cctx2, func(context.Context) error { return nil }, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled func: %v", err)
	}
}

func TestNamesAndJSON(t *testing.T) {
	for c := CPUBound; c <= Mixed; c++ {
		var back Class
		b, _ := c.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != c {
			t.Fatalf("class %v round trip: %v %v", c, back, err)
		}
	}
	for m := Processes; m <= EventLoop; m++ {
		var back Model
		b, _ := m.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != m {
			t.Fatalf("model %v round trip: %v %v", m, back, err)
		}
	}
	if Class(9).String() != "Class(9)" || Model(-1).String() != "Model(-1)" {
		t.Fatal("out of range names")
	}
	var c Class
	if c.UnmarshalText([]byte("nope")) == nil {
		t.Fatal("bad class accepted")
	}
	var m Model
	if m.UnmarshalText([]byte("nope")) == nil {
		t.Fatal("bad model accepted")
	}
	a := Classify(Profile{Cores: 2, Samples: []Sample{{Wall: time.Second, User: 10 * time.Millisecond}}})
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got["class"] != "io-bound-long-waits" || got["model"] != "event-loop" || got["step"] != "2b" || got["mean_wait_ns"].(float64) != float64(990*time.Millisecond) {
		t.Fatalf("json: %s", b)
	}
}

// TestUnfollowedWait covers the estimate of the run-queue wait of processes
// the sampler did not see: a case shaped after the measured pyenv shim (at
// load 26: CPU 896 ms, the interpreter's threads ran 254 ms and waited
// 834 ms, 391 ms left unexplained), an idle machine, nothing unseen, and the cap.
func TestUnfollowedWait(t *testing.T) {
	ms := time.Millisecond
	cases := []struct {
		name                         string
		wall, cpu, seenWait, seenRun time.Duration
		want                         time.Duration
	}{
		{"shim under load: capped at the unexplained wait", 2121 * ms, 896 * ms, 834 * ms, 254 * ms, 391 * ms},
		{"idle machine: seen threads did not wait", 300 * ms, 300 * ms, 0, 100 * ms, 0},
		{"all CPU seen", 1200 * ms, 250 * ms, 900 * ms, 250 * ms, 0},
		{"rate applied below the cap", 2000 * ms, 600 * ms, 400 * ms, 400 * ms, 200 * ms},
		{"nothing unexplained", 1000 * ms, 600 * ms, 400 * ms, 400 * ms, 0},
		{"no schedstat", 1000 * ms, 600 * ms, 0, 0, 0},
	}
	for _, c := range cases {
		if got := unfollowedWait(c.wall, c.cpu, c.seenWait, c.seenRun); got != c.want {
			t.Errorf("%s: unfollowedWait = %v, want %v", c.name, got, c.want)
		}
	}
	// With the estimate counted as run-queue wait, the shim case is CPU-bound.
	p := Profile{Cores: 2, Samples: []Sample{{Wall: 2121 * ms, User: 896 * ms, RunQueue: (834 + 391) * ms, UnseenRunQueue: 391 * ms}}}
	if a := Classify(p); a.Class != CPUBound {
		t.Errorf("shim case classed %v (ratio %.2f), want cpu-bound", a.Class, a.Ratio)
	}
}
