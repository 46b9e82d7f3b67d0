package future

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/trident-go/trident/internal/cpythontest"
)

// recordHandler is a slog.Handler that keeps the records it is given.
type recordHandler struct {
	mu      sync.Mutex
	records []slog.Record
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }

func (h *recordHandler) attr(i int, key string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var v string
	h.records[i].Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}

// captureLog sends the callback-panic log to a recordHandler for the test.
func captureLog(t *testing.T) *recordHandler {
	h := &recordHandler{}
	SetLogger(slog.New(h))
	t.Cleanup(func() { SetLogger(nil) })
	return h
}

// A panic in a done callback is logged and the other callbacks still run,
// as CPython handles an exception raised by a callback.
//
// CPython 3.11: Future._invoke_callbacks calls each callback in a
// try/except and logs a failure with
// LOGGER.exception('exception calling callback for %r', future) on the
// logger "concurrent.futures"; the callbacks after it run, and result()
// returns the value. add_done_callback on a future already done calls the
// callback at once the same way (logged, not raised). trident used to let
// the panic escape into the goroutine completing the future (a pool worker:
// the whole program died), and skipped the callbacks after it.
func TestCallbackPanicLoggedOthersRunAsInPython(t *testing.T) {
	var py struct {
		Ran    []string `json:"ran"`
		Late   []string `json:"late"`
		Result int      `json:"result"`
		Logged []string `json:"logged"`
	}
	cpythontest.Run(t, `
import io, json, logging
from concurrent.futures import Future
stream = io.StringIO()
logging.getLogger("concurrent.futures").addHandler(logging.StreamHandler(stream))
ran, late = [], []
def bad(f):
    raise ValueError("boom")
f = Future()
f.add_done_callback(lambda f: ran.append("first"))
f.add_done_callback(bad)
f.add_done_callback(lambda f: ran.append("third"))
f.set_result(42)
f.add_done_callback(bad)
f.add_done_callback(lambda f: late.append("late"))
logged = [l for l in stream.getvalue().splitlines() if l.startswith("exception calling callback")]
print(json.dumps({"ran": ran, "late": late, "result": f.result(), "logged": logged}))
`, &py)

	h := captureLog(t)
	var ran, late []string
	bad := func(*Future[int]) { panic("boom") }
	f := newFuture[int](context.Background())
	f.AddDoneCallback(func(*Future[int]) { ran = append(ran, "first") })
	f.AddDoneCallback(bad)
	f.AddDoneCallback(func(*Future[int]) { ran = append(ran, "third") })
	waiter := make(chan int)
	go func() {
		v, _ := f.Result(context.Background())
		waiter <- v
	}()
	f.complete(42, nil)
	f.AddDoneCallback(bad)
	f.AddDoneCallback(func(*Future[int]) { late = append(late, "late") })
	v, err := f.Result(context.Background())

	if !slices.Equal(ran, py.Ran) || !slices.Equal(late, py.Late) {
		t.Errorf("callbacks run: trident %v then %v, CPython %v then %v", ran, late, py.Ran, py.Late)
	}
	if v != py.Result || err != nil || <-waiter != py.Result {
		t.Errorf("result: trident %v %v, CPython %v", v, err, py.Result)
	}
	if len(h.records) != len(py.Logged) {
		t.Fatalf("logged %d panics, CPython logged %d exceptions (%q)", len(h.records), len(py.Logged), py.Logged)
	}
	for i, r := range h.records {
		if r.Level != slog.LevelError || !strings.Contains(r.Message, "calling done callback") {
			t.Errorf("record %d: %v %q", i, r.Level, r.Message)
		}
		if got := h.attr(i, "panic"); got != "boom" {
			t.Errorf("record %d: panic=%q, want boom", i, got)
		}
		if got := h.attr(i, "future"); got != f.String() {
			t.Errorf("record %d: future=%q, want %q", i, got, f.String())
		}
		if got := h.attr(i, "stack"); !strings.Contains(got, "callback_test.go") {
			t.Errorf("record %d: the stack does not show where the callback panicked:\n%s", i, got)
		}
	}
}

// A panicking callback does not stop the callbacks of Wait and AsCompleted
// registered after it, nor those of OnDone and AfterDone.
func TestCallbackPanicDoesNotStopWaiters(t *testing.T) {
	h := captureLog(t)
	f := newFuture[int](context.Background())
	f.OnDone(func() { panic(context.Canceled) })
	var onDone, afterDone bool
	f.OnDone(func() { onDone = true })
	f.onDoneStop(func() { afterDone = true })
	f.OnDone(func() { panic("again") })
	waited := make(chan error, 1)
	go func() {
		_, _, err := Wait(context.Background(), []*Future[int]{f}, AllCompleted)
		waited <- err
	}()
	// Wait's callback comes after the panicking ones.
	for {
		f.mu.Lock()
		n := len(f.cbs)
		f.mu.Unlock()
		if n == 5 {
			break
		}
		time.Sleep(time.Millisecond)
	}
	f.complete(1, nil)
	if !onDone || !afterDone {
		t.Errorf("callbacks after a panicking one: OnDone ran %v, AfterDone ran %v", onDone, afterDone)
	}
	if err := <-waited; err != nil {
		t.Fatal(err)
	}
	if len(h.records) != 2 {
		t.Fatalf("logged %d panics, want 2", len(h.records))
	}
	if got := h.attr(0, "panic"); got != context.Canceled.Error() {
		t.Errorf("panic=%q", got)
	}
}

// Without SetLogger, the panic goes to slog.Default().
func TestCallbackPanicDefaultLogger(t *testing.T) {
	h := &recordHandler{}
	old := slog.Default()
	slog.SetDefault(slog.New(h))
	defer slog.SetDefault(old)
	f := newFuture[int](context.Background())
	f.OnDone(func() { panic("default") })
	f.complete(1, nil)
	if len(h.records) != 1 || h.attr(0, "panic") != "default" {
		t.Fatalf("slog.Default got %d records", len(h.records))
	}
}
