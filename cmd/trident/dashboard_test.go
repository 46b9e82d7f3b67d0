package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The dashboard refuses an anonymous non-loopback bind before it connects to
// anything, with the server's wording; with a cluster it says plainly that
// the job store is not wired.
func TestClusterDashboardRefusals(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":4280"} {
		_, errOut, code := runTrident(t, "", "cluster", "dashboard", "--addr", addr, "--cluster", "nats://127.0.0.1:1")
		if code != 1 || !strings.Contains(errOut, "refusing anonymous access on a non-loopback address") || !strings.Contains(errOut, addr) {
			t.Fatalf("--addr %s: exit %d err %q", addr, code, errOut)
		}
	}
	_, errOut, code := runTrident(t, "", "cluster", "dashboard", "--addr", "0.0.0.0:0", "--dashboard-user", "ops", "--cluster", "nats://127.0.0.1:1")
	if code != 1 || !strings.Contains(errOut, "password") {
		t.Fatalf("a user without a password: exit %d err %q", code, errOut)
	}
	_, errOut, code = runTrident(t, "", "cluster", "dashboard", "--addr", "127.0.0.1:0")
	if code == 0 || !strings.Contains(errOut, "--cluster") {
		t.Fatalf("no --cluster: exit %d err %q", code, errOut)
	}
	_, errOut, code = runTrident(t, "", "cluster", "dashboard", "--demo", "10", "--cluster", "nats://127.0.0.1:1")
	if code == 0 || !strings.Contains(errOut, "--demo") {
		t.Fatalf("--demo with --cluster: exit %d err %q", code, errOut)
	}
}

// With --cluster the page shows the cluster's durable jobs: a job enqueued
// with `trident enqueue` appears in the page's API, and finishes there once
// a `trident job worker` runs it.
func TestClusterDashboardShowsClusterJobs(t *testing.T) {
	url := startJobWorkerProc(t)
	page := startDashboard(t, "--cluster", url, "--addr", "127.0.0.1:0")
	out, errOut, code := runTrident(t, "", "enqueue", "--cluster", url, "--", "echo", "from the page")
	if code != 0 {
		t.Fatalf("enqueue: exit %d %s", code, errOut)
	}
	id := strings.TrimSpace(out)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(page + "api/jobs/" + id)
		if err != nil {
			t.Fatal(err)
		}
		var j struct {
			State  string `json:"state"`
			Result string `json:"result"`
		}
		err = json.NewDecoder(resp.Body).Decode(&j)
		resp.Body.Close()
		if err == nil && j.State == "finished" {
			if !strings.Contains(j.Result, "ExitCode") {
				t.Errorf("finished job's result %q does not show the command's result", j.Result)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s on the page: %d %+v %v after 30 s, want finished", id, resp.StatusCode, j, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startDashboard runs `trident cluster dashboard args...` and returns the
// page's URL; the process gets SIGTERM at the end of the test and must exit 0.
func startDashboard(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(tridentBin, append([]string{"cluster", "dashboard"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		if sc.Scan() {
			lines <- sc.Text()
		}
		_, _ = io.Copy(io.Discard, stdout)
		done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("dashboard exit after SIGTERM: %v\n%s", err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("dashboard did not stop on SIGTERM")
			<-done
		}
	})
	select {
	case line := <-lines:
		i := strings.Index(line, "http://")
		if i < 0 {
			t.Fatalf("dashboard said %q", line)
		}
		return line[i:]
	case err := <-done:
		t.Fatalf("dashboard ended: %v\n%s", err, stderr.String())
	case <-time.After(60 * time.Second):
		t.Fatal("dashboard did not start")
	}
	return ""
}

// --demo serves the page with made-up jobs that move along, and stops on
// SIGTERM even with a page's event stream open.
func TestClusterDashboardDemo(t *testing.T) {
	url := startDashboard(t, "--demo", "1000", "--addr", "127.0.0.1:0", "--refresh", "50ms")
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "static/app.js") {
		t.Fatalf("GET %s: %d %.200s", url, resp.StatusCode, page)
	}
	var p struct {
		Total int `json:"total"`
		Jobs  []struct {
			ID    string `json:"id"`
			State string `json:"state"`
		} `json:"jobs"`
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url + "api/jobs?limit=5")
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&p)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p.Total > 1000 { // the demo enqueues new jobs
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo has %d jobs after 20 s, want new ones beyond 1000", p.Total)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// An open event stream does not hold the shutdown up.
	ev, err := http.Get(url + "api/events")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ev.Body.Close() })
	if line, err := bufio.NewReader(ev.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "data: ") {
		t.Fatalf("event stream: %q %v", line, err)
	}
}
