package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/cluster"
)

// lockedBuffer is a bytes.Buffer safe for a process's writes and the
// test's reads at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startStalledRun starts trident run --cluster url with one job and a short
// stall delay; the process is interrupted when the test ends.
func startStalledRun(t *testing.T, url string) (*exec.Cmd, *lockedBuffer, chan struct{}) {
	t.Helper()
	cmd := exec.Command(tridentBin, "run", "--cluster", url, "echo {}", ":::", "x")
	cmd.Env = append(os.Environ(), "TRIDENT_CLUSTER_STALL_WARN=300ms")
	errb := &lockedBuffer{}
	cmd.Stderr = errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
		}
	})
	return cmd, errb, done
}

// waitFor waits (at most a generous guard) until the process's stderr
// contains want.
func waitFor(t *testing.T, errb *lockedBuffer, done chan struct{}, want string) {
	t.Helper()
	guard := time.After(30 * time.Second)
	for !strings.Contains(errb.String(), want) {
		select {
		case <-done:
			t.Fatalf("trident run ended before saying %q; stderr %q", want, errb.String())
		case <-guard:
			t.Fatalf("trident run did not say %q; stderr %q", want, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// trident run --cluster with no worker listening says so on stderr after
// the stall delay, keeps waiting, and runs the job once a worker comes.
func TestClusterRunSaysNoWorkerTakesJobs(t *testing.T) {
	s, err := cluster.StartServer(context.Background(), cluster.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	_, errb, done := startStalledRun(t, s.URL())
	waitFor(t, errb, done, "no worker has taken a job")
	if msg := errb.String(); !strings.Contains(msg, "no live worker runs command jobs") {
		t.Errorf("stderr %q does not say that no worker runs command jobs", msg)
	}
	select {
	case <-done:
		t.Fatalf("trident run gave up: %q", errb.String())
	default:
	}
	// A worker comes: the job runs and trident run ends well.
	w := exec.Command(tridentBin, "worker", "--cluster", s.URL(), "-j", "1")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	wdone := make(chan struct{})
	go func() { w.Wait(); close(wdone) }()
	defer func() { w.Process.Signal(syscall.SIGTERM); <-wdone }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("the job did not run once a worker came; stderr %q", errb.String())
	}
}

// trident run --cluster whose server goes away and does not come back says
// that it is unreachable and that it keeps retrying.
func TestClusterRunSaysServerUnreachable(t *testing.T) {
	s, err := cluster.StartServer(context.Background(), cluster.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, errb, done := startStalledRun(t, s.URL())
	waitFor(t, errb, done, "no worker has taken a job") // connected, job queued
	s.Shutdown()
	waitFor(t, errb, done, "unreachable")
	if msg := errb.String(); !strings.Contains(msg, "retrying") || !strings.Contains(msg, "127.0.0.1") {
		t.Errorf("stderr %q should name the server and say it retries", msg)
	}
}

// run --help tells where cluster jobs run and that no files travel.
func TestRunHelpExplainsClusterJobs(t *testing.T) {
	out, _, code := runTrident(t, "", "run", "--help")
	for _, want := range []string{"worker's working directory", "no files travel", "TRIDENT_CLUSTER_STALL_WARN"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("run --help (exit %d) lacks %q", code, want)
		}
	}
}
