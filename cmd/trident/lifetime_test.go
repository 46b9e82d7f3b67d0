package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Tests that no process of a job's tree outlives the trident that owns it:
// jobs leave a grandchild that ignores SIGTERM in the job's process group and
// one that leaves the group with setsid (also ignoring SIGTERM); then trident
// (or the worker) is killed, interrupted or hits --timeout, and after a
// second not one process carrying the job's marker may be left.

// stubbornJob writes a job script and returns a job command running it.
// Its tree holds six processes: the job's shell and its foreground sleep, a
// subshell and its sleep that ignore SIGTERM, and a setsid'd shell and its
// sleep that ignore SIGTERM too. Every one of them has TRIDENT_TREE_MARK=mark
// in its environment. With {} == "quick", the job just sleeps 0.5 s instead.
func stubbornJob(t *testing.T, mark string) string {
	script := filepath.Join(t.TempDir(), "stubborn.sh")
	err := os.WriteFile(script, []byte(`[ "$1" = quick ] && exec sleep 0.5
(trap '' TERM; sleep 60; :) &
setsid sh -c "trap '' TERM; sleep 60; :" &
sleep 60
`), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	return "env TRIDENT_TREE_MARK=" + mark + " sh " + script + " {}"
}

// treeProcs lists the live processes (not zombies) whose environment holds
// TRIDENT_TREE_MARK=mark.
func treeProcs(t *testing.T, mark string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skip("no /proc")
	}
	want := []byte("TRIDENT_TREE_MARK=" + mark + "\x00")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil || !bytes.Contains(env, want) {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(st, ')'); i > 0 && i+2 < len(st) && st[i+2] == 'Z' {
				continue
			}
		}
		pids = append(pids, pid)
	}
	return pids
}

// newTreeMark returns a marker unique to this test run; whatever carries it
// is SIGKILLed when the test ends, so a failing test leaves nothing behind.
func newTreeMark(t *testing.T) string {
	mark := fmt.Sprintf("m%d-%d", os.Getpid(), time.Now().UnixNano())
	t.Cleanup(func() {
		for _, pid := range treeProcs(t, mark) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	return mark
}

// waitTreeProcs waits until at least n processes carry mark.
func waitTreeProcs(t *testing.T, mark string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for len(treeProcs(t, mark)) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %d job processes started, want %d", len(treeProcs(t, mark)), n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// checkTreeGone checks, a second after the owner's end, that no process of
// the jobs' trees is left, and reports how long the clean-up took.
func checkTreeGone(t *testing.T, mark string, since time.Time) {
	t.Helper()
	deadline := since.Add(time.Second)
	for {
		left := treeProcs(t, mark)
		if len(left) == 0 {
			t.Logf("all job processes gone %v after the owner ended", time.Since(since).Round(time.Millisecond))
			return
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, pid := range left {
				cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
				desc = append(desc, fmt.Sprintf("%d %q", pid, bytes.ReplaceAll(cmdline, []byte{0}, []byte{' '})))
			}
			t.Fatalf("%d job process(es) left 1s after the owner ended:\n%s", len(left), strings.Join(desc, "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startRun starts `trident run` with args in the background; the returned
// channel gets its exit once.
func startRun(t *testing.T, args ...string) (*exec.Cmd, *bytes.Buffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(tridentBin, append([]string{"run"}, args...)...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	finished := make(chan struct{})
	go func() { done <- cmd.Wait(); close(finished) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-finished
	})
	return cmd, &errb, done
}

func waitExited(t *testing.T, done <-chan error, errb *bytes.Buffer) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("trident did not end; stderr: %s", errb)
	}
	return nil
}

// The process of every job (6 per job here) must be gone within a second of a
// kill -9 of trident run.
func TestRunKilledLeavesNoJobProcess(t *testing.T) {
	mark := newTreeMark(t)
	cmd, _, done := startRun(t, "-j4", stubbornJob(t, mark), ":::", "1", "2", "3", "4")
	waitTreeProcs(t, mark, 4*6)
	cmd.Process.Kill()
	<-done
	checkTreeGone(t, mark, time.Now())
}

// On SIGTERM, the jobs' groups get SIGTERM and, after --grace, SIGKILL, even
// though each job's shell dies at the SIGTERM; the setsid'd processes are
// killed when the run ends.
func TestRunTerminatedKillsStubbornGrandchildren(t *testing.T) {
	mark := newTreeMark(t)
	cmd, errb, done := startRun(t, "-j3", "--grace", "300ms", stubbornJob(t, mark), ":::", "1", "2", "3")
	waitTreeProcs(t, mark, 3*6)
	cmd.Process.Signal(syscall.SIGTERM)
	err := waitExited(t, done, errb)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 143 {
		t.Fatalf("exit %v, want 143; stderr %s", err, errb)
	}
	checkTreeGone(t, mark, time.Now())
}

// A job hitting --timeout has its group killed after --grace even though its
// shell exits at the SIGTERM.
func TestRunTimeoutKillsStubbornGrandchildren(t *testing.T) {
	mark := newTreeMark(t)
	_, errb, done := startRun(t, "-j2", "--timeout", "1s", "--grace", "300ms", stubbornJob(t, mark), ":::", "1", "2")
	err := waitExited(t, done, errb)
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 2 {
		t.Fatalf("exit %v, want 2 (both jobs timed out); stderr %s", err, errb)
	}
	checkTreeGone(t, mark, time.Now())
}

// A stopped job's group is killed after --grace while the run goes on: a
// grandchild ignoring SIGTERM does not live on until the run ends. (The
// setsid'd processes, out of the group, are killed when the run ends: the
// tests above check that.)
func TestRunTimeoutKillsGroupDuringRun(t *testing.T) {
	mark := newTreeMark(t)
	// One slot: the stubborn job times out at 1 s, its group is due for
	// SIGKILL at 1.2 s; then six quick jobs keep the run going until about 4 s.
	_, errb, done := startRun(t, "-j1", "--timeout", "1s", "--grace", "200ms", stubbornJob(t, mark),
		":::", "stub", "quick", "quick", "quick", "quick", "quick", "quick")
	waitTreeProcs(t, mark, 6)
	groups := map[int]bool{} // the stubborn job's group (not the setsid'd one's)
	for _, pid := range treeProcs(t, mark) {
		if pgid, sid := procGroup(pid); pgid > 0 && pgid != sid {
			groups[pgid] = true
		}
	}
	if len(groups) != 1 {
		t.Fatalf("job processes in %d groups, want 1: %v", len(groups), groups)
	}
	time.Sleep(2500 * time.Millisecond)
	select {
	case err := <-done:
		t.Fatalf("run ended early: %v; stderr %s", err, errb)
	default:
	}
	left := 0
	for _, pid := range treeProcs(t, mark) {
		if pgid, _ := procGroup(pid); groups[pgid] {
			left++
		}
	}
	if left > 0 {
		t.Fatalf("%d process(es) of the timed-out job's group still run 1.5 s after its timeout", left)
	}
	if err := waitExited(t, done, errb); err == nil || !strings.Contains(errb.String(), "timed out") {
		t.Fatalf("exit %v, stderr %s", err, errb)
	}
}

// kill -9 of a trident worker kills the jobs it runs (their whole trees): the
// cluster redelivers them, so a survivor would run twice at once.
func TestWorkerKilledLeavesNoJobProcess(t *testing.T) {
	url, workers := startClusterWorkers(t, 1, "-j", "2", "--ack-wait", "30s")
	mark := newTreeMark(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := exec.CommandContext(ctx, tridentBin, "run", "--cluster", url, stubbornJob(t, mark), ":::", "1", "2")
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Wait()
	defer cancel()
	waitTreeProcs(t, mark, 2*6)
	workers[0].Process.Kill()
	waitPidGone(t, workers[0].Process.Pid)
	checkTreeGone(t, mark, time.Now())
}

// SIGTERM of a trident worker kills its jobs after --grace, setsid'd
// grandchildren included.
func TestWorkerTerminatedLeavesNoJobProcess(t *testing.T) {
	url, workers := startClusterWorkers(t, 1, "-j", "2", "--grace", "300ms")
	mark := newTreeMark(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sub := exec.CommandContext(ctx, tridentBin, "run", "--cluster", url, stubbornJob(t, mark), ":::", "1", "2")
	if err := sub.Start(); err != nil {
		t.Fatal(err)
	}
	defer sub.Wait()
	defer cancel()
	waitTreeProcs(t, mark, 2*6)
	workers[0].Process.Signal(syscall.SIGTERM)
	waitPidGone(t, workers[0].Process.Pid)
	checkTreeGone(t, mark, time.Now())
}

// waitPidGone waits until pid (reaped by another goroutine) has ended.
func waitPidGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("process %d did not end", pid)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// procGroup returns the process group and session of pid (0s when gone).
func procGroup(pid int) (pgid, sid int) {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	i := bytes.LastIndexByte(st, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(st[i+1:])) // state ppid pgrp session ...
	if len(f) < 4 {
		return 0, 0
	}
	pgid, _ = strconv.Atoi(f[2])
	sid, _ = strconv.Atoi(f[3])
	return pgid, sid
}
