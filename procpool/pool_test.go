package procpool_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

func TestSubmitAndMap(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(2))
	v, err := square.Submit(p, ctx, 12).Result(ctx)
	if err != nil || v != 144 {
		t.Fatalf("square(12) = %v, %v", v, err)
	}
	in := make([]int, 500)
	for i := range in {
		in[i] = i
	}
	for _, chunk := range []int{1, 7, 0} {
		got, err := future.Results(ctx, square.Map(p, ctx, in, registry.ChunkSize(chunk)))
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		for i, g := range got {
			if g != i*i {
				t.Fatalf("chunk %d: [%d] = %d", chunk, i, g)
			}
		}
	}
	all, err := square.MapAll(p, ctx, in)
	if err != nil || len(all) != len(in) || all[499] != 499*499 {
		t.Fatalf("MapAll: %v", err)
	}
	if _, err := square.MapAll(p, ctx, []int{1, 2_000_000, 3}); !errors.Is(err, errTooBig) {
		t.Fatalf("MapAll error: %v", err)
	}
	if me, _ := getpid.Submit(p, ctx, 0).Result(ctx); me == os.Getpid() || me == 0 {
		t.Fatalf("call ran in pid %d, the test's own pid is %d", me, os.Getpid())
	}
	// A worker started for the last burst may still be starting (seen on a
	// loaded machine); the checks below are about workers that ran.
	waitFor(t, "no worker still starting", func() bool {
		for _, w := range p.Stats().Workers {
			if w.State == "starting" {
				return false
			}
		}
		return true
	})
	st := p.Stats()
	if st.Completed < 2005 || st.Crashed != 0 || len(st.Workers) == 0 {
		t.Fatalf("stats: %+v", st)
	}
	for _, w := range st.Workers {
		if w.PID == 0 || w.State != "ready" || w.RSS <= 0 {
			t.Fatalf("worker stats: %+v", w)
		}
	}
}

func TestRemoteErrorsAndPanics(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1))
	pid, _ := getpid.Submit(p, ctx, 0).Result(ctx)

	_, err := square.Submit(p, ctx, 2_000_000).Result(ctx)
	var re *registry.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, errTooBig) || re.Func != "t.square" {
		t.Fatalf("want a RemoteError matching errTooBig, got %T %v", err, err)
	}

	_, err = boom.Submit(p, ctx, "x").Result(ctx)
	var pe *future.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom x" || !strings.Contains(string(pe.Stack), "procpool_test") {
		t.Fatalf("want a PanicError with the worker's stack, got %v", err)
	}
	if again, _ := getpid.Submit(p, ctx, 0).Result(ctx); again != pid {
		t.Fatalf("a panic must not kill the worker: pid %d then %d", pid, again)
	}
	if st := p.Stats(); st.Crashed != 0 || st.Killed != 0 || st.Spawned != 1 {
		t.Fatalf("stats after errors: %+v", st)
	}
}

func TestBadInput(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1))
	pid, _ := getpid.Submit(p, ctx, 0).Result(ctx)

	t.Run("unknown function", func(t *testing.T) {
		_, err := p.Backend().SubmitRaw(ctx, "t.noSuchFunction", nil).Future().Result(ctx)
		if !errors.Is(err, procpool.ErrUnknownFunction) || !strings.Contains(err.Error(), "t.noSuchFunction") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("unencodable argument", func(t *testing.T) {
		f := badArg.Submit(p, ctx, opaque{1})
		if !f.Finished() || !errors.Is(f.Err(), registry.ErrEncode) {
			t.Fatalf("want a future failed at submit with ErrEncode, got %v %v", f.State(), f.Err())
		}
	})
	t.Run("unencodable result", func(t *testing.T) {
		_, err := badResult.Submit(p, ctx, 1).Result(ctx)
		if !errors.Is(err, registry.ErrEncode) || !strings.Contains(err.Error(), "t.badResult") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("undecodable argument", func(t *testing.T) {
		_, err := p.Backend().SubmitRaw(ctx, square.Name(), []byte{1, 2, 3}).Future().Result(ctx)
		if !errors.Is(err, registry.ErrDecode) {
			t.Fatalf("err = %v", err)
		}
	})
	if again, _ := getpid.Submit(p, ctx, 0).Result(ctx); again != pid {
		t.Fatalf("bad input must not kill the worker: pid %d then %d", pid, again)
	}
	if st := p.Stats(); st.Crashed != 0 || st.Killed != 0 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestCrashIsolation(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(2))
	_, err := exitWith.Submit(p, ctx, 7).Result(ctx)
	var ce *procpool.CrashError
	if !errors.Is(err, procpool.ErrWorkerCrashed) || !errors.As(err, &ce) {
		t.Fatalf("want ErrWorkerCrashed, got %v", err)
	}
	if ce.ExitCode != 7 || ce.Signal != 0 || ce.Func != "t.exitWith" || ce.PID == 0 {
		t.Fatalf("crash details: %+v", ce)
	}
	_, err = killSelf.Submit(p, ctx, 0).Result(ctx)
	if !errors.As(err, &ce) || ce.Signal != syscall.SIGKILL || ce.ExitCode != -1 {
		t.Fatalf("want a crash by SIGKILL, got %v", err)
	}
	if !strings.Contains(err.Error(), "killed") || !strings.Contains(err.Error(), "t.killSelf") {
		t.Fatalf("message %q", err)
	}
	if v, err := square.Submit(p, ctx, 3).Result(ctx); err != nil || v != 9 {
		t.Fatalf("pool after crashes: %v %v", v, err)
	}
	if st := p.Stats(); st.Crashed != 2 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRetries(t *testing.T) {
	ctx := ctxT(t)
	dir := t.TempDir()
	p := newPool(t, procpool.WithWorkers(1), procpool.WithRetries(1))
	v, err := crashOnce.Submit(p, ctx, filepath.Join(dir, "a")).Result(ctx)
	if err != nil || v != "survived" {
		t.Fatalf("with a retry: %q %v", v, err)
	}
	q := newPool(t, procpool.WithWorkers(1))
	if _, err := crashOnce.Submit(q, ctx, filepath.Join(dir, "b")).Result(ctx); !errors.Is(err, procpool.ErrWorkerCrashed) {
		t.Fatalf("without retries: %v", err)
	}
	if st := p.Stats(); st.Retried != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestBreakOnCrash(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(2), procpool.WithInFlight(1), procpool.WithBreakOnCrash())
	slow := sleepMs.Submit(p, ctx, 30_000)
	waitFor(t, "the first worker", func() bool { return len(pids(p)) >= 1 })
	_, err := exitWith.Submit(p, ctx, 1).Result(ctx)
	if !errors.Is(err, procpool.ErrWorkerCrashed) {
		t.Fatalf("crashing call: %v", err)
	}
	if _, err := slow.Result(ctx); !errors.Is(err, procpool.ErrBrokenPool) {
		t.Fatalf("a call on another worker must fail with ErrBrokenPool, got %v", err)
	}
	if _, err := square.Submit(p, ctx, 1).Result(ctx); !errors.Is(err, procpool.ErrBrokenPool) || !errors.Is(err, procpool.ErrWorkerCrashed) {
		t.Fatalf("submit to a broken pool: %v", err)
	}
}

func TestSIGKILLDuringThousands(t *testing.T) {
	for _, tc := range []struct {
		retries, chunk int
	}{{0, 1}, {3, 1}, {3, 0}} {
		retries := tc.retries
		t.Run(fmt.Sprintf("retries=%d,chunk=%d", tc.retries, tc.chunk), func(t *testing.T) {
			ctx := ctxT(t)
			p := newPool(t, procpool.WithWorkers(2), procpool.WithRetries(retries))
			in := make([]int, 3000)
			for i := range in {
				in[i] = 200 // µs of busy work
			}
			fs := busyUs.Map(p, ctx, in, registry.ChunkSize(tc.chunk))
			// Kill a worker once the run is under way.
			waitFor(t, "progress", func() bool { return p.Stats().Completed > 300 })
			var victim int
			for pid := range pids(p) {
				victim = pid
				break
			}
			if err := syscall.Kill(victim, syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			done, crashed := 0, 0
			for i, f := range fs {
				_, err := f.Result(ctx)
				switch {
				case err == nil:
					done++
				case errors.Is(err, procpool.ErrWorkerCrashed):
					crashed++
				default:
					t.Fatalf("future %d: unexpected error %v", i, err)
				}
			}
			t.Logf("killed pid %d: %d done, %d crashed; stats %+v", victim, done, crashed, p.Stats())
			if done+crashed != len(in) {
				t.Fatalf("lost futures")
			}
			if retries > 0 && crashed != 0 {
				t.Fatalf("with retries every call must complete; %d crashed", crashed)
			}
			if retries == 0 && tc.chunk == 1 && crashed > 1 {
				t.Fatalf("only the call that was running may fail; %d failed", crashed)
			}
			if pids(p)[victim] {
				t.Fatalf("the killed worker is still listed")
			}
		})
	}
}

func TestDeadlineKillsEndlessLoop(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1))
	before, _ := getpid.Submit(p, ctx, 0).Result(ctx)
	queued := square.Submit(p, ctx, 5) // behind the spinning call, must survive it
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	raw := p.Backend().SubmitRaw(dctx, spin.Name(), mustEncode(t, 0)).Future()
	queued2 := square.Submit(p, ctx, 6)
	_, err := raw.Result(ctx)
	var de *procpool.DeadlineError
	if !errors.Is(err, context.DeadlineExceeded) || !errors.As(err, &de) || de.Func != "t.spin" {
		t.Fatalf("want DeadlineError, got %v", err)
	}
	if v, err := queued.Result(ctx); err != nil || v != 25 {
		t.Fatalf("call before the spinner: %v %v", v, err)
	}
	if v, err := queued2.Result(ctx); err != nil || v != 36 {
		t.Fatalf("call queued behind the spinner: %v %v", v, err)
	}
	after, _ := getpid.Submit(p, ctx, 0).Result(ctx)
	if after == before {
		t.Fatalf("the spinning worker was not replaced")
	}
	waitFor(t, "the killed worker to be reaped", func() bool { return !alive(before) })
	if st := p.Stats(); st.Killed != 1 || st.TimedOut != 1 {
		t.Fatalf("stats: %+v", st)
	}
	// A typed submit with a deadline behaves the same.
	tctx, cancel2 := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel2()
	if _, err := spin.Submit(p, tctx, 0).Result(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("typed: %v", err)
	}
}

func mustEncode(t *testing.T, v any) []byte {
	b, err := registry.Gob.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCancelReachesWorker(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1))
	pid, _ := getpid.Submit(p, ctx, 0).Result(ctx)
	cctx, cancel := context.WithCancel(ctx)
	raw := p.Backend().SubmitRaw(cctx, waitCancel.Name(), mustEncode(t, 0)).Future()
	waitFor(t, "the call to be sent", func() bool { return raw.State() == future.Running })
	cancel()
	_, err := raw.Result(ctx)
	var re *registry.RemoteError
	// The error comes from the worker: its function saw its context end.
	if !errors.As(err, &re) || !errors.Is(err, context.Canceled) {
		t.Fatalf("want the worker's context.Canceled, got %T %v", err, err)
	}
	// Typed: Cancel on the future also reaches the running call.
	f := waitCancel.Submit(p, ctx, 0)
	time.Sleep(20 * time.Millisecond)
	f.Cancel()
	if _, err := f.Result(ctx); !errors.Is(err, future.ErrCancelled) {
		t.Fatalf("typed cancel: %v", err)
	}
	if v, err := square.Submit(p, ctx, 4).Result(ctx); err != nil || v != 16 {
		t.Fatalf("after cancel: %v %v", v, err)
	}
	if again, _ := getpid.Submit(p, ctx, 0).Result(ctx); again != pid {
		t.Fatalf("cancellation must not kill the worker")
	}
}

func TestMalformedFrame(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(1))
	_, err := garbage.Submit(p, ctx, 0).Result(ctx)
	if !errors.Is(err, procpool.ErrWorkerCrashed) || !errors.Is(err, procpool.ErrProtocol) {
		t.Fatalf("want a crash caused by a protocol error, got %v", err)
	}
	if !strings.Contains(err.Error(), "unexpected") {
		t.Fatalf("message should say what was wrong: %v", err)
	}
	if v, err := square.Submit(p, ctx, 2).Result(ctx); err != nil || v != 4 {
		t.Fatalf("after: %v %v", v, err)
	}
	if st := p.Stats(); st.Killed != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRecycling(t *testing.T) {
	ctx := ctxT(t)
	t.Run("max tasks", func(t *testing.T) {
		p := newPool(t, procpool.WithWorkers(1), procpool.WithMaxTasksPerWorker(3))
		seen := map[int]int{}
		for i := 0; i < 9; i++ {
			pid, err := getpid.Submit(p, ctx, 0).Result(ctx)
			if err != nil {
				t.Fatal(err)
			}
			seen[pid]++
		}
		if len(seen) != 3 {
			t.Fatalf("want 3 workers of 3 calls each, got %v", seen)
		}
		if st := p.Stats(); st.Recycled < 2 || st.Crashed != 0 {
			t.Fatalf("stats: %+v", st)
		}
	})
	t.Run("max tasks under load", func(t *testing.T) {
		p := newPool(t, procpool.WithWorkers(2), procpool.WithMaxTasksPerWorker(50))
		in := make([]int, 1000)
		for i := range in {
			in[i] = i
		}
		for _, chunk := range []int{1, 0} {
			got, err := future.Results(ctx, square.Map(p, ctx, in, registry.ChunkSize(chunk)))
			if err != nil || got[999] != 999*999 {
				t.Fatalf("chunk %d: %v", chunk, err)
			}
		}
		if st := p.Stats(); st.Recycled < 10 || st.Crashed != 0 || st.Completed != 2000 {
			t.Fatalf("stats: %+v", st)
		}
	})
	t.Run("idle timeout", func(t *testing.T) {
		p := newPool(t, procpool.WithWorkers(1), procpool.WithIdleTimeout(50*time.Millisecond))
		pid, _ := getpid.Submit(p, ctx, 0).Result(ctx)
		waitFor(t, "the idle worker to exit", func() bool { return len(p.Stats().Workers) == 0 && !alive(pid) })
		if again, err := getpid.Submit(p, ctx, 0).Result(ctx); err != nil || again == pid {
			t.Fatalf("a new worker should start on demand: %v %v", again, err)
		}
	})
	t.Run("memory ceiling", func(t *testing.T) {
		p := newPool(t, procpool.WithWorkers(1), procpool.WithMaxMemory(100<<20))
		pid, err := leak.Submit(p, ctx, 150).Result(ctx)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the bloated worker to be retired", func() bool { return !alive(pid) })
		if again, err := getpid.Submit(p, ctx, 0).Result(ctx); err != nil || again == pid {
			t.Fatalf("%v %v", again, err)
		}
		if st := p.Stats(); st.Recycled != 1 {
			t.Fatalf("stats: %+v", st)
		}
	})
}

func TestShutdownCloseAndCancelPending(t *testing.T) {
	ctx := ctxT(t)
	t.Run("shutdown waits for queued work", func(t *testing.T) {
		p, _ := procpool.New(procpool.WithWorkers(2))
		fs := sleepMs.Map(p, ctx, []int{50, 50, 50, 50, 50}, registry.ChunkSize(1))
		ps := pids(p)
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if v, err, _ := f.Value(); err != nil || v != 50 {
				t.Fatalf("after Shutdown: %v %v", v, err)
			}
		}
		if _, err := square.Submit(p, ctx, 1).Result(ctx); !errors.Is(err, procpool.ErrShutdown) {
			t.Fatalf("submit after shutdown: %v", err)
		}
		for pid := range ps {
			if alive(pid) {
				t.Fatalf("worker %d alive after Shutdown", pid)
			}
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatalf("second Shutdown: %v", err)
		}
	})
	t.Run("cancel pending", func(t *testing.T) {
		p, _ := procpool.New(procpool.WithWorkers(1), procpool.WithInFlight(1))
		fs := sleepMs.Map(p, ctx, []int{1000, 1, 1, 1, 1}, registry.ChunkSize(1))
		waitFor(t, "the first call to be sent", func() bool { return len(pids(p)) == 1 && p.Stats().Queued == 4 })
		if n := p.CancelPending(); n != 4 {
			t.Fatalf("CancelPending = %d, want 4", n)
		}
		if err := p.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
		if v, err, _ := fs[0].Value(); err != nil || v != 1000 {
			t.Fatalf("running call: %v %v", v, err)
		}
		for _, f := range fs[1:] {
			if !f.Cancelled() {
				t.Fatalf("queued call not cancelled: %v", f.State())
			}
		}
	})
	t.Run("close kills now", func(t *testing.T) {
		p, _ := procpool.New(procpool.WithWorkers(2))
		fs := sleepMs.Map(p, ctx, []int{60_000, 60_000, 60_000}, registry.ChunkSize(1))
		waitFor(t, "workers", func() bool { return p.Stats().Spawned >= 1 && len(pids(p)) >= 1 })
		ps := pids(p)
		p.Close()
		for _, f := range fs {
			if _, err := f.Result(ctx); !errors.Is(err, procpool.ErrShutdown) {
				t.Fatalf("after Close: %v", err)
			}
		}
		for pid := range ps {
			if alive(pid) {
				t.Fatalf("worker %d alive after Close", pid)
			}
		}
		p.Close()
	})
	t.Run("shutdown deadline falls back to close", func(t *testing.T) {
		p, _ := procpool.New(procpool.WithWorkers(1))
		f := sleepMs.Submit(p, ctx, 60_000)
		sctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		defer cancel()
		if err := p.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Shutdown: %v", err)
		}
		if _, err := f.Result(ctx); err == nil {
			t.Fatal("the long call should have been stopped")
		}
	})
}

func TestNoOrphansAfterParentSIGKILL(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), "PROCPOOL_TEST_PARENT=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ps := mustScanPids(t, bufio.NewReader(out))
	for _, pid := range ps {
		if _, ppid, _ := procStat(pid); ppid != cmd.Process.Pid {
			t.Fatalf("pid %d is not a child of the helper parent", pid)
		}
	}
	if left := survivors(ps); len(left) != len(ps) {
		t.Fatalf("before the kill, /proc shows %v of the workers %v", left, ps)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	// One second later, nothing of the workers is left: no worker, and no
	// process in a worker's process group (each worker leads its own).
	time.Sleep(time.Second)
	if left := survivors(ps); len(left) > 0 {
		t.Fatalf("1s after the SIGKILL of their parent, processes of its workers %v are alive: %v", ps, left)
	}
}

// survivors lists the live (non-zombie) processes that are one of pids or
// in the process group of one of them, read from /proc.
func survivors(pids []int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		f := procStatFields(n)
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		pgid, _ := strconv.Atoi(f[2])
		if slices.Contains(pids, n) || slices.Contains(pids, pgid) {
			out = append(out, n)
		}
	}
	return out
}

func TestPrefixOutput(t *testing.T) {
	ctx := ctxT(t)
	var buf lockedBuffer
	p, _ := procpool.New(procpool.WithWorkers(1), procpool.WithPrefixOutput(&buf, &buf))
	if _, err := say.Submit(p, ctx, "hello").Result(ctx); err != nil {
		t.Fatal(err)
	}
	if err := p.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := buf.String()
	if !strings.Contains(got, "[worker 1] hello\n") || !strings.Contains(got, "[worker 1] err:hello\n") {
		t.Fatalf("output %q", got)
	}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestInitializer(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(2), procpool.WithInitializer(setInit, "configured"))
	if v, err := readInit.Submit(p, ctx, 0).Result(ctx); err != nil || v != "configured" {
		t.Fatalf("%q %v", v, err)
	}
	q := newPool(t, procpool.WithWorkers(1), procpool.WithInitializer(setInit, "fail"))
	_, err := readInit.Submit(q, ctx, 0).Result(ctx)
	var re *registry.RemoteError
	if !errors.Is(err, procpool.ErrWorkerStart) || !errors.As(err, &re) || !strings.Contains(err.Error(), "initializer refused") {
		t.Fatalf("want a start error carrying the initializer's error, got %v", err)
	}
}

func TestBadWorkerBinary(t *testing.T) {
	ctx := ctxT(t)
	for _, bin := range []string{"/bin/true", "/bin/cat"} {
		if _, err := os.Stat(bin); err != nil {
			t.Skip(bin, "missing")
		}
		p := newPool(t, procpool.WithWorkers(2), procpool.WithWorkerCommand(bin), procpool.WithStartTimeout(2*time.Second))
		fs := square.Map(p, ctx, []int{1, 2, 3}, registry.ChunkSize(1))
		for _, f := range fs {
			if _, err := f.Result(ctx); !errors.Is(err, procpool.ErrWorkerStart) {
				t.Fatalf("%s: %v", bin, err)
			}
		}
	}
	if _, err := procpool.New(procpool.WithWorkerCommand("/no/such/binary")); err == nil {
		t.Fatal("a missing worker binary must be an error at New")
	}
	if _, err := procpool.New(procpool.WithWorkers(0)); err == nil {
		t.Fatal("WithWorkers(0) must be an error")
	}
}

// TestStress submits from many goroutines with random cancellations and
// deadlines; every future must end and the results that succeed be right.
func TestStress(t *testing.T) {
	ctx := ctxT(t)
	p := newPool(t, procpool.WithWorkers(2))
	var wg sync.WaitGroup
	errs := make(chan error, 1000)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				n := g*1000 + i
				cctx, cancel := context.WithCancel(ctx)
				f := square.Submit(p, cctx, n)
				if i%5 == 0 {
					cancel()
				}
				v, err := f.Result(ctx)
				cancel()
				if err == nil && v != n*n {
					errs <- errors.New("wrong result")
				}
				if err != nil && !future.IsCancelled(err) {
					errs <- err
				}
			}
			fs := square.Map(p, ctx, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10})
			if _, err := future.Results(ctx, fs); err != nil {
				errs <- err
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}
