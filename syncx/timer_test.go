package syncx

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestAfterFuncNil(t *testing.T) {
	if tm, err := AfterFunc(time.Second, nil); err == nil || tm != nil {
		t.Fatalf("AfterFunc(nil) = %v, %v", tm, err)
	}
}

func TestTimerFires(t *testing.T) {
	var ran atomic.Int32
	tm, err := AfterFunc(time.Millisecond, func() { ran.Add(1) })
	if err != nil {
		t.Fatal(err)
	}
	if err := tm.Wait(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 1 {
		t.Fatalf("ran %d times", ran.Load())
	}
	if tm.Cancel() {
		t.Fatal("Cancel after firing returned true")
	}
}

func TestTimerCancelBeforeFiring(t *testing.T) {
	var ran atomic.Int32
	tm, _ := AfterFunc(time.Hour, func() { ran.Add(1) })
	if !tm.Cancel() {
		t.Fatal("Cancel of a pending timer returned false")
	}
	if tm.Cancel() {
		t.Fatal("second Cancel returned true")
	}
	if err := tm.Wait(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 0 {
		t.Fatal("cancelled function ran")
	}
}

func TestTimerWaitCtx(t *testing.T) {
	tm, _ := AfterFunc(time.Hour, func() {})
	defer tm.Cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Millisecond)
	defer cancel()
	if err := tm.Wait(ctx); err != context.DeadlineExceeded {
		t.Fatalf("Wait = %v", err)
	}
}

func TestTimerReset(t *testing.T) {
	var ran atomic.Int32
	tm, _ := AfterFunc(time.Hour, func() { ran.Add(1) })
	if !tm.Reset(time.Millisecond) {
		t.Fatal("Reset of a pending timer returned false")
	}
	if err := tm.Wait(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 1 {
		t.Fatalf("ran %d times after Reset", ran.Load())
	}
	// Re-arm after firing.
	if tm.Reset(time.Millisecond) {
		t.Fatal("Reset after firing returned true")
	}
	if err := tm.Wait(guardCtx(t)); err != nil {
		t.Fatal(err)
	}
	if ran.Load() != 2 {
		t.Fatalf("ran %d times after second arming", ran.Load())
	}
	// Re-arm after cancel.
	tm.Reset(time.Hour)
	tm.Cancel()
	tm.Reset(0)
	_ = tm.Wait(guardCtx(t))
	if ran.Load() != 3 {
		t.Fatalf("ran %d times, want 3", ran.Load())
	}
}

// TestTimerCancelRace races Cancel against the firing many times: Cancel
// must return true exactly when the function does not run.
func TestTimerCancelRace(t *testing.T) {
	var wg sync.WaitGroup
	var cancelled, fired atomic.Int32
	for i := range 2000 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ran atomic.Bool
			tm, _ := AfterFunc(time.Duration(i%50)*time.Microsecond, func() { ran.Store(true) })
			if i%7 == 0 {
				time.Sleep(time.Duration(i%30) * time.Microsecond)
			}
			stopped := tm.Cancel()
			_ = tm.Wait(context.Background())
			if stopped == ran.Load() {
				t.Errorf("Cancel=%v but ran=%v", stopped, ran.Load())
			}
			if stopped {
				cancelled.Add(1)
			} else {
				fired.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("cancelled %d, fired %d", cancelled.Load(), fired.Load())
}

// TestTimerResetRace: stale expiries of earlier schedules must never run the
// function early; with Reset to an hour, it must not run at all.
func TestTimerResetRace(t *testing.T) {
	var wg sync.WaitGroup
	for i := range 500 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ran atomic.Bool
			tm, _ := AfterFunc(time.Duration(i%20)*time.Microsecond, func() { ran.Store(true) })
			moved := tm.Reset(time.Hour)
			if moved {
				if !tm.Cancel() {
					t.Error("a run moved to an hour away could not be cancelled")
				}
				if ran.Load() {
					t.Error("function ran although Reset moved it")
				}
			} else {
				tm.Cancel() // the re-armed run
			}
			_ = tm.Wait(context.Background())
		}()
	}
	wg.Wait()
}
