package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/trident-go/trident/registry"
)

// Environment of a re-executed test binary acting as a worker process.
const (
	envWorkerURL  = "TRIDENT_CLUSTER_TEST_WORKER"
	envAckWait    = "TRIDENT_CLUSTER_TEST_ACKWAIT"
	envMaxDeliver = "TRIDENT_CLUSTER_TEST_MAXDELIVER"
	envConc       = "TRIDENT_CLUSTER_TEST_CONCURRENCY"
	// envServerProcess makes the test binary an embedded server that prints
	// its URL and runs until SIGTERM.
	envServerProcess = "TRIDENT_CLUSTER_TEST_SERVER"
)

func serverProcess() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	s, err := StartServer(ctx, ServerOptions{})
	if err != nil {
		fmt.Fprintln(os.Stderr, "server:", err)
		return 2
	}
	defer s.Shutdown()
	fmt.Println(s.URL())
	<-ctx.Done()
	return 0
}

func TestMain(m *testing.M) {
	if url := os.Getenv(envWorkerURL); url != "" {
		os.Exit(workerProcess(url))
	}
	if os.Getenv(envServerProcess) != "" {
		os.Exit(serverProcess())
	}
	// RunCommand's process supervisor lives as long as the process.
	goleak.VerifyTestMain(m, goleak.IgnoreAnyFunction("github.com/trident-go/trident/internal/proctree.(*Supervisor).read"))
}

// Functions the tests call; registered at package level so that worker
// processes (fresh runs of this test binary) have them too.
var (
	square = registry.Register("clustertest.square", func(ctx context.Context, n int) (int, error) {
		return n * n, nil
	})
	work = registry.Register("clustertest.work", func(ctx context.Context, n int) (int, error) {
		select {
		case <-time.After(3 * time.Millisecond):
		case <-ctx.Done():
			return 0, ctx.Err()
		}
		return 2 * n, nil
	})
	sleepMs = registry.Register("clustertest.sleep", func(ctx context.Context, ms int) (string, error) {
		started(ctx)
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			stopped(ctx, context.Cause(ctx))
			return "", ctx.Err()
		}
		id, _ := TaskID(ctx)
		return fmt.Sprintf("%s/%d", id, Delivery(ctx)), nil
	})
	failing = registry.Register("clustertest.fail", func(ctx context.Context, s string) (int, error) {
		if s == "panic" {
			panic("boom")
		}
		return 0, fmt.Errorf("wrapped: %w", errOdd)
	})
	crash = registry.Register("clustertest.crash", func(ctx context.Context, code int) (int, error) {
		if os.Getenv(envWorkerURL) != "" {
			os.Exit(code) // a worker process dies mid-task
		}
		return 0, errors.New("crash only crashes worker processes")
	})
	errOdd = registry.RegisterError("clustertest.errOdd", errors.New("odd"))
)

// Hooks for in-process workers: which task started, which one saw its
// context end and why.
var (
	hookMu     sync.Mutex
	startedCh  = map[string]chan struct{}{}
	stoppedErr = map[string]chan error{}
)

func started(ctx context.Context) {
	id, _ := TaskID(ctx)
	hookMu.Lock()
	defer hookMu.Unlock()
	if c, ok := startedCh["any"]; ok {
		select {
		case c <- struct{}{}:
		default:
		}
	}
	_ = id
}

func stopped(ctx context.Context, cause error) {
	hookMu.Lock()
	defer hookMu.Unlock()
	if c, ok := stoppedErr["any"]; ok {
		select {
		case c <- cause:
		default:
		}
	}
}

func workerProcess(url string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	conn, err := Connect(ctx, ConnectOptions{URL: url})
	if err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 2
	}
	defer conn.Close()
	opts := []Option{WithQueue(os.Getenv("TRIDENT_CLUSTER_TEST_QUEUE"))}
	if v, err := time.ParseDuration(os.Getenv(envAckWait)); err == nil {
		opts = append(opts, WithAckWait(v))
	}
	if n, _ := strconv.Atoi(os.Getenv(envMaxDeliver)); n > 0 {
		opts = append(opts, WithMaxDeliver(n))
	}
	if n, _ := strconv.Atoi(os.Getenv(envConc)); n > 0 {
		opts = append(opts, WithConcurrency(n))
	}
	if err := Serve(ctx, conn, opts...); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		return 3
	}
	return 0
}

// workerProc is a worker process started by a test.
type workerProc struct {
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

func startWorker(t *testing.T, url string, env ...string) *workerProc {
	t.Helper()
	w := startWorkerNoCleanup(t, url, env...)
	t.Cleanup(func() { w.stop() })
	return w
}

// startWorkerNoCleanup starts a worker process the caller must stop.
func startWorkerNoCleanup(t *testing.T, url string, env ...string) *workerProc {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{envWorkerURL + "=" + url}, env...)...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Errorf("starting worker process: %v", err)
		w := &workerProc{cmd: cmd, done: make(chan struct{})}
		close(w.done)
		return w
	}
	w := &workerProc{cmd: cmd, done: make(chan struct{})}
	go func() { w.err = cmd.Wait(); close(w.done) }()
	return w
}

// stop ends the worker gracefully (SIGTERM), then hard after a while.
func (w *workerProc) stop() {
	select {
	case <-w.done:
		return
	default:
	}
	_ = w.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(20 * time.Second):
		_ = w.cmd.Process.Kill()
		<-w.done
	}
}

func (w *workerProc) kill() {
	_ = w.cmd.Process.Kill()
	<-w.done
}

// newServer starts an embedded server for one test.
func newServer(t *testing.T, o ServerOptions) *Server {
	t.Helper()
	s, err := StartServer(context.Background(), o)
	if err != nil {
		t.Fatalf("StartServer: %v", err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

func connect(t *testing.T, o ConnectOptions) *Conn {
	t.Helper()
	c, err := Connect(context.Background(), o)
	if err != nil {
		t.Fatalf("Connect: %v", err)
	}
	t.Cleanup(c.Close)
	return c
}

// serveInProcess runs a worker in this process until the test ends.
func serveInProcess(t *testing.T, conn *Conn, opts ...Option) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, conn, opts...) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
}

func newExecutor(t *testing.T, conn *Conn, opts ...Option) *Executor {
	t.Helper()
	ex, err := NewExecutor(context.Background(), conn, opts...)
	if err != nil {
		t.Fatalf("NewExecutor: %v", err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	return ex
}
