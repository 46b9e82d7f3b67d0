package main

import (
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// TestRunRQAnchor runs the RQ anchor on a few jobs when redis-server and an
// rq-capable python3 are installed, and checks the skip note otherwise.
func TestRunRQAnchor(t *testing.T) {
	cfg := Config{Quick: true, Python: findPython()}
	row, note, err := runRQAnchor(cfg, 300)
	if err != nil {
		t.Fatal(err)
	}
	if row == nil {
		if !strings.Contains(note, "skipped") || !strings.Contains(note, "apt-get install") {
			t.Fatalf("no row and a note without the reason or the install hint: %q", note)
		}
		t.Skip(note)
	}
	if row.Name != "rq-end-to-end-anchor" || row.NsPerTask <= 0 || row.Extra["jobs_per_s"] <= 0 {
		t.Fatalf("bad row %+v", row)
	}
	t.Logf("%.0f ns/job, %+v; %s; note: %s", row.NsPerTask, row.Extra, row.Note, note)
	// No redis-server or python left behind: the test process has no
	// children, and no rq_jobs.py from a temp dir runs.
	for _, args := range [][]string{{"-P", strconv.Itoa(os.Getpid())}, {"-f", "trident-bench-rq.*/rq_jobs.py"}} {
		if out, _ := exec.Command("pgrep", append([]string{"-a"}, args...)...).Output(); len(out) > 0 {
			t.Fatalf("processes left running: %s", out)
		}
	}
}

// TestRunRQAnchorSkips: without redis-server the anchor is a note with the
// install command, not an error, so `go run . all --quick` passes on CI.
func TestRunRQAnchorSkips(t *testing.T) {
	saved := redisServerPaths
	defer func() { redisServerPaths = saved }()
	redisServerPaths = []string{"/nonexistent/redis-server"}
	row, note, err := runRQAnchor(Config{Quick: true, Python: findPython()}, 300)
	if err != nil || row != nil {
		t.Fatalf("got row %v, err %v; want a skip note", row, err)
	}
	if !strings.Contains(note, "no redis-server") || !strings.Contains(note, rqInstallHint) {
		t.Fatalf("skip note %q lacks the reason or %q", note, rqInstallHint)
	}
	t.Log(note)
}
