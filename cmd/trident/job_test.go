package main

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/cluster"
)

// startJobWorkerProc starts an embedded server in the test process and one
// `trident job worker` process.
func startJobWorkerProc(t *testing.T) string {
	t.Helper()
	s, err := cluster.StartServer(context.Background(), cluster.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	cmd := exec.Command(tridentBin, "job", "worker", "--cluster", s.URL(), "-j", "2", "--name", "jw")
	var errb bytes.Buffer
	cmd.Stderr = &errb
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
			t.Errorf("job worker did not stop on SIGTERM; stderr: %s", errb.String())
		}
	})
	return s.URL()
}

func TestJobCLIWalkAway(t *testing.T) {
	url := startJobWorkerProc(t)
	enqueue := func(args ...string) string {
		t.Helper()
		out, errOut, code := runTrident(t, "", append([]string{"enqueue", "--cluster", url}, args...)...)
		if code != 0 {
			t.Fatalf("enqueue %v: exit %d, %s", args, code, errOut)
		}
		return strings.TrimSpace(out)
	}
	ok := enqueue("--", "echo", "hello world")
	out, errOut, code := runTrident(t, "", "job", "result", "--cluster", url, "--wait", "--timeout", "20s", ok)
	if code != 0 || out != "hello world\n" {
		t.Fatalf("result: exit %d, %q, %q", code, out, errOut)
	}
	bad := enqueue("--", "echo oops >&2; exit 3")
	out, errOut, code = runTrident(t, "", "job", "result", "--cluster", url, "--wait", "--timeout", "20s", bad)
	if code != 3 || errOut != "oops\n" || out != "" {
		t.Fatalf("failing command's result: exit %d, %q, %q", code, out, errOut)
	}
	out, _, code = runTrident(t, "", "job", "show", "--cluster", url, bad)
	for _, want := range []string{"state     failed", "exit status  3", "stderr (end):\noops", "started  on jw"} {
		if code != 0 || !strings.Contains(strings.Join(strings.Fields(out), " "), strings.Join(strings.Fields(want), " ")) {
			t.Errorf("job show lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = runTrident(t, "", "job", "list", "--cluster", url, "--state", "failed")
	if !strings.Contains(out, bad) || strings.Contains(out, ok) {
		t.Errorf("job list --state failed:\n%s", out)
	}
	out, _, code = runTrident(t, "", "job", "requeue", "--cluster", url, "--all-failed")
	if code != 0 || out != "requeued 1 failed job(s)\n" {
		t.Errorf("requeue --all-failed: %d %q", code, out)
	}
	later := enqueue("--in", "1h", "--", "echo never")
	out, _, _ = runTrident(t, "", "job", "show", "--cluster", url, later)
	if !strings.Contains(out, "scheduled") {
		t.Errorf("--in 1h job:\n%s", out)
	}
	if _, errOut, code := runTrident(t, "", "job", "cancel", "--cluster", url, later); code != 0 {
		t.Errorf("cancel: %d %s", code, errOut)
	}
	_, errOut, code = runTrident(t, "", "job", "result", "--cluster", url, later)
	if code != 1 || !strings.Contains(errOut, "cancelled") {
		t.Errorf("result of a cancelled job: %d %q", code, errOut)
	}
	_, errOut, code = runTrident(t, "", "job", "cancel", "--cluster", url, later)
	if code != 1 || !strings.Contains(errOut, "wrong state") {
		t.Errorf("second cancel: %d %q", code, errOut)
	}
	// Bad input is named.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"enqueue", "--cluster", url, "--func", "f", "--arg", "{bad"}, "not valid JSON"},
		{[]string{"enqueue", "--cluster", url, "--in", "soon", "--", "true"}, `--in "soon"`},
		{[]string{"enqueue", "--cluster", url}, "give a command"},
		{[]string{"job", "list", "--cluster", url, "--state", "done"}, `unknown job state "done"`},
		{[]string{"job", "show", "--cluster", url, "nosuch"}, "job not found"},
		{[]string{"job", "schedule", "add", "--cluster", url, "x", "61 * * * *", "--", "true"}, "61 * * * *"},
	} {
		_, errOut, code := runTrident(t, "", c.args...)
		if code == 0 || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d, stderr %q, want it to name %q", c.args, code, errOut, c.want)
		}
	}
}
