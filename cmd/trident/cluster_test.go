package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/trident-go/trident/cluster"
	"github.com/trident-go/trident/runner"
)

// startClusterWorkers starts an embedded server in the test process and n
// `trident worker` processes; all are stopped when the test ends.
func startClusterWorkers(t *testing.T, n int, args ...string) (string, []*exec.Cmd) {
	t.Helper()
	s, err := cluster.StartServer(context.Background(), cluster.ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	var cmds []*exec.Cmd
	for i := range n {
		cmd := exec.Command(tridentBin, append([]string{"worker", "--cluster", s.URL(), "--name", "w" + string(rune('1'+i))}, args...)...)
		var errb bytes.Buffer
		cmd.Stderr = &errb
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, cmd)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		t.Cleanup(func() {
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				cmd.Process.Kill()
				<-done
				t.Errorf("worker did not stop on SIGTERM; stderr: %s", errb.String())
			}
		})
	}
	return s.URL(), cmds
}

func TestClusterRunEndToEnd(t *testing.T) {
	url, _ := startClusterWorkers(t, 2, "-j", "2")
	dir := t.TempDir()
	joblog := filepath.Join(dir, "log")

	out, errOut, code := runTrident(t, "", "run", "--cluster", url, "-k", "--joblog", joblog, "echo job {}; echo e{} >&2", ":::", "a", "b", "c", "d")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	if out != "job a\njob b\njob c\njob d\n" {
		t.Fatalf("stdout %q", out)
	}
	for _, e := range []string{"ea", "eb", "ec", "ed"} {
		if !strings.Contains(errOut, e) {
			t.Fatalf("stderr %q lacks %s", errOut, e)
		}
	}
	b, err := os.ReadFile(joblog)
	if err != nil {
		t.Fatal(err)
	}
	es, err := runner.ReadJoblog(bytes.NewReader(b))
	if err != nil || len(es) != 4 {
		t.Fatalf("joblog %q: %v", b, err)
	}
	var seqs []int
	for _, e := range es {
		seqs = append(seqs, e.Seq)
		if e.Host != "w1" && e.Host != "w2" || e.Exitval != 0 {
			t.Fatalf("joblog entry %+v", e)
		}
	}
	sort.Ints(seqs)
	if seqs[0] != 1 || seqs[3] != 4 {
		t.Fatalf("joblog seqs %v", seqs)
	}

	// Failures: exit status counts failed jobs; retries rerun them.
	_, _, code = runTrident(t, "", "run", "--cluster", url, "--joblog", joblog, "exit {}", ":::", "0", "1", "2", "3")
	if code != 3 {
		t.Fatalf("exit %d, want 3 failed jobs", code)
	}
	// --resume-failed reruns only the failed ones (they fail again).
	out, _, code = runTrident(t, "", "run", "--cluster", url, "--joblog", joblog, "--resume-failed", "echo ran {}; exit {}", ":::", "0", "1", "2", "3")
	if code != 3 || strings.Contains(out, "ran 0") || !strings.Contains(out, "ran 3") {
		t.Fatalf("resume-failed: exit %d out %q", code, out)
	}
	// --resume skips everything in the joblog.
	out, _, code = runTrident(t, "", "run", "--cluster", url, "--joblog", joblog, "--resume", "echo ran {}", ":::", "0", "1", "2", "3", "4")
	if code != 0 || out != "ran 4\n" {
		t.Fatalf("resume: exit %d out %q", code, out)
	}
	// Retries: a job failing on its first attempt succeeds on the second.
	marker := filepath.Join(dir, "once")
	out, errOut, code = runTrident(t, "", "run", "--cluster", url, "--retries", "2",
		"if [ -e "+marker+"{} ]; then echo second; else touch "+marker+"{}; exit 1; fi", ":::", "x")
	if code != 0 || out != "second\n" {
		t.Fatalf("retries: exit %d out %q err %q", code, out, errOut)
	}
	// --timeout kills the job on the worker.
	_, errOut, code = runTrident(t, "", "run", "--cluster", url, "--timeout", "300ms", "sleep 30", ":::", "1")
	if code != 1 || !strings.Contains(errOut, "deadline") {
		t.Fatalf("timeout: exit %d err %q", code, errOut)
	}

	// --halt soon,fail=1 with one job in flight at a time: the second job
	// fails, the rest never start, the exit status is that job's.
	haltLog := filepath.Join(dir, "halt")
	out, errOut, code = runTrident(t, "", "run", "--cluster", url, "-j", "1", "--halt", "soon,fail=1", "--joblog", haltLog,
		"echo ran {}; exit {}", ":::", "0", "3", "0", "0")
	if code != 3 || out != "ran 0\nran 3\n" || !strings.Contains(errOut, "--halt") {
		t.Fatalf("halt: exit %d out %q err %q", code, out, errOut)
	}
	if b, err := os.ReadFile(haltLog); err != nil || strings.Count(string(b), "\n") != 3 {
		t.Fatalf("halt joblog %q: %v", b, err)
	}

	out, errOut, code = runTrident(t, "", "cluster", "status", "--cluster", url)
	if code != 0 || !strings.Contains(out, "2 worker(s)") || !strings.Contains(out, "w1") || !strings.Contains(out, "0 waiting") {
		t.Fatalf("status: exit %d out %q err %q", code, out, errOut)
	}
}

func TestClusterCLIRefusals(t *testing.T) {
	// Anonymous worker against a non-loopback address.
	_, errOut, code := runTrident(t, "", "worker", "--cluster", "nats://10.255.255.1:4222", "--connect-timeout", "300ms")
	if code == 0 || !(strings.Contains(errOut, "unreachable") || strings.Contains(errOut, "anonymous")) {
		t.Fatalf("exit %d err %q", code, errOut)
	}
	// Unreachable server: a clear error, quickly.
	_, errOut, code = runTrident(t, "", "run", "--cluster", "nats://127.0.0.1:1", "echo", ":::", "x")
	if code != 255 || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("run on unreachable: exit %d err %q", code, errOut)
	}
	_, errOut, code = runTrident(t, "", "cluster", "status", "--cluster", "nats://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "unreachable") {
		t.Fatalf("status on unreachable: exit %d err %q", code, errOut)
	}
	// An embedded server on all interfaces without credentials.
	_, errOut, code = runTrident(t, "", "cluster", "server", "--listen", "0.0.0.0:0")
	if code == 0 || !strings.Contains(errOut, "anonymous") {
		t.Fatalf("server on 0.0.0.0: exit %d err %q", code, errOut)
	}
	// Wrong credentials.
	s, err := cluster.StartServer(context.Background(), cluster.ServerOptions{User: "u", Password: "right"})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown()
	_, errOut, code = runTrident(t, "", "cluster", "status", "--cluster", s.URL(), "--user", "u", "--password", "wrong")
	if code != 1 || !strings.Contains(errOut, "refused the credentials") || strings.Contains(errOut, "wrong") {
		t.Fatalf("wrong credentials: exit %d err %q", code, errOut)
	}
}

// A worker SIGKILLed in the middle of a run: every job still runs to the
// end, each appears once in the output and the joblog, and the redelivery
// is reported.
func TestClusterRunSurvivesKilledWorker(t *testing.T) {
	url, workers := startClusterWorkers(t, 2, "-j", "4", "--ack-wait", "1s")
	conn, err := cluster.Connect(context.Background(), cluster.ConnectOptions{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	killed := make(chan string, 1)
	ctx, stopPolling := context.WithTimeout(context.Background(), 60*time.Second)
	defer stopPolling()
	go func() {
		for ctx.Err() == nil {
			st, err := cluster.GetStatus(ctx, conn, "", 50*time.Millisecond)
			if err == nil {
				for _, w := range st.Workers {
					if w.Name == "w1" && w.Done >= 40 && w.Running > 0 {
						workers[0].Process.Kill()
						killed <- fmt.Sprintf("killed w1 after %d jobs with %d running", w.Done, w.Running)
						return
					}
				}
			}
		}
		killed <- "never killed"
	}()
	const n = 400
	var args []string
	for i := range n {
		args = append(args, strconv.Itoa(i))
	}
	joblog := filepath.Join(t.TempDir(), "log")
	out, errOut, code := runTrident(t, "", append([]string{"run", "--cluster", url, "--joblog", joblog, "sleep 0.02; echo {}", ":::"}, args...)...)
	stopPolling()
	msg := <-killed
	t.Log(msg)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	lines := strings.Fields(out)
	seen := map[string]int{}
	for _, l := range lines {
		seen[l]++
	}
	if len(lines) != n || len(seen) != n {
		t.Fatalf("%d output lines, %d distinct, want %d", len(lines), len(seen), n)
	}
	b, _ := os.ReadFile(joblog)
	es, err := runner.ReadJoblog(bytes.NewReader(b))
	if err != nil || len(es) != n {
		t.Fatalf("joblog: %d entries, %v", len(es), err)
	}
	if strings.HasPrefix(msg, "killed") && !strings.Contains(errOut, "redelivered") {
		t.Fatalf("no redelivery reported after killing a busy worker: %q", errOut)
	}
	t.Logf("stderr: %s", errOut)
}

// trident cluster server, as in the two-machine recipe: a password-protected
// server, a worker and a run, all separate processes.
func TestClusterServerCommand(t *testing.T) {
	srv := exec.Command(tridentBin, "cluster", "server", "--listen", "127.0.0.1:0", "--data", t.TempDir())
	srv.Env = append(os.Environ(), "TRIDENT_CLUSTER_USER=ops", "TRIDENT_CLUSTER_PASSWORD=pw")
	stdout, err := srv.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	lineCh := make(chan string, 1)
	go func() {
		buf := make([]byte, 512)
		n, _ := stdout.Read(buf)
		lineCh <- string(buf[:n])
		io.Copy(io.Discard, stdout)
		srv.Wait()
		close(done)
	}()
	defer func() {
		srv.Process.Signal(syscall.SIGTERM)
		<-done
	}()
	var url string
	select {
	case line := <-lineCh:
		i := strings.Index(line, "nats://")
		if i < 0 {
			t.Fatalf("server said %q", line)
		}
		url = strings.TrimSpace(line[i:])
	case <-time.After(30 * time.Second):
		t.Fatal("server did not start")
	}
	auth := strings.Replace(url, "nats://", "nats://ops:pw@", 1)
	w := exec.Command(tridentBin, "worker", "--cluster", url, "--user", "ops", "--password", "pw", "-j", "2")
	if err := w.Start(); err != nil {
		t.Fatal(err)
	}
	wdone := make(chan struct{})
	go func() { w.Wait(); close(wdone) }()
	defer func() {
		w.Process.Signal(syscall.SIGTERM)
		<-wdone
	}()
	out, errOut, code := runTrident(t, "", "run", "--cluster", auth, "-k", "echo {}", ":::", "x", "y")
	if code != 0 || out != "x\ny\n" {
		t.Fatalf("run via cluster server: exit %d out %q err %q", code, out, errOut)
	}
	out, _, code = runTrident(t, "", "cluster", "status", "--cluster", url, "--user", "ops", "--password", "pw", "--json")
	if code != 0 || !strings.Contains(out, `"workers"`) || !strings.Contains(out, `"done": 2`) {
		t.Fatalf("status: exit %d out %q", code, out)
	}
}
