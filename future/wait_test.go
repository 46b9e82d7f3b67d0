package future

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/trident-go/trident/internal/cpythontest"
)

func pendings(n int) []*Future[int] {
	fs := make([]*Future[int], n)
	for i := range fs {
		fs[i] = newFuture[int](context.Background())
	}
	return fs
}

func TestWaitModes(t *testing.T) {
	ctx := gctx(t)
	if m := WaitMode(7).String(); m != "WaitMode(7)" {
		t.Error(m)
	}
	if FirstError.String() != "FIRST_EXCEPTION" || AllCompleted.String() != "ALL_COMPLETED" || FirstCompleted.String() != "FIRST_COMPLETED" {
		t.Error("mode names")
	}
	if _, _, err := Wait(ctx, pendings(1), WaitMode(9)); err == nil {
		t.Error("bad mode accepted")
	}

	// FirstCompleted returns when one is final.
	fs := pendings(3)
	go func() { time.Sleep(time.Millisecond); fs[1].complete(1, nil) }()
	done, notDone, err := Wait(ctx, fs, FirstCompleted)
	if err != nil || len(done) != 1 || done[0] != fs[1] || len(notDone) != 2 || notDone[0] != fs[0] || notDone[1] != fs[2] {
		t.Fatalf("FirstCompleted: %v %v %v", done, notDone, err)
	}

	// FirstError returns at the first failure (or cancellation).
	fs = pendings(3)
	fs[0].complete(1, nil)
	go func() { time.Sleep(time.Millisecond); fs[2].complete(0, errors.New("x")) }()
	done, notDone, err = Wait(ctx, fs, FirstError)
	if err != nil || len(done) != 2 || len(notDone) != 1 || notDone[0] != fs[1] {
		t.Fatalf("FirstError: %v %v %v", done, notDone, err)
	}
	// A cancelled future is not an error (Python's FIRST_EXCEPTION skips
	// cancelled futures): the wait goes on until a failure or the end.
	fs = pendings(3)
	fs[1].Cancel()
	go func() { time.Sleep(time.Millisecond); fs[2].complete(0, errors.New("x")) }()
	if done, notDone, _ := Wait(ctx, fs, FirstError); len(done) != 2 || len(notDone) != 1 || notDone[0] != fs[0] {
		t.Fatalf("FirstError stopped at a cancellation: done %d, not done %d", len(done), len(notDone))
	}
	fs = pendings(2)
	fs[0].Cancel()
	go func() { time.Sleep(time.Millisecond); fs[1].complete(1, nil) }()
	if done, notDone, _ := Wait(ctx, fs, FirstError); len(done) != 2 || len(notDone) != 0 {
		t.Fatal("FirstError with only a cancellation did not wait for all")
	}
	// FirstError with no error waits for all.
	fs = pendings(3)
	for i, f := range fs {
		go func() { time.Sleep(time.Duration(i) * time.Millisecond); f.complete(i, nil) }()
	}
	if done, notDone, err := Wait(ctx, fs, FirstError); len(done) != 3 || len(notDone) != 0 || err != nil {
		t.Fatal("FirstError without errors")
	}

	// AllCompleted waits for all, keeping input order.
	fs = pendings(4)
	for i, f := range slices.Backward(fs) {
		go func() { time.Sleep(time.Duration(i) * time.Millisecond); f.complete(i, nil) }()
	}
	done, notDone, err = Wait(ctx, fs, AllCompleted)
	if err != nil || !slices.Equal(done, fs) || len(notDone) != 0 {
		t.Fatal("AllCompleted")
	}

	// ctx ends first: the split at that moment and ctx.Err(); futures untouched.
	fs = pendings(2)
	fs[0].complete(1, nil)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
	defer cancel()
	done, notDone, err = Wait(tctx, fs, AllCompleted)
	if !errors.Is(err, context.DeadlineExceeded) || len(done) != 1 || len(notDone) != 1 || fs[1].State() != Pending {
		t.Fatalf("timeout: %v %v %v", done, notDone, err)
	}
	// Empty input is satisfied at once.
	if d, n, err := Wait(ctx, []*Future[int]{}, AllCompleted); d != nil || n != nil || err != nil {
		t.Fatal("empty")
	}
}

func TestWaitMixedTypes(t *testing.T) {
	a := Resolved(1, nil)
	b := Resolved("x", nil)
	done, _, err := Wait(gctx(t), []Waitable{a, b}, AllCompleted)
	if err != nil || len(done) != 2 {
		t.Fatal(done, err)
	}
}

func TestAsCompletedOrder(t *testing.T) {
	ctx := gctx(t)
	fs := pendings(4)
	fs[2].complete(2, nil) // already final: comes first
	order := []int{3, 0, 1}
	go func() {
		for _, i := range order {
			time.Sleep(time.Millisecond)
			fs[i].complete(i, nil)
		}
	}()
	var got []int
	for f, err := range AsCompleted(ctx, fs) {
		if err != nil {
			t.Fatal(err)
		}
		v, _ := f.Result(ctx)
		got = append(got, v)
	}
	if fmt.Sprint(got) != "[2 3 0 1]" {
		t.Fatalf("completion order %v", got)
	}

	// Early break is fine.
	fs = pendings(3)
	for _, f := range fs {
		f.complete(1, nil)
	}
	n := 0
	for range AsCompleted(ctx, fs) {
		n++
		break
	}
	if n != 1 {
		t.Fatal(n)
	}

	// ctx ends: one error, then stop; futures untouched.
	fs = pendings(2)
	fs[0].complete(1, nil)
	tctx, cancel := context.WithTimeout(ctx, 2*time.Millisecond)
	defer cancel()
	var errs, oks int
	for f, err := range AsCompleted(tctx, fs) {
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) || f != nil {
				t.Fatal(err)
			}
			errs++
		} else {
			oks++
		}
	}
	if errs != 1 || oks != 1 || fs[1].State() != Pending {
		t.Fatal(errs, oks)
	}
	for range AsCompleted(ctx, []*Future[int]{}) {
		t.Fatal("empty yielded")
	}
}

func TestResults(t *testing.T) {
	ctx := gctx(t)
	fs := pendings(3)
	boom := errors.New("boom")
	go func() {
		fs[2].complete(2, nil)
		fs[0].complete(0, nil)
		fs[1].complete(0, boom)
	}()
	vals, err := Results(ctx, fs)
	if !errors.Is(err, boom) || vals[0] != 0 || vals[2] != 2 {
		t.Fatal(vals, err)
	}
	if vals, err := Results(ctx, []*Future[int]{Resolved(4, nil), Resolved(5, nil)}); err != nil || fmt.Sprint(vals) != "[4 5]" {
		t.Fatal(vals, err)
	}
	tctx, cancel := context.WithTimeout(ctx, time.Millisecond)
	defer cancel()
	if _, err := Results(tctx, pendings(1)); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// A future given twice counts once, as in Python, whose wait and
// as_completed make a set of their input.
//
// CPython 3.11: with a done after 0.3 s and b after 0.05 s,
// as_completed([a, b, a]) yields b then a; once both are done,
// as_completed([a, a]) yields a once and wait([a, b, a, b]) returns 2 done,
// 0 not done; wait([c, a, c], timeout=0) with c pending returns 1 done and 1
// not done. trident used to yield a future given twice twice and list it
// twice in done or not done.
func TestDuplicateFuturesCountOnceAsInPython(t *testing.T) {
	var py struct {
		AsCompleted []string `json:"as_completed"`
		Again       []string `json:"again"`
		Done        int      `json:"done"`
		NotDone     int      `json:"not_done"`
		Done2       int      `json:"done2"`
		NotDone2    int      `json:"not_done2"`
	}
	cpythontest.Run(t, `
import json, threading
from concurrent.futures import Future, as_completed, wait
a, b, c = Future(), Future(), Future()
threading.Timer(0.3, a.set_result, ("a",)).start()
threading.Timer(0.05, b.set_result, ("b",)).start()
order = [f.result() for f in as_completed([a, b, a])]
again = [f.result() for f in as_completed([a, a])]
done, not_done = wait([a, b, a, b])
done2, not_done2 = wait([c, a, c], timeout=0)
print(json.dumps({"as_completed": order, "again": again, "done": len(done), "not_done": len(not_done),
                  "done2": len(done2), "not_done2": len(not_done2)}))
`, &py)

	ctx := gctx(t)
	a, b, c := newFuture[string](ctx), newFuture[string](ctx), newFuture[string](ctx)
	time.AfterFunc(300*time.Millisecond, func() { a.complete("a", nil) })
	time.AfterFunc(50*time.Millisecond, func() { b.complete("b", nil) })
	results := func(fs []*Future[string]) []string {
		var out []string
		for f, err := range AsCompleted(ctx, fs) {
			if err != nil {
				t.Fatal(err)
			}
			v, _ := f.Result(ctx)
			out = append(out, v)
		}
		return out
	}
	order := results([]*Future[string]{a, b, a})
	again := results([]*Future[string]{a, a})
	if !slices.Equal(order, py.AsCompleted) || !slices.Equal(again, py.Again) {
		t.Errorf("AsCompleted: trident %v and %v, CPython %v and %v", order, again, py.AsCompleted, py.Again)
	}
	done, notDone, err := Wait(ctx, []*Future[string]{a, b, a, b}, AllCompleted)
	if err != nil || len(done) != py.Done || len(notDone) != py.NotDone || !slices.Equal(done, []*Future[string]{a, b}) {
		t.Errorf("Wait: trident %d done, %d not done (%v), CPython %d, %d", len(done), len(notDone), err, py.Done, py.NotDone)
	}
	expired, cancel := context.WithCancel(ctx)
	cancel()
	done, notDone, _ = Wait(expired, []*Future[string]{c, a, c}, AllCompleted)
	if len(done) != py.Done2 || len(notDone) != py.NotDone2 {
		t.Errorf("Wait with a pending future given twice: trident %d done, %d not done, CPython %d, %d", len(done), len(notDone), py.Done2, py.NotDone2)
	}
}

// uncomparable is a Waitable whose values cannot be compared with ==.
type uncomparable struct {
	*Future[int]
	tags []string
}

// Repeats are dropped from long inputs too (a set, not a scan), and
// waitables that cannot be compared are all kept rather than panicking.
func TestDistinctLongAndUncomparable(t *testing.T) {
	fs := pendings(20)
	long := append(slices.Clone(fs), fs[3], fs[19], fs[0])
	for _, f := range fs {
		f.complete(1, nil)
	}
	done, notDone, err := Wait(gctx(t), long, AllCompleted)
	if err != nil || !slices.Equal(done, fs) || len(notDone) != 0 {
		t.Fatalf("Wait over 23 with 3 repeats: %d done, %d not done, %v", len(done), len(notDone), err)
	}
	n := 0
	for range AsCompleted(gctx(t), long) {
		n++
	}
	if n != 20 {
		t.Fatalf("AsCompleted over 23 with 3 repeats yielded %d", n)
	}
	u := uncomparable{Future: fs[0], tags: []string{"a"}}
	done2, _, err := Wait(gctx(t), []uncomparable{u, u}, AllCompleted)
	if err != nil || len(done2) != 2 {
		t.Fatalf("uncomparable waitables: %d done, %v", len(done2), err)
	}
	anys := []Waitable{fs[1], u, fs[1]}
	done3, _, err := Wait(gctx(t), anys, AllCompleted)
	if err != nil || len(done3) != 2 {
		t.Fatalf("mixed waitables: %d done, %v", len(done3), err)
	}
}
