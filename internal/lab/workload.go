package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/trident-go/trident/internal/rusage"
)

// Workload names, as the articles' categories.
const (
	CPUBound = "cpu-bound"
	FastIO   = "fast-io"
	SlowIO   = "slow-io"
	Mixed    = "mixed"
)

// WorkloadNames lists the workloads in the order the lab runs them.
var WorkloadNames = []string{CPUBound, FastIO, SlowIO, Mixed}

// Workload is one of the articles' kinds of work, sized for one run. Every
// task of a workload does the same steps: count primes in a range (CPU), make
// small HTTP requests to the lab's local server (fast I/O), sleep (slow I/O),
// or some of each (mixed).
type Workload struct {
	// Name is one of cpu-bound, fast-io, slow-io, mixed.
	Name string `json:"name"`
	// About says what one task does, in words.
	About string `json:"about"`
	// Tasks is how many tasks a run submits.
	Tasks int `json:"tasks"`
	// TaskCPU is the CPU time one task is sized to take (sequentially, on
	// this machine, after calibration); zero for pure I/O.
	TaskCPU time.Duration `json:"task_cpu"`
	// Reads is the number of HTTP requests one task makes.
	Reads int `json:"reads"`
	// Sleep is how long one task sleeps (the slow wait).
	Sleep time.Duration `json:"sleep"`
}

// sizes returns the workloads for a quick or a full run. A quick run has
// fewer tasks (two per core) where that keeps its verdicts, not smaller
// ones: slow-io's sleeps stay above advise's LongWait, and cpu-bound keeps
// the full run's tasks, because with fewer of them starting the worker
// processes (tens of milliseconds) ate the gain of computing in parallel
// and the quick run said "processes do not speed up CPU-bound work" where
// the full run says they do.
func sizes(quick bool) map[string]Workload {
	tasks, few := 8, 8
	if quick {
		few = 2 * min(max(runtime.NumCPU(), 2), 4)
	}
	return map[string]Workload{
		CPUBound: {Name: CPUBound, Tasks: tasks, TaskCPU: 40 * time.Millisecond},
		FastIO:   {Name: FastIO, Tasks: few, Reads: 15},
		SlowIO:   {Name: SlowIO, Tasks: few, Sleep: 80 * time.Millisecond},
		Mixed:    {Name: Mixed, Tasks: few, TaskCPU: 15 * time.Millisecond, Sleep: 50 * time.Millisecond},
	}
}

// quickModels are the models a quick run measures per workload (the
// sequential baselines always run): the rows the claims rest on, the
// rule's kind of model, and the models that won that workload in full
// runs, so that a quick verdict compares what the full one compares. The
// rest is left to the full run: a second thread pool or process pool of
// the same kind, ToThread rows that only give context, and on cpu-bound the
// Go rows that compute one task at a time by design (threads-gil, aio: each
// costs as much as the sequential row, and CPython's threading and asyncio
// rows decide the same claims) and aio-procpool (its workers are procpool's,
// measured beside it; mixed keeps it, where it is the rule's model).
var quickModels = map[string][]string{
	CPUBound: {"goroutines", "procpool", "threading", "multiprocessing", "asyncio", "asyncio-processes"},
	FastIO:   {"threads-gil", "goroutines", "aio", "threading", "thread-pool", "asyncio"},
	SlowIO:   {"threads-gil", "goroutines", "aio", "threading", "asyncio"},
	Mixed:    {"goroutines", "aio", "aio-procpool", "threading", "asyncio", "asyncio-processes"},
}

func (w *Workload) describe(delay time.Duration) string {
	switch w.Name {
	case CPUBound:
		return fmt.Sprintf("%d tasks, each counting primes for ~%v of CPU", w.Tasks, w.TaskCPU.Round(time.Millisecond))
	case FastIO:
		return fmt.Sprintf("%d tasks, each making %d small HTTP requests to a local server that answers in ~%v", w.Tasks, w.Reads, delay)
	case SlowIO:
		return fmt.Sprintf("%d tasks, each sleeping %v (a slow remote call)", w.Tasks, w.Sleep)
	default:
		return fmt.Sprintf("%d tasks, each counting primes for ~%v of CPU, then sleeping %v", w.Tasks, w.TaskCPU.Round(time.Millisecond), w.Sleep)
	}
}

// primeBase is where every task's prime-counting range starts, in Go and in
// the CPython scripts alike.
const primeBase = 1 << 20

// primeSink keeps the compiler from dropping prime counts nobody reads.
var primeSink atomic.Int64

// isPrime is trial division by odd numbers, the same algorithm as the CPython
// scripts use.
func isPrime(n int) bool {
	if n < 2 {
		return false
	}
	if n%2 == 0 {
		return n == 2
	}
	for d := 3; d*d <= n; d += 2 {
		if n%d == 0 {
			return false
		}
	}
	return true
}

// countPrimes counts primes in [lo, hi).
func countPrimes(lo, hi int) int {
	c := 0
	for n := lo; n < hi; n++ {
		if isPrime(n) {
			c++
		}
	}
	return c
}

// calibrate measures how many numbers (from primeBase) one millisecond of CPU
// checks on this machine. It counts CPU time of the calling thread, not wall
// time, so a busy machine that takes the core away for a while does not
// skew it. One doubling search finds a count that takes at least 20 ms; two
// more tries at that count follow, and the best of the three is kept (a
// search per try cost the start of every run about 0.1 s more).
func calibrate() float64 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpuNow := func() time.Duration {
		u, err := rusage.Thread()
		if err != nil {
			return 0
		}
		return u.CPU()
	}
	try := func(n int) time.Duration {
		c0, t0 := cpuNow(), time.Now()
		primeSink.Add(int64(countPrimes(primeBase, primeBase+n)))
		el := cpuNow() - c0
		if el <= 0 { // no thread CPU clock here: fall back to wall time
			el = time.Since(t0)
		}
		return el
	}
	n := 2000
	el := try(n)
	for el < 20*time.Millisecond && n < 1<<26 {
		n *= 2
		el = try(n)
	}
	best := float64(n) / (float64(el) / float64(time.Millisecond))
	for range 2 {
		best = max(best, float64(n)/(float64(try(n))/float64(time.Millisecond)))
	}
	return best
}

// server is the lab's local HTTP server for the fast I/O workload: every
// request waits Delay (a fast disk or LAN service, no CPU) and returns a 1 KiB
// body.
type server struct {
	URL   string
	Addr  string
	Delay time.Duration
	srv   *http.Server
	ln    net.Listener
	done  chan struct{}
}

var body = func() []byte {
	b := make([]byte, 1024)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return b
}()

func startServer(delay time.Duration) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("lab: starting the local HTTP server: %w", err)
	}
	s := &server{Addr: ln.Addr().String(), Delay: delay, ln: ln, done: make(chan struct{})}
	s.URL = "http://" + s.Addr + "/item"
	s.srv = &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t := time.NewTimer(delay)
			defer t.Stop()
			select {
			case <-t.C:
			case <-r.Context().Done():
				return
			}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write(body)
		}),
		ReadHeaderTimeout: 10 * time.Second,
	}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

func (s *server) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
	}
	<-s.done
}

// fetcher makes the fast I/O requests of the blocking models: raw HTTP/1.1
// GETs over one keep-alive TCP connection per task, the same protocol the
// event-loop models speak over aio streams and the CPython scripts over
// sockets and asyncio streams, so that models differ in how they wait, not in
// how much HTTP parsing they do.
type fetcher struct {
	addr string
}

func newFetcher(url string) *fetcher {
	return &fetcher{addr: strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/item")}
}

// conn is one task's connection.
type conn struct {
	c   net.Conn
	br  *bufio.Reader
	req []byte
}

func (f *fetcher) dial(ctx context.Context) (*conn, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", f.addr)
	if err != nil {
		return nil, err
	}
	return &conn{c: c, br: bufio.NewReaderSize(c, 4096), req: []byte("GET /item HTTP/1.1\r\nHost: " + f.addr + "\r\n\r\n")}, nil
}

// get makes one request and reads the whole answer. ctx ending closes the
// connection, which ends a blocked read.
func (c *conn) get(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() { c.c.Close() })
	defer stop()
	if _, err := c.c.Write(c.req); err != nil {
		return ctxOr(ctx, err)
	}
	var head []byte
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return ctxOr(ctx, err)
		}
		head = append(head, line...)
		if len(line) <= 2 {
			break
		}
		if len(head) > 8192 {
			return errors.New("lab: local server's answer head is too long")
		}
	}
	n, err := contentLength(head)
	if err != nil {
		return err
	}
	if n != len(body) {
		return fmt.Errorf("lab: local server sent %d bytes, want %d", n, len(body))
	}
	if _, err := c.br.Discard(n); err != nil {
		return ctxOr(ctx, err)
	}
	return nil
}

func (c *conn) close() { c.c.Close() }

func ctxOr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// sleepCtx sleeps d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// lanes hands out the lowest free lane number, so that a pool's timeline
// shows one row per busy worker.
type lanes struct {
	mu   sync.Mutex
	busy []bool
}

func (l *lanes) get() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, b := range l.busy {
		if !b {
			l.busy[i] = true
			return i
		}
	}
	l.busy = append(l.busy, true)
	return len(l.busy) - 1
}

func (l *lanes) put(i int) {
	l.mu.Lock()
	l.busy[i] = false
	l.mu.Unlock()
}
