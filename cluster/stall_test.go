package cluster

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"
)

// reports collects WatchStalls messages for a test.
type reports struct {
	mu   sync.Mutex
	msgs []string
	ch   chan struct{}
}

func newReports() *reports { return &reports{ch: make(chan struct{}, 100)} }

func (r *reports) add(m string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
	select {
	case r.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until some message contains want (guarded, never a timing
// assertion) and returns it.
func (r *reports) waitFor(t *testing.T, want string) string {
	t.Helper()
	guardC := time.After(guard)
	for {
		r.mu.Lock()
		for _, m := range r.msgs {
			if strings.Contains(m, want) {
				r.mu.Unlock()
				return m
			}
		}
		all := strings.Join(r.msgs, " | ")
		r.mu.Unlock()
		select {
		case <-r.ch:
		case <-time.After(50 * time.Millisecond):
		case <-guardC:
			t.Fatalf("no report containing %q; got %q", want, all)
		}
	}
}

// Tasks that no worker runs: WatchStalls says so (naming the queue and what
// is missing), keeps the tasks waiting, and says when they move again.
func TestWatchStallsNoWorker(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("lonely"))
	ctx := waitCtx(t)
	// A worker of another function is on the queue: not the one needed.
	serveInProcess(t, conn, WithQueue("lonely"), WithFunctions(square.Name()), WithName("sq"))
	for ctx.Err() == nil { // the worker answers pings
		st, err := GetStatus(ctx, conn, "lonely", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Workers) == 1 {
			break
		}
	}
	r := newReports()
	stop := ex.WatchStalls(ctx, StallOptions{After: 200 * time.Millisecond, Function: CommandFunc, Report: r.add})
	defer stop()
	f := ex.SubmitCommand(ctx, CommandJob{Command: "echo hi"})
	msg := r.waitFor(t, "no worker has taken a job")
	if !strings.Contains(msg, `no live worker runs command jobs on queue "lonely"`) || !strings.Contains(msg, "other functions") {
		t.Errorf("report %q does not say that no worker runs command jobs there", msg)
	}
	if f.Finished() {
		t.Fatalf("the job ended instead of waiting: %v", f.Err())
	}
	serveInProcess(t, conn, WithQueue("lonely"), WithHandler(CommandHandler(nil, "cmd", nil)), WithFunctions(CommandFunc))
	if r, err := f.Result(ctx); err != nil || string(r.Stdout) != "hi\n" {
		t.Fatalf("job once a worker came: %+v, %v", r, err)
	}
	r.waitFor(t, "going on")
}

// Long tasks that run on a worker are progress, not a stall.
func TestWatchStallsQuietWhileTasksRun(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("busy"))
	ctx := waitCtx(t)
	serveInProcess(t, conn, WithQueue("busy"), WithFunctions(sleepMs.Name()))
	r := newReports()
	stop := ex.WatchStalls(ctx, StallOptions{After: 100 * time.Millisecond, Report: r.add})
	if _, err := sleepMs.Submit(ex, ctx, 1500).Result(ctx); err != nil {
		t.Fatal(err)
	}
	stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) != 0 {
		t.Fatalf("reports while a task ran on a worker: %q", r.msgs)
	}
}

// A server that goes away and does not come back: WatchStalls says it is
// unreachable and retried, naming it without its secret; nothing is failed.
func TestWatchStallsServerGone(t *testing.T) {
	s, err := StartServer(context.Background(), ServerOptions{Token: "s3cretTok"})
	if err != nil {
		t.Fatal(err)
	}
	o := s.ConnectOptions()
	o.Token = ""
	o.URL = strings.Replace(o.URL, "nats://", "nats://s3cretTok@", 1)
	conn := connect(t, o)
	ex := newExecutor(t, conn, WithQueue("gone"))
	ctx := waitCtx(t)
	r := newReports()
	stop := ex.WatchStalls(ctx, StallOptions{After: 200 * time.Millisecond, Report: r.add})
	defer stop()
	f := square.Submit(ex, ctx, 4)
	r.waitFor(t, "no worker has taken a job")
	s.Shutdown()
	msg := r.waitFor(t, "unreachable")
	if !strings.Contains(msg, "retrying") || !strings.Contains(msg, "127.0.0.1") || strings.Contains(msg, "s3cretTok") {
		t.Errorf("report %q: want the server named without its token, and retrying", msg)
	}
	if f.Finished() {
		t.Fatalf("the task ended while the server was away: %v", f.Err())
	}
}

func TestParseStallAfter(t *testing.T) {
	for in, want := range map[string]time.Duration{"": DefaultStallAfter, "3s": 3 * time.Second, " 250ms ": 250 * time.Millisecond} {
		if d, off, err := ParseStallAfter(in); err != nil || off || d != want {
			t.Errorf("ParseStallAfter(%q) = %v, %v, %v", in, d, off, err)
		}
	}
	for _, in := range []string{"0", "off", "0s"} {
		if _, off, err := ParseStallAfter(in); err != nil || !off {
			t.Errorf("ParseStallAfter(%q): off %v, %v", in, off, err)
		}
	}
	for _, in := range []string{"soon", "-1s"} {
		if _, _, err := ParseStallAfter(in); err == nil || !strings.Contains(err.Error(), in) {
			t.Errorf("ParseStallAfter(%q): error %v, want one naming it", in, err)
		}
	}
}
