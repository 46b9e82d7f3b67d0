package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// hang guard for waits in tests; never a speed assertion.
const guard = 60 * time.Second

func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	t.Cleanup(cancel)
	return ctx
}

func TestTypedRoundTrip(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(4))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)

	var fs []*future.Future[int]
	for i := range 200 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	vs, err := future.Results(ctx, fs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
	st := ex.Stats()
	if st.Submitted != 200 || st.Completed != 200 || st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRemoteErrorsKeepIdentity(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(2))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)

	_, err := failing.Submit(ex, ctx, "err").Result(ctx)
	var re *registry.RemoteError
	if !errors.As(err, &re) || !errors.Is(err, errOdd) {
		t.Fatalf("error %v (%T): want a RemoteError matching errOdd", err, err)
	}
	_, err = failing.Submit(ex, ctx, "panic").Result(ctx)
	var pe *future.PanicError
	if !errors.As(err, &pe) || !strings.Contains(fmt.Sprint(pe.Value), "boom") {
		t.Fatalf("panic error %v: want a *future.PanicError with boom", err)
	}
}

func TestUnreachableServerFailsFast(t *testing.T) {
	// A port nobody listens on: reserve one from an embedded server, stop it.
	s, err := StartServer(context.Background(), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	url := s.URL()
	s.Shutdown()
	done := make(chan error, 1)
	go func() {
		_, err := Connect(context.Background(), ConnectOptions{URL: url, Timeout: 2 * time.Second})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, ErrUnreachable) || !strings.Contains(err.Error(), "127.0.0.1") {
			t.Fatalf("error %v: want ErrUnreachable naming the address", err)
		}
	case <-time.After(guard):
		t.Fatal("Connect to an unreachable server hung")
	}
	// A blackholed address with a context deadline: bounded too.
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	_, err = Connect(ctx, ConnectOptions{URL: "nats://10.255.255.1:4222"})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("blackholed: %v", err)
	}
}

func TestWrongCredentialsRefused(t *testing.T) {
	s := newServer(t, ServerOptions{User: "alice", Password: "right"})
	for _, o := range []ConnectOptions{
		{URL: s.URL(), User: "alice", Password: "wrong"},
		{URL: s.URL()},
		{URL: s.URL(), Token: "nope"},
	} {
		_, err := Connect(context.Background(), o)
		if !errors.Is(err, ErrAuth) {
			t.Fatalf("%+v: error %v, want ErrAuth", o, err)
		}
		if strings.Contains(err.Error(), "wrong") {
			t.Fatalf("error leaks the password: %v", err)
		}
	}
	conn := connect(t, ConnectOptions{URL: s.URL(), User: "alice", Password: "right"})
	_ = conn
	// Credentials in the URL work too.
	c2 := connect(t, ConnectOptions{URL: strings.Replace(s.URL(), "nats://", "nats://alice:right@", 1)})
	_ = c2
	// Token server.
	ts := newServer(t, ServerOptions{Token: "s3cret"})
	if _, err := Connect(context.Background(), ConnectOptions{URL: ts.URL(), Token: "bad"}); !errors.Is(err, ErrAuth) {
		t.Fatalf("bad token: %v", err)
	}
	connect(t, ts.ConnectOptions())
}

func TestNoAnonymousNonLoopback(t *testing.T) {
	_, err := StartServer(context.Background(), ServerOptions{Host: "0.0.0.0"})
	if !errors.Is(err, ErrInsecure) {
		t.Fatalf("StartServer on 0.0.0.0 without credentials: %v", err)
	}
	_, err = StartServer(context.Background(), ServerOptions{Host: "0.0.0.0", User: "u"})
	if err == nil {
		t.Fatal("user without password accepted")
	}
	for _, tc := range []struct {
		o    ConnectOptions
		anon bool
	}{
		{ConnectOptions{URL: "nats://127.0.0.1:4222"}, false},
		{ConnectOptions{URL: "nats://localhost:4222"}, false},
		{ConnectOptions{URL: "nats://10.1.2.3:4222"}, true},
		{ConnectOptions{URL: "nats://127.0.0.1:4222,nats://10.1.2.3:4222"}, true},
		{ConnectOptions{URL: "nats://u:p@10.1.2.3:4222"}, false},
		{ConnectOptions{URL: "nats://10.1.2.3:4222", Token: "t"}, false},
		{ConnectOptions{URL: "nats://10.1.2.3:4222", CredsFile: "x.creds"}, false},
	} {
		if got := !tc.o.allLoopback() && !tc.o.hasCredentials(); got != tc.anon {
			t.Errorf("%+v: anonymous remote = %v, want %v", tc.o, got, tc.anon)
		}
	}
	err = Serve(context.Background(), &Conn{anonymousRemote: true})
	if !errors.Is(err, ErrInsecure) {
		t.Fatalf("Serve on an anonymous remote connection: %v", err)
	}
	// A password-protected server may listen on all interfaces.
	s := newServer(t, ServerOptions{Host: "0.0.0.0", User: "u", Password: "p"})
	connect(t, ConnectOptions{URL: s.URL(), User: "u", Password: "p"})
}

func TestUndecodableMessageIsDeadLettered(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(2))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)

	// A corrupt argument for a real function.
	_, err := ex.Backend().SubmitRaw(ctx, square.Name(), []byte("\xff\x00garbage")).Future().Result(ctx)
	if !errors.Is(err, ErrUndecodable) || !errors.Is(err, registry.ErrDecode) {
		t.Fatalf("corrupt argument: %v", err)
	}
	// A message with no trident headers at all (no reply possible).
	if err := conn.nc.Publish(taskSubject(DefaultQueue, square.Name()), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// A message from a submitter with another codec.
	jex := newExecutor(t, conn, WithCodec(registry.JSON))
	_, err = square.Submit(jex, ctx, 3).Result(ctx)
	if !errors.Is(err, ErrUndecodable) || !strings.Contains(err.Error(), "codec") {
		t.Fatalf("codec mismatch: %v", err)
	}
	// The worker is still alive and serving.
	if v, err := square.Submit(ex, ctx, 7).Result(ctx); err != nil || v != 49 {
		t.Fatalf("after bad input: %v %v", v, err)
	}
	// Three dead letters, each with a reason.
	var reasons []string
	for ctx.Err() == nil {
		st, err := GetStatus(ctx, conn, "", time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if st.DeadLetters >= 3 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	dls, err := conn.js.Stream(ctx, DeadStream)
	if err != nil {
		t.Fatal(err)
	}
	for seq := uint64(1); seq <= 3; seq++ {
		m, err := dls.GetMsg(ctx, seq)
		if err != nil {
			t.Fatalf("dead letter %d: %v", seq, err)
		}
		reasons = append(reasons, m.Header.Get(hdrReason))
	}
	joined := strings.Join(reasons, " | ")
	for _, want := range []string{"decode", "missing", "codec"} {
		if !strings.Contains(joined, want) {
			t.Errorf("dead-letter reasons %q lack %q", joined, want)
		}
	}
}

func TestCancelReachesWorker(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(1))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)

	st, sp := make(chan struct{}, 1), make(chan error, 1)
	hookMu.Lock()
	startedCh["any"], stoppedErr["any"] = st, sp
	hookMu.Unlock()
	defer func() {
		hookMu.Lock()
		delete(startedCh, "any")
		delete(stoppedErr, "any")
		hookMu.Unlock()
	}()
	f := sleepMs.Submit(ex, ctx, 60_000)
	// Queued behind it on the single slot: cancelled before it runs.
	queued := sleepMs.Submit(ex, ctx, 60_000)
	select {
	case <-st:
	case <-ctx.Done():
		t.Fatal("task never started")
	}
	if !f.Cancel() {
		t.Fatal("Cancel on a remote task reported false")
	}
	select {
	case cause := <-sp:
		if !errors.Is(cause, errCancelRequested) {
			t.Fatalf("worker saw cause %v", cause)
		}
	case <-ctx.Done():
		t.Fatal("cancellation never reached the worker")
	}
	if _, err := f.Result(ctx); !errors.Is(err, future.ErrCancelled) {
		t.Fatalf("cancelled future: %v", err)
	}
	queued.Cancel()
	// The worker is free again and serves new work.
	if v, err := square.Submit(ex, ctx, 5).Result(ctx); err != nil || v != 25 {
		t.Fatalf("after cancel: %v %v", v, err)
	}
}

func TestDeadlineEnforced(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(1))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)

	sp := make(chan error, 1)
	hookMu.Lock()
	stoppedErr["any"] = sp
	hookMu.Unlock()
	defer func() {
		hookMu.Lock()
		delete(stoppedErr, "any")
		hookMu.Unlock()
	}()
	dctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	arg, err := sleepMs.Encode(registry.Gob, 60_000)
	if err != nil {
		t.Fatal(err)
	}
	_, err = ex.Backend().SubmitRaw(dctx, sleepMs.Name(), arg).Future().Result(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want DeadlineExceeded", err)
	}
	select {
	case cause := <-sp:
		if !errors.Is(cause, context.DeadlineExceeded) {
			t.Fatalf("worker saw %v", cause)
		}
	case <-ctx.Done():
		t.Fatal("the worker never stopped the task at its deadline")
	}
}

func TestHeartbeatsPreventRedelivery(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(2), WithAckWait(300*time.Millisecond))
	// A second worker that would gladly take a redelivered task.
	conn2 := connect(t, s.ConnectOptions())
	serveInProcess(t, conn2, WithConcurrency(2), WithAckWait(300*time.Millisecond))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)
	v, err := sleepMs.Submit(ex, ctx, 1500).Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(v, "/1") {
		t.Fatalf("result %q: the 1.5s task was redelivered despite heartbeats", v)
	}
	time.Sleep(100 * time.Millisecond)
	if st := ex.Stats(); st.Duplicates != 0 || st.Redelivered != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestStatusShowsWorkersAndQueue(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("status"))
	ctx := waitCtx(t)
	// No worker yet: tasks wait in the stream.
	var fs []*future.Future[int]
	for i := range 5 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	for ctx.Err() == nil {
		st, err := GetStatus(ctx, conn, "status", 10*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		if st.QueueDepth == 5 {
			if !st.NoConsumer || len(st.Workers) != 0 {
				t.Fatalf("status %+v", st)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	serveInProcess(t, conn, WithQueue("status"), WithConcurrency(3), WithName("w1"))
	if _, err := future.Results(ctx, fs); err != nil {
		t.Fatal(err)
	}
	st, err := GetStatus(ctx, conn, "status", 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.QueueDepth != 0 || st.InFlight != 0 || len(st.Workers) != 1 {
		t.Fatalf("status %+v", st)
	}
	w := st.Workers[0]
	if w.Name != "w1" || w.Concurrency != 3 || w.Done != 5 || w.Queue != "status" {
		t.Fatalf("worker %+v", w)
	}
	if _, err := GetStatus(ctx, conn, "bad queue", 0); err == nil {
		t.Fatal("bad queue name accepted")
	}
}

func TestExecutorShutdownAndClose(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ctx := waitCtx(t)
	ex, err := NewExecutor(ctx, conn, WithQueue("sd"))
	if err != nil {
		t.Fatal(err)
	}
	f := square.Submit(ex, ctx, 4)
	// No worker: Shutdown with a short context gives up, Close fails it.
	sctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	if err := ex.Shutdown(sctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := ex.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Result(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("pending future after Close: %v", err)
	}
	if _, err := square.Submit(ex, ctx, 1).Result(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Submit after Close: %v", err)
	}
	// Shutdown that completes: a worker drains the queue.
	ex2 := newExecutor(t, conn, WithQueue("sd2"))
	var fs []*future.Future[int]
	for i := range 50 {
		fs = append(fs, square.Submit(ex2, ctx, i))
	}
	serveInProcess(t, conn, WithQueue("sd2"))
	if err := ex2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, f := range fs {
		if !f.Finished() || f.Err() != nil {
			t.Fatalf("after Shutdown: %v %v", f, f.Err())
		}
	}
}

// Many goroutines submitting and cancelling at once: every future ends,
// nothing hangs, and the counters add up.
func TestStressSubmitCancel(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(8))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var all []*future.Future[int]
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 150 {
				f := work.Submit(ex, ctx, g*1000+i)
				if i%5 == 0 {
					f.Cancel()
				}
				mu.Lock()
				all = append(all, f)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	okN, cancelled := 0, 0
	for _, f := range all {
		v, err := f.Result(ctx)
		switch {
		case err == nil:
			if v%2 != 0 {
				t.Fatalf("bad value %d", v)
			}
			okN++
		case errors.Is(err, future.ErrCancelled):
			cancelled++
		default:
			t.Fatalf("unexpected error %v", err)
		}
	}
	if cancelled < 8*30 || okN+cancelled != len(all) {
		t.Fatalf("ok %d cancelled %d of %d", okN, cancelled, len(all))
	}
	if st := ex.Stats(); st.Pending != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestCommandJobs(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithQueue("cmd"), WithConcurrency(2), WithHandler(CommandHandler(nil, "w", nil)), WithFunctions(append(registry.Names(), CommandFunc)...))
	ex := newExecutor(t, conn, WithQueue("cmd"))
	ctx := waitCtx(t)
	r, err := ex.SubmitCommand(ctx, CommandJob{Command: "read x; echo out $x; echo err >&2; exit 3", Stdin: []byte("hi\n")}).Result(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r.ExitCode != 3 || string(r.Stdout) != "out hi\n" || string(r.Stderr) != "err\n" || r.Worker != "w" || r.Delivery != 1 {
		t.Fatalf("result %+v", r)
	}
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	_, err = ex.SubmitCommand(dctx, CommandJob{Command: "sleep 30"}).Result(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("timed-out command: %v", err)
	}
	// Functions still work through the command handler.
	if v, err := square.Submit(ex, ctx, 9).Result(ctx); err != nil || v != 81 {
		t.Fatalf("function via command handler: %v %v", v, err)
	}
	if _, err := RunCommand(ctx, CommandJob{}); err == nil {
		t.Fatal("empty command accepted")
	}
}

func TestQueueNames(t *testing.T) {
	for _, q := range []string{"", "a.b", "a b", "*", ">"} {
		if validQueue(q) == nil {
			t.Errorf("queue %q accepted", q)
		}
	}
	if err := validQueue("jobs-1_x"); err != nil {
		t.Error(err)
	}
}

func FuzzParseDeadline(f *testing.F) {
	f.Add("1700000000000000000")
	f.Add("")
	f.Add("-5")
	f.Add("+07")
	f.Add("x")
	f.Fuzz(func(t *testing.T, v string) {
		h := nats.Header{}
		h.Set(hdrDeadline, v)
		d, ok, err := parseDeadline(h)
		if err != nil || !ok {
			return
		}
		// Whatever was accepted survives our own encoding unchanged.
		h.Set(hdrDeadline, deadlineHeader(d))
		d2, ok2, err2 := parseDeadline(h)
		if err2 != nil || !ok2 || !d2.Equal(d) {
			t.Fatalf("%q -> %v -> %v (%v)", v, d, d2, err2)
		}
	})
}

// Results travel on core NATS: those published while the submitter was
// disconnected are lost although their tasks were acknowledged. After a
// reconnect the executor publishes its unfinished tasks again.
func TestLostResultsAreResubmitted(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("lost"))
	ctx := waitCtx(t)
	var fs []*future.Future[int]
	for i := range 5 {
		fs = append(fs, square.Submit(ex, ctx, i))
	}
	// A consumer that takes the tasks and "loses" the results.
	cons, err := conn.js.CreateOrUpdateConsumer(ctx, TaskStream, jetstream.ConsumerConfig{
		Durable: "thief", FilterSubject: taskSubject("lost", square.Name()), AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatal(err)
	}
	for taken := 0; taken < 5; {
		b, err := cons.Fetch(5-taken, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for m := range b.Messages() {
			_ = m.DoubleAck(ctx)
			taken++
		}
	}
	if err := conn.js.DeleteConsumer(ctx, TaskStream, "thief"); err != nil {
		t.Fatal(err)
	}
	// Reconnecting triggers the resubmission.
	if err := conn.nc.ForceReconnect(); err != nil {
		t.Fatal(err)
	}
	serveInProcess(t, conn, WithQueue("lost"))
	vs, err := future.Results(ctx, fs)
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range vs {
		if v != i*i {
			t.Fatalf("square(%d) = %d", i, v)
		}
	}
	if st := ex.Stats(); st.Resubmitted < 5 {
		t.Fatalf("stats %+v: want 5 resubmitted", st)
	}
}

// A stopping worker lets running tasks finish within Grace; without grace
// they are handed back and another worker completes them.
func TestWorkerStopGraceAndHandBack(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("grace"))
	ctx := waitCtx(t)
	for _, grace := range []time.Duration{5 * time.Second, 0} {
		st := make(chan struct{}, 1)
		hookMu.Lock()
		startedCh["any"] = st
		hookMu.Unlock()
		wctx, stopW := context.WithCancel(ctx)
		served := make(chan error, 1)
		go func() { served <- Serve(wctx, conn, WithQueue("grace"), WithConcurrency(1), WithGrace(grace)) }()
		f := sleepMs.Submit(ex, ctx, 300)
		<-st
		hookMu.Lock()
		delete(startedCh, "any")
		hookMu.Unlock()
		stopW()
		if err := <-served; err != nil {
			t.Fatal(err)
		}
		if grace > 0 {
			// No other worker exists: only the stopping one can have run it.
			if v, err := f.Result(ctx); err != nil || !strings.HasSuffix(v, "/1") {
				t.Fatalf("grace %v: task not finished by the stopping worker: %q %v", grace, v, err)
			}
			continue
		}
		if f.Finished() {
			t.Fatalf("without grace the task finished anyway: %v", f.Err())
		}
		// Handed back (Nak): a new worker runs it as the second delivery.
		serveInProcess(t, conn, WithQueue("grace"))
		v, err := f.Result(ctx)
		if err != nil || !strings.HasSuffix(v, "/2") {
			t.Fatalf("handed-back task: %q %v", v, err)
		}
	}
}

func TestMapInChunks(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	serveInProcess(t, conn, WithConcurrency(4))
	ex := newExecutor(t, conn)
	ctx := waitCtx(t)
	var _ registry.Executor = ex
	in := make([]int, 1000)
	for i := range in {
		in[i] = i
	}
	for _, chunk := range []int{0, 1, 7, 5000} {
		before := ex.Stats().Submitted
		vs, err := future.Results(ctx, square.Map(ex, ctx, in, registry.ChunkSize(chunk)))
		if err != nil {
			t.Fatalf("chunk %d: %v", chunk, err)
		}
		for i, v := range vs {
			if v != i*i {
				t.Fatalf("chunk %d: square(%d) = %d", chunk, i, v)
			}
		}
		msgs := ex.Stats().Submitted - before
		if chunk > 1 && msgs > int64(len(in)/chunk+1) || chunk == 0 && msgs >= int64(len(in)) {
			t.Fatalf("chunk %d: %d messages for %d calls", chunk, msgs, len(in))
		}
	}
	// Per-call errors inside a chunk keep their identity.
	fs := failing.Map(ex, ctx, []string{"err", "panic"}, registry.ChunkSize(2))
	if _, err := fs[0].Result(ctx); !errors.Is(err, errOdd) {
		t.Fatalf("chunked error: %v", err)
	}
	var pe *future.PanicError
	if _, err := fs[1].Result(ctx); !errors.As(err, &pe) {
		t.Fatalf("chunked panic: %v", err)
	}
	// A chunk past its deadline fails as a whole with DeadlineExceeded.
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	for _, f := range sleepMs.Map(ex, dctx, []int{60_000, 60_000}, registry.ChunkSize(2)) {
		if _, err := f.Result(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("chunk past deadline: %v", err)
		}
	}
}

// When JetStream itself gives up on a task (its worker died on the last
// delivery too), the server's advisory fails the future: nothing hangs.
func TestMaxDeliveriesAdvisoryFailsFuture(t *testing.T) {
	s := newServer(t, ServerOptions{})
	conn := connect(t, s.ConnectOptions())
	ex := newExecutor(t, conn, WithQueue("adv"))
	ctx := waitCtx(t)
	f := square.Submit(ex, ctx, 3)
	cons, err := conn.js.CreateOrUpdateConsumer(ctx, TaskStream, jetstream.ConsumerConfig{
		Durable: consumerName("adv", square.Name()), FilterSubject: taskSubject("adv", square.Name()), AckPolicy: jetstream.AckExplicitPolicy,
		AckWait: 200 * time.Millisecond, MaxDeliver: 1})
	if err != nil {
		t.Fatal(err)
	}
	// A "worker" takes the task and dies silently (never acks).
	for got := 0; got == 0; {
		b, err := cons.Fetch(1, jetstream.FetchMaxWait(time.Second))
		if err != nil {
			t.Fatal(err)
		}
		for range b.Messages() {
			got++
		}
	}
	_, err = f.Result(ctx)
	var re *registry.RemoteError
	if !errors.Is(err, ErrMaxDeliveries) || !errors.As(err, &re) {
		t.Fatalf("error %v, want a RemoteError matching ErrMaxDeliveries", err)
	}
}
