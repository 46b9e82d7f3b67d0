package procpool_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
)

type stormArg struct {
	ID  int
	Log string
}

// stormWork busies itself for about 200µs, appends its id to a log file
// (one line per completed run) and returns 2*id.
var stormWork = procpool.Register("t.stormWork", func(ctx context.Context, a stormArg) (int, error) {
	end := time.Now().Add(200 * time.Microsecond)
	for time.Now().Before(end) {
	}
	f, err := os.OpenFile(a.Log, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	f.WriteString(strconv.Itoa(a.ID) + "\n")
	f.Close()
	return 2 * a.ID, nil
})

// envInt reads a positive integer from the environment, or def.
func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// TestKillStormKeepsEveryCall queues thousands of calls on one worker and
// SIGKILLs it again and again from outside: each round kills the ready
// worker, then its replacement while it starts (the second kill leaves no
// worker alive; before, it failed the whole queue). With retries, every
// call must complete with its own result: none lost, none hung. The counts
// (and how many calls ran to completion twice, which at-least-once
// delivery allows when a worker dies between finishing a call and
// answering) are logged. PROCPOOL_STORM_CALLS, _ROUNDS and _STARTKILLS
// scale it up for fault runs by hand.
func TestKillStormKeepsEveryCall(t *testing.T) {
	calls := envInt("PROCPOOL_STORM_CALLS", 2000)
	rounds := envInt("PROCPOOL_STORM_ROUNDS", 8)
	startKills := envInt("PROCPOOL_STORM_STARTKILLS", 1)
	ctx := ctxT(t)
	log := filepath.Join(t.TempDir(), "runs")
	p := newPool(t, procpool.WithWorkers(1), procpool.WithRetries(20))
	if _, err := getpid.Submit(p, ctx, 0).Result(ctx); err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	fs := make([]*future.Future[int], calls)
	for i := range fs {
		fs[i] = stormWork.Submit(p, ctx, stormArg{ID: i, Log: log})
	}
	doneCount := func() int {
		n := 0
		for _, f := range fs {
			if f.Finished() {
				n++
			}
		}
		return n
	}
	// killOne SIGKILLs a worker in the given state, not killed before (a
	// killed worker stays listed until it is reaped), and reports whether
	// it did.
	killed := map[int]bool{}
	killOne := func(state string) bool {
		for _, w := range p.Stats().Workers {
			if w.State == state && w.PID != 0 && !killed[w.PID] {
				killed[w.PID] = true
				return syscall.Kill(w.PID, syscall.SIGKILL) == nil
			}
		}
		return false
	}
	var kills, startKilled int
	var recovery []time.Duration // from the last kill of a round to the next completed call
	for r := 0; r < rounds && doneCount() < calls; r++ {
		waitFor(t, "a ready worker", func() bool { return killOne("ready") || doneCount() == calls })
		kills++
		for range startKills {
			// Catch the replacement while it starts.
			waitFor(t, "a starting worker", func() bool { return killOne("starting") || doneCount() == calls })
			kills++
			startKilled++
		}
		at, before := time.Now(), doneCount()
		waitFor(t, "progress after the kills", func() bool { return doneCount() > before || doneCount() == calls })
		recovery = append(recovery, time.Since(at))
	}
	ok, lost, hung := 0, 0, 0
	for i, f := range fs {
		v, err := f.Result(ctx)
		switch {
		case err == nil && v == 2*i:
			ok++
		case err == nil:
			t.Errorf("call %d: wrong result %d", i, v)
		case !f.Finished():
			hung++
		default:
			lost++
			if lost < 5 {
				t.Errorf("call %d: %v", i, err)
			}
		}
	}
	total := time.Since(begin)
	slices.Sort(recovery)
	b, _ := os.ReadFile(log)
	runs := map[int]int{}
	for _, line := range strings.Fields(string(b)) {
		n, _ := strconv.Atoi(line)
		runs[n]++
	}
	twice, never := 0, 0
	for i := range calls {
		switch {
		case runs[i] == 0:
			never++
		case runs[i] > 1:
			twice++
		}
	}
	st := p.Stats()
	t.Logf("%d calls, %d kills (%d during a start): %d ok, %d failed, %d hung; %d ran to completion more than once, %d never; "+
		"failed starts %d, spawned %d, retried %d; all done in %v; time from a round's last kill to the next completed call: median %v, max %v",
		calls, kills, startKilled, ok, lost, hung, twice, never, st.FailedStarts, st.Spawned, st.Retried,
		total.Round(time.Millisecond), recovery[len(recovery)/2].Round(time.Millisecond), recovery[len(recovery)-1].Round(time.Millisecond))
	if lost > 0 || hung > 0 || never > 0 {
		t.Fatalf("%d calls failed, %d hung and %d never ran, out of %d", lost, hung, never, calls)
	}
}
