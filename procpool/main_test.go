package procpool_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

// TestMain turns the re-executed test binary into a worker (procpool.Main),
// runs the helper parent of TestNoOrphansAfterParentSIGKILL when asked, and
// checks that no goroutine and no child process outlives the tests.
func TestMain(m *testing.M) {
	procpool.Main()
	if os.Getenv("PROCPOOL_TEST_PARENT") != "" {
		helperParent()
		return
	}
	code := m.Run()
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
		if kids := children(os.Getpid()); len(kids) > 0 {
			fmt.Fprintln(os.Stderr, "child processes left after the tests:", kids)
			code = 1
		}
	}
	os.Exit(code)
}

// children lists the live (non-zombie) processes whose parent is pid.
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		state, ppid, ok := procStat(n)
		if ok && ppid == pid && state != "Z" {
			out = append(out, n)
		}
	}
	return out
}

// procStat returns the state and parent pid of pid from /proc/pid/stat.
func procStat(pid int) (state string, ppid int, ok bool) {
	f := procStatFields(pid)
	if len(f) < 2 {
		return "", 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	return f[0], ppid, true
}

// procStatFields returns the fields of /proc/pid/stat after the command
// name (state, ppid, pgrp, ...), or nil.
func procStatFields(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(s[i+1:])
}

// alive reports whether pid exists and is not a zombie.
func alive(pid int) bool {
	st, _, ok := procStat(pid)
	return ok && st != "Z"
}

// helperParent is a parent process for the orphan test: it starts a pool
// with two busy workers, prints their pids and waits to be killed.
func helperParent() {
	p, err := procpool.New(procpool.WithWorkers(2), procpool.WithInFlight(1))
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	ctx := context.Background()
	// Two long calls keep both workers alive and busy.
	sleepMs.Submit(p, ctx, 60_000)
	sleepMs.Submit(p, ctx, 60_000)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		st := p.Stats()
		var pids []string
		for _, w := range st.Workers {
			if w.PID != 0 && w.State == "ready" {
				pids = append(pids, strconv.Itoa(w.PID))
			}
		}
		if len(pids) == 2 {
			fmt.Println("pids", strings.Join(pids, " "))
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(time.Hour)
}

// Functions used by the tests, registered at package level so the worker
// processes (this test binary, re-executed) have them too.
type opaque struct{ n int } // no exported field: gob cannot encode it

var (
	errTooBig = registry.RegisterError("procpool_test.errTooBig", errors.New("too big"))
	initValue string
	leaked    [][]byte

	square = procpool.Register("t.square", func(ctx context.Context, n int) (int, error) {
		if n > 1_000_000 {
			return 0, fmt.Errorf("square(%d): %w", n, errTooBig)
		}
		return n * n, nil
	})
	getpid = procpool.Register("t.getpid", func(ctx context.Context, _ int) (int, error) {
		return os.Getpid(), nil
	})
	sleepMs = procpool.Register("t.sleepMs", func(ctx context.Context, ms int) (int, error) {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
			return ms, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	})
	busyUs = procpool.Register("t.busyUs", func(ctx context.Context, us int) (int, error) {
		end := time.Now().Add(time.Duration(us) * time.Microsecond)
		n := 0
		for time.Now().Before(end) {
			n++
		}
		return os.Getpid(), nil
	})
	spin = procpool.Register("t.spin", func(ctx context.Context, _ int) (int, error) {
		x := 0
		for { // ignores its context on purpose
			x++
		}
	})
	exitWith = procpool.Register("t.exitWith", func(ctx context.Context, code int) (int, error) {
		os.Exit(code)
		return 0, nil
	})
	killSelf = procpool.Register("t.killSelf", func(ctx context.Context, _ int) (int, error) {
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		time.Sleep(time.Minute)
		return 0, nil
	})
	crashOnce = procpool.Register("t.crashOnce", func(ctx context.Context, marker string) (string, error) {
		if _, err := os.Stat(marker); err != nil {
			os.WriteFile(marker, nil, 0o644)
			os.Exit(3)
		}
		return "survived", nil
	})
	boom = procpool.Register("t.boom", func(ctx context.Context, s string) (int, error) {
		panic("boom " + s)
	})
	badResult = procpool.Register("t.badResult", func(ctx context.Context, n int) (opaque, error) {
		return opaque{n}, nil
	})
	badArg = procpool.Register("t.badArg", func(ctx context.Context, o opaque) (int, error) {
		return o.n, nil
	})
	waitCancel = procpool.Register("t.waitCancel", func(ctx context.Context, _ int) (int, error) {
		<-ctx.Done()
		return 0, ctx.Err()
	})
	garbage = procpool.Register("t.garbage", func(ctx context.Context, _ int) (int, error) {
		// Write a frame of an unknown type straight onto the result pipe.
		os.NewFile(4, "out").Write([]byte{0, 0, 0, 1, 99})
		time.Sleep(time.Minute)
		return 0, nil
	})
	say = procpool.Register("t.say", func(ctx context.Context, s string) (int, error) {
		fmt.Println(s)
		fmt.Fprintln(os.Stderr, "err:"+s)
		return len(s), nil
	})
	setInit = procpool.Register("t.setInit", func(ctx context.Context, s string) (struct{}, error) {
		if s == "fail" {
			return struct{}{}, errors.New("initializer refused")
		}
		initValue = s
		return struct{}{}, nil
	})
	readInit = procpool.Register("t.readInit", func(ctx context.Context, _ int) (string, error) {
		return initValue, nil
	})
	leak = procpool.Register("t.leak", func(ctx context.Context, mb int) (int, error) {
		b := make([]byte, mb<<20)
		for i := range b {
			b[i] = 1
		}
		leaked = append(leaked, b)
		return os.Getpid(), nil
	})
)

// newPool starts a pool and closes it at the end of the test.
func newPool(t *testing.T, opts ...procpool.Option) *procpool.Pool {
	t.Helper()
	p, err := procpool.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := p.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		for _, w := range p.Stats().Workers {
			t.Errorf("worker %d still listed after Shutdown", w.ID)
		}
	})
	return p
}

// ctxT is a hang guard, never a speed assertion.
func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func pids(p *procpool.Pool) map[int]bool {
	out := map[int]bool{}
	for _, w := range p.Stats().Workers {
		if w.PID != 0 {
			out[w.PID] = true
		}
	}
	return out
}

func mustScanPids(t *testing.T, r *bufio.Reader) []int {
	t.Helper()
	line, err := r.ReadString('\n')
	if err != nil {
		t.Fatalf("helper parent: %v (%q)", err, line)
	}
	f := strings.Fields(line)
	if len(f) != 3 || f[0] != "pids" {
		t.Fatalf("helper parent said %q", line)
	}
	var out []int
	for _, s := range f[1:] {
		n, _ := strconv.Atoi(s)
		out = append(out, n)
	}
	return out
}
