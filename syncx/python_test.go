package syncx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pythonTrace runs testdata/python/NAME.py (stdlib only) with python3 and
// returns the lines it printed; the test is skipped, with a message, when
// python3 is not installed.
func pythonTrace(t *testing.T, name string) []string {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not on PATH: the comparison with CPython threading is skipped")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command(py, filepath.Join("testdata", "python", name+".py"))
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s.py: %v\n%s", py, name, err, stderr.String())
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

// A BoundedSemaphore(0) behaves as CPython's threading.BoundedSemaphore(0):
// it is allowed, is never acquired, and refuses every release, even with a
// goroutine waiting in Acquire (bound 0 once meant unbounded here, and a
// release then handed the waiter a permit). testdata/python/
// bounded_semaphore_zero.py runs the same scenario in CPython; the traces
// must be equal.
func TestBoundedSemaphoreZero(t *testing.T) {
	var trace []string
	say := func(format string, a ...any) { trace = append(trace, fmt.Sprintf(format, a...)) }
	released := func(err error) string {
		switch {
		case err == nil:
			return "release ok"
		case errors.Is(err, ErrReleasedTooMany):
			return "release ValueError: Semaphore released too many times"
		}
		return "release " + err.Error()
	}
	acquired := func(err error) string {
		switch {
		case err == nil:
			return "True"
		case errors.Is(err, context.DeadlineExceeded):
			return "False"
		}
		return err.Error()
	}
	s, err := NewBoundedSemaphore(0)
	if err != nil {
		t.Fatal(err)
	}
	say("zero: value %d", s.Value())
	say("zero: try acquire %s", pyBool(s.TryAcquire()))
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	say("zero: acquire with timeout %s", acquired(s.Acquire(ctx)))
	cancel()
	say("zero: %s", released(s.Release()))

	got := make(chan error, 1)
	waiting := make(chan struct{})
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		close(waiting)
		got <- s.Acquire(ctx)
	}()
	<-waiting
	time.Sleep(50 * time.Millisecond) // let it wait in Acquire, as the Python thread does
	say("zero, a waiter: %s", released(s.Release()))
	say("zero, a waiter: waiter acquired %s", acquired(<-got))
	say("zero: value %d", s.Value())

	b, err := NewBoundedSemaphore(1)
	if err != nil {
		t.Fatal(err)
	}
	say("one: try acquire %s", pyBool(b.TryAcquire()))
	say("one: try acquire %s", pyBool(b.TryAcquire()))
	if err := b.Release(); err != nil {
		t.Fatal(err)
	}
	say("one: value %d", b.Value())
	say("one: %s", released(b.Release()))

	want := pythonTrace(t, "bounded_semaphore_zero")
	if strings.Join(trace, "\n") != strings.Join(want, "\n") {
		t.Errorf("Go and CPython differ.\nGo:\n%s\nCPython:\n%s", strings.Join(trace, "\n"), strings.Join(want, "\n"))
	}
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}
