package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// procBackend runs each job as sh -c COMMAND in its own process group with
// os/exec, as a remote worker would (cluster.RunCommand), and returns its
// output as bytes: a Backend other than the built-in local one.
type procBackend struct {
	running   atomic.Int32
	cancelled atomic.Int32
	mu        sync.Mutex
	pgids     []int
}

func (b *procBackend) RunJob(ctx context.Context, job JobSpec) JobEnd {
	b.running.Add(1)
	defer b.running.Add(-1)
	shell := job.Shell
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", job.Command)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Stdin = bytes.NewReader(job.Stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return JobEnd{Exitval: -1, Err: err}
	}
	b.mu.Lock()
	b.pgids = append(b.pgids, cmd.Process.Pid)
	b.mu.Unlock()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var err error
	select {
	case <-waited:
	case <-ctx.Done():
		b.cancelled.Add(1)
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-waited
		err = fmt.Errorf("killed: %w", context.Cause(ctx))
	}
	end := JobEnd{Exitval: cmd.ProcessState.ExitCode(), Stdout: out.Bytes(), Stderr: errb.Bytes(),
		Host: "w1", Start: start, Runtime: time.Since(start), Err: err}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		end.Signal = int(ws.Signal())
	}
	return end
}

// backendCase is one option set run through both backends.
type backendCase struct {
	name  string
	opts  Options
	jobs  func() JobSource
	files bool // compare the --results tree
}

func backendCases(t *testing.T) []backendCase {
	tmpl := func(w ...string) Template { return ParseTemplate(w) }
	tagTmpl, err := ParseTemplateWith([]string{"t{#}-{}"}, TemplateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var lines strings.Builder
	for i := range 200 {
		fmt.Fprintf(&lines, "line %d\n", i)
	}
	pipe := func() JobSource {
		src, err := NewPipeSource(PipeOptions{Input: strings.NewReader(lines.String()), Block: 300}, 2)
		if err != nil {
			t.Fatal(err)
		}
		return src
	}
	abc := func() JobSource { return jobs("a", "b c", "d", "e") }
	grouped, err := NewJobSource([]InputSpec{{Values: []string{"1", "2", "3", "4", "5"}}}, InputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	grouped.Close()
	return []backendCase{
		{name: "-k", opts: Options{Template: tmpl("echo {}; echo err{} >&2"), Slots: 3, KeepOrder: true}, jobs: abc},
		{name: "-k --tag", opts: Options{Template: tmpl("echo {}; echo x"), Slots: 2, KeepOrder: true, Tag: true}, jobs: abc},
		{name: "--tagstring", opts: Options{Template: tmpl("echo {}"), Slots: 2, KeepOrder: true, TagString: &tagTmpl}, jobs: abc},
		{name: "-v", opts: Options{Template: tmpl("echo {}"), Slots: 2, KeepOrder: true, Verbose: true}, jobs: abc},
		{name: "-j1 -u", opts: Options{Template: tmpl("echo {}"), Slots: 1, Ungroup: true}, jobs: abc},
		{name: "--line-buffer -j1", opts: Options{Template: tmpl("echo {}; echo {}"), Slots: 1, LineBuffer: true}, jobs: abc},
		{name: "failures", opts: Options{Template: tmpl("echo {}; exit {}"), Slots: 2, KeepOrder: true}, jobs: func() JobSource { return jobs("0", "3", "0", "4") }},
		{name: "--halt now,fail=1 -j1", opts: Options{Template: tmpl("echo {}; exit {}"), Slots: 1, Halt: Halt{When: HaltNow, Count: 1}},
			jobs: func() JobSource { return jobs("0", "3", "0", "4") }},
		{name: "--halt soon,success=50%", opts: Options{Template: tmpl("echo {}; exit {}"), Slots: 1, Halt: Halt{When: HaltSoon, OnSuccess: true, Percent: 50}},
			jobs: func() JobSource { return jobs("1", "0", "0", "1") }},
		{name: "--dry-run", opts: Options{Template: tmpl("echo {} {#} {%}"), Slots: 2, DryRun: true}, jobs: abc},
		{name: "--pipe -k", opts: Options{Template: tmpl("echo {#}; wc -l"), Slots: 2, KeepOrder: true, Piped: true}, jobs: pipe},
		{name: "-n2", opts: Options{Template: tmpl("echo"), Slots: 2, KeepOrder: true, Group: Grouping{MaxArgs: 2}},
			jobs: func() JobSource { return jobs("1", "2", "3", "4", "5") }},
		{name: "--results", opts: Options{Template: tmpl("echo out {}; echo err {} >&2"), Slots: 2, KeepOrder: true}, jobs: abc, files: true},
		{name: "--timeout", opts: Options{Template: tmpl("sleep {}; echo done {}"), Slots: 2, KeepOrder: true, Timeout: 300 * time.Millisecond},
			jobs: func() JobSource { return jobs("0", "30", "0") }},
		{name: "--retries", opts: Options{Template: tmpl("echo try {}; exit 1"), Slots: 1, Retries: 3}, jobs: func() JobSource { return jobs("a") }},
		{name: "--shell bash", opts: Options{Template: tmpl("echo $BASH_VERSINFO | tr -d 0-9; echo {}"), Slots: 1, Shell: "bash"}, jobs: abc},
	}
}

// runBoth runs c through the local backend and through procBackend.
type backendRun struct {
	sum            Summary
	out, errs, log string
	results        []string
}

func runBackendCase(t *testing.T, c backendCase, b Backend) backendRun {
	t.Helper()
	var out, errb syncBuf
	dir := t.TempDir()
	o := c.opts
	o.Stdout, o.Stderr, o.Backend, o.Grace = &out, &errb, b, 100*time.Millisecond
	o.Joblog = filepath.Join(dir, "log")
	if c.files {
		o.ResultsDir = filepath.Join(dir, "res")
	}
	sum, err := Run(context.Background(), o, c.jobs())
	if err != nil {
		t.Fatalf("%s: %v", c.name, err)
	}
	r := backendRun{sum: sum, out: out.String(), errs: errb.String()}
	if b, err := os.ReadFile(o.Joblog); err == nil {
		es, err := ReadJoblog(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: joblog: %v", c.name, err)
		}
		var ls []string
		for _, e := range es {
			ls = append(ls, fmt.Sprintf("%d %d %d %q", e.Seq, e.Exitval, e.Receive, e.Command))
		}
		sort.Strings(ls)
		r.log = strings.Join(ls, "\n")
	}
	if c.files {
		filepath.WalkDir(o.ResultsDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				b, _ := os.ReadFile(p)
				r.results = append(r.results, strings.TrimPrefix(p, o.ResultsDir)+"="+string(b))
			}
			return nil
		})
	}
	return r
}

// The same option sets give the same stdout, exit status, joblog (but for
// hosts and times) and --results through the built-in local backend and
// through another Backend.
func TestBackendsAgree(t *testing.T) {
	for _, c := range backendCases(t) {
		t.Run(c.name, func(t *testing.T) {
			local := runBackendCase(t, c, nil)
			pb := &procBackend{}
			remote := runBackendCase(t, c, pb)
			if local.out != remote.out {
				t.Errorf("stdout:\n local   %q\n backend %q", local.out, remote.out)
			}
			if local.sum != remote.sum {
				t.Errorf("summary:\n local   %+v\n backend %+v", local.sum, remote.sum)
			}
			if local.log != remote.log {
				t.Errorf("joblog:\n local   %s\n backend %s", local.log, remote.log)
			}
			if fmt.Sprint(local.results) != fmt.Sprint(remote.results) {
				t.Errorf("--results:\n local   %q\n backend %q", local.results, remote.results)
			}
			if c.opts.Timeout > 0 && (pb.cancelled.Load() != 1 || !strings.Contains(remote.errs, "timed out")) {
				t.Errorf("--timeout: %d job(s) cancelled, stderr %q", pb.cancelled.Load(), remote.errs)
			}
			if c.name == "-k" && sortLinesOf(local.errs) != sortLinesOf(remote.errs) {
				t.Errorf("stderr:\n local   %q\n backend %q", local.errs, remote.errs)
			}
		})
	}
}

func sortLinesOf(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// The joblog's Host is the backend's; --json carries it too.
func TestBackendHostInJoblogAndJSON(t *testing.T) {
	var out syncBuf
	log := filepath.Join(t.TempDir(), "log")
	_, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"echo"}), Slots: 1, JSON: true,
		Joblog: log, Stdout: &out, Backend: &procBackend{}}, jobs("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(log)
	es, err := ReadJoblog(bytes.NewReader(b))
	if err != nil || len(es) != 1 || es[0].Host != "w1" {
		t.Fatalf("joblog %q: %v", b, err)
	}
	if !strings.Contains(out.String(), `"host":"w1"`) || !strings.Contains(out.String(), `"stdout":"a\n"`) {
		t.Fatalf("json %q", out.String())
	}
}

// An interrupt cancels every running backend job (nothing is left running),
// Run returns soon, and the stopped jobs are not in the joblog.
func TestBackendInterruptCancelsJobs(t *testing.T) {
	pb := &procBackend{}
	log := filepath.Join(t.TempDir(), "log")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for pb.running.Load() < 3 {
			time.Sleep(5 * time.Millisecond)
		}
		cancel()
	}()
	t0 := time.Now()
	sum, err := Run(ctx, Options{Template: ParseTemplate([]string{"sleep"}), Slots: 3, Joblog: log, Backend: pb},
		jobs("30", "30", "30", "30"))
	if err != nil || !sum.Interrupted || sum.Unfinished != 3 || sum.Finished != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if d := time.Since(t0); d > 10*time.Second {
		t.Fatalf("Run took %v after the interrupt", d)
	}
	if pb.cancelled.Load() != 3 || pb.running.Load() != 0 {
		t.Fatalf("%d cancelled, %d still running", pb.cancelled.Load(), pb.running.Load())
	}
	pb.mu.Lock()
	defer pb.mu.Unlock()
	for _, pg := range pb.pgids {
		if n := liveInGroup(pg); n > 0 {
			t.Fatalf("%d process(es) of job group %d outlived the run", n, pg)
		}
	}
	b, _ := os.ReadFile(log)
	if strings.Count(string(b), "\n") != 1 {
		t.Fatalf("stopped jobs logged:\n%s", b)
	}
}

// -j auto with a Backend means --max-jobs jobs in flight.
func TestBackendSlots(t *testing.T) {
	pb := &procBackend{}
	var peak atomic.Int32
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := pb.running.Load(); n > peak.Load() {
				peak.Store(n)
			}
			time.Sleep(time.Millisecond)
		}
	}()
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"sleep 0.3; :"}), MaxJobs: 5, Backend: pb},
		jobs("1", "2", "3", "4", "5", "6", "7", "8"))
	close(done)
	if err != nil || sum.Finished != 8 {
		t.Fatalf("%+v %v", sum, err)
	}
	if p := peak.Load(); p != 5 {
		t.Fatalf("peak %d jobs in flight, want --max-jobs 5", p)
	}
}

// Options that describe this machine are refused with a Backend, naming the
// option.
func TestBackendRefusesLocalOptions(t *testing.T) {
	for name, o := range map[string]Options{
		"--load":    {MaxLoad: 2},
		"--memfree": {MemFree: 1 << 20},
		"--nice":    {Nice: 5},
	} {
		o.Template, o.Backend = ParseTemplate([]string{"echo"}), &procBackend{}
		_, err := Run(context.Background(), o, jobs("a"))
		if !errors.Is(err, ErrLocalOnly) || !strings.HasPrefix(err.Error(), name+":") {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// liveInGroup counts the processes of group pgid that are not zombies (a
// killed shell's child may be left as a zombie of this test process when it
// is a child subreaper).
func liveInGroup(pgid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(st, ')')
		f := strings.Fields(string(st[i+1:])) // state ppid pgrp ...
		if len(f) > 2 && f[2] == fmt.Sprint(pgid) && f[0] != "Z" {
			n++
		}
	}
	return n
}
