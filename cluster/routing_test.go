package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// Workers that run different functions share a queue: each takes only the
// tasks of its own functions, a task of a function no live worker runs
// waits (it is neither failed nor dead-lettered) and runs once a worker
// that has it comes, and the status says which function waits for whom.
func TestTasksGoOnlyToWorkersThatRunThem(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("mixed"))
	ctx := waitCtx(t)
	// A worker that runs square only, and a command worker.
	serveInProcess(t, conn, WithQueue("mixed"), WithConcurrency(2), WithName("sq"), WithFunctions(square.Name()))
	serveInProcess(t, conn, WithQueue("mixed"), WithConcurrency(2), WithName("cmd"), WithHandler(CommandHandler(nil, "cmd", nil)), WithFunctions(CommandFunc))

	var sq []*future.Future[int]
	var cmds []*future.Future[CommandResult]
	for i := range 30 {
		sq = append(sq, square.Submit(ex, ctx, i))
		cmds = append(cmds, ex.SubmitCommand(ctx, CommandJob{Command: "echo x"}))
	}
	w := work.Submit(ex, ctx, 21) // nobody runs work yet
	for i, f := range sq {
		if v, err := f.Result(ctx); err != nil || v != i*i {
			t.Fatalf("square(%d) = %d, %v", i, v, err)
		}
	}
	for i, f := range cmds {
		if r, err := f.Result(ctx); err != nil || string(r.Stdout) != "x\n" || r.Worker != "cmd" {
			t.Fatalf("command %d: %+v, %v", i, r, err)
		}
	}
	// work waits: still pending, shown as waiting with no worker.
	var st *Status
	for {
		var err error
		st, err = GetStatus(ctx, conn, "mixed", 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Functions) > 0 && st.QueueDepth == 1 || ctx.Err() != nil {
			break
		}
	}
	if w.Finished() {
		t.Fatalf("work ran without a worker for it: %v", w.Err())
	}
	if st.DeadLetters != 0 || st.QueueDepth != 1 || st.InFlight != 0 {
		t.Fatalf("status %+v: want 1 waiting, none dead", st)
	}
	byName := map[string]FunctionStatus{}
	for _, f := range st.Functions {
		byName[f.Name] = f
	}
	if f := byName[work.Name()]; f.Waiting != 1 || f.Workers != 0 {
		t.Errorf("status of %s: %+v, want 1 waiting and no worker", work.Name(), f)
	}
	if f := byName[square.Name()]; f.Workers != 1 || f.Waiting != 0 {
		t.Errorf("status of %s: %+v, want 1 worker", square.Name(), f)
	}
	if f := byName[CommandFunc]; f.Workers != 1 {
		t.Errorf("status of %s: %+v, want 1 worker", CommandFunc, f)
	}
	// A worker that runs it comes: the task runs.
	serveInProcess(t, conn, WithQueue("mixed"), WithName("wk"), WithFunctions(work.Name()))
	if v, err := w.Result(ctx); err != nil || v != 42 {
		t.Fatalf("work(21) = %d, %v", v, err)
	}
}

// A worker that lists a function its handler does not know still refuses
// the task by name and dead-letters it (a misconfigured worker, not a
// routing question).
func TestListedButUnknownFunctionIsDeadLettered(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithQueue("nope"), WithFunctions("clustertest.nope"))
	ex := newExecutor(t, conn, WithQueue("nope"))
	ctx := waitCtx(t)
	_, err := ex.Backend().SubmitRaw(ctx, "clustertest.nope", nil).Future().Result(ctx)
	if !errors.Is(err, registry.ErrUnknownFunction) {
		t.Fatalf("unknown function: %v", err)
	}
}

func TestFunctionSubjects(t *testing.T) {
	names := []string{"fib", "trident.command", "a.b-c_d", "with space", "a..b", ".x", "x.", "*", ">", "~x", "ü", ""}
	seen := map[string]string{}
	for _, fn := range names {
		subj := taskSubject("q", fn)
		if prev, dup := seen[subj]; dup {
			t.Errorf("%q and %q share subject %s", prev, fn, subj)
		}
		seen[subj] = fn
		back, ok := funcFromSubject("q", subj)
		if fn != "" && (!ok || back != fn) {
			t.Errorf("%q -> %s -> %q, %v", fn, subj, back, ok)
		}
		c1, c2 := consumerName("q", fn), consumerName("q-x", fn)
		if c1 == c2 {
			t.Errorf("consumer names collide: %s", c1)
		}
	}
	if _, ok := funcFromSubject("q", taskSubject("other", "fib")); ok {
		t.Error("a subject of another queue was read as one of q")
	}
}

// Serve refuses to start with nothing to run.
func TestWorkerWithoutFunctions(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	err := Serve(context.Background(), conn, WithFunctions())
	if err == nil {
		t.Fatal("Serve with no function: nil error")
	}
}
