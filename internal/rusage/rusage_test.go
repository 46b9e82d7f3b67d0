package rusage

import (
	"os/exec"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestThreadCountsBusyLoopNotSleep(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	a, err := Thread()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	b, err := Thread()
	if err != nil {
		t.Fatal(err)
	}
	if slept := b.Sub(a).CPU(); slept > 40*time.Millisecond {
		t.Fatalf("sleeping 50ms cost %v of thread CPU", slept)
	}
	deadline := time.Now().Add(100 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	c, err := Thread()
	if err != nil {
		t.Fatal(err)
	}
	if busy := c.Sub(b).CPU(); busy <= 0 {
		t.Fatalf("a 100ms busy loop cost %v of thread CPU (x=%d)", busy, x)
	}
}

func TestFromProcessState(t *testing.T) {
	if FromProcessState(nil) != (Usage{}) {
		t.Fatal("nil state must give zero usage")
	}
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Skip("sh not usable:", err)
	}
	u := FromProcessState(cmd.ProcessState)
	if u.CPU() <= 0 {
		t.Fatalf("a shell loop used no CPU: %+v", u)
	}
	if u.MaxRSSKB <= 0 {
		t.Fatalf("no max RSS: %+v", u)
	}
	s := u.Add(u)
	if s.CPU() != 2*u.CPU() || s.MaxRSSKB != u.MaxRSSKB {
		t.Fatalf("Add: %+v", s)
	}
}

func TestSelfAndChildren(t *testing.T) {
	before, err := Children()
	if err != nil {
		t.Fatal(err)
	}
	// A child that burns CPU: its time must appear in Children once waited for.
	cmd := exec.Command("sh", "-c", "i=0; while [ $i -lt 100000 ]; do i=$((i+1)); done")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	after, err := Children()
	if err != nil {
		t.Fatal(err)
	}
	if after.CPU() <= before.CPU() {
		t.Fatalf("children CPU did not grow: before %v, after %v", before.CPU(), after.CPU())
	}
	self, err := Self()
	if err != nil {
		t.Fatal(err)
	}
	if self.CPU() <= 0 || self.MaxRSSKB <= 0 {
		t.Fatalf("Self() = %+v: a running test process has used CPU and memory", self)
	}
}
