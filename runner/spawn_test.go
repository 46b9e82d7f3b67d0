package runner

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
)

func openFDs(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(es)
}

// Many jobs writing stdout and stderr through the reused output files: every
// job's output is its own, whole and grouped, in both output orders, with
// outputs around the spill limit; no descriptor is left open afterwards.
func TestRunOutputFilesReused(t *testing.T) {
	before := openFDs(t)
	for _, keep := range []bool{false, true} {
		var vals []string
		var wantOut, wantErr []string
		for i := 0; i < 200; i++ {
			n := []int{0, 1, 100, 5000, 9000}[i%5] // spill limit below is 4096
			v := fmt.Sprintf("%d-%d", i, n)
			vals = append(vals, v)
			if n > 0 {
				wantOut = append(wantOut, v+":"+strings.Repeat("o", n))
			}
			wantErr = append(wantErr, "e"+v)
		}
		var out, errb syncBuf
		sum, err := Run(context.Background(), Options{
			Template: ParseTemplate([]string{`n={}; n=${n#*-}; [ "$n" -gt 0 ] && printf '%s:%s\n' {} "$(head -c "$n" /dev/zero | tr '\0' o)"; echo e{} >&2`}),
			Slots:    4, KeepOrder: keep, SpillLimit: 4096, Stdout: &out, Stderr: &errb}, jobs(vals...))
		if err != nil || sum.Finished != 200 || sum.Failed != 0 {
			t.Fatalf("keep=%v: %+v %v", keep, sum, err)
		}
		gotOut := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		gotErr := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		if !keep {
			sort.Strings(gotOut)
			sort.Strings(gotErr)
			sort.Strings(wantOut)
			sort.Strings(wantErr)
		}
		if strings.Join(gotOut, "\n") != strings.Join(wantOut, "\n") {
			t.Fatalf("keep=%v: stdout differs (%d lines, want %d)", keep, len(gotOut), len(wantOut))
		}
		if strings.Join(gotErr, "\n") != strings.Join(wantErr, "\n") {
			t.Fatalf("keep=%v: stderr differs:\n%q\nwant\n%q", keep, gotErr, wantErr)
		}
	}
	if after := openFDs(t); after != before {
		t.Fatalf("%d descriptors open before the runs, %d after", before, after)
	}
}

// A job that leaves a background process writing to its stdout ends with its
// own process (as in GNU parallel); the late output never shows up in
// another job's output, because files still held by a live process group are
// not reused.
func TestRunBackgroundWriterDoesNotLeak(t *testing.T) {
	var out, errb syncBuf
	// Job 1 leaves a process that writes 0.2 s later, while job 2 (same
	// slot, -j1) is still running.
	sum, err := Run(context.Background(), Options{
		Template: ParseTemplate([]string{"[ {#} = 1 ] && (sleep 0.2; echo late{#}) & sleep {}; echo early{#}"}),
		Slots:    1, Stdout: &out, Stderr: &errb}, jobs("0", "0.6"))
	if err != nil || sum.Finished != 2 || sum.Failed != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if got := out.String() + errb.String(); got != "early1\nearly2\n" {
		t.Fatalf("output %q", got)
	}
}

// Plain words run without a shell (argv[0] as typed, the path resolved);
// anything with shell syntax, a builtin, or an explicit shell goes through
// the shell.
func TestArgvDirectOrShell(t *testing.T) {
	s := &state{shell: "/bin/sh", shellArg: "/bin/sh"}
	truePath, err := exec.LookPath("true")
	if err != nil {
		t.Skip("no true on PATH")
	}
	path, argv := s.argv("true a-b c/d")
	if path != truePath || strings.Join(argv, "|") != "true|a-b|c/d" {
		t.Fatalf("direct: %q %q", path, argv)
	}
	for _, c := range []string{"echo a", "true; false", "true 'a b'", "true $HOME", "A=b true", "no-such-command-xyz a"} {
		path, argv := s.argv(c)
		if path != "/bin/sh" || len(argv) != 3 || argv[1] != "-c" || argv[2] != c {
			t.Errorf("%q: %q %q, want the shell", c, path, argv)
		}
	}
	s.opts.Shell = "/bin/sh"
	if path, _ := s.argv("true"); path != "/bin/sh" {
		t.Errorf("explicit shell: %q", path)
	}
}

// waitExit without a pidfd (old kernels) blocks in wait4 and still returns
// the status and the usage.
func TestWaitExitWithoutPidfd(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	pid, err := syscall.ForkExec(sh, []string{"sh", "-c", "exit 3"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err := waitExit(pid, -1)
	if err != nil || !ws.Exited() || ws.ExitStatus() != 3 {
		t.Fatalf("%v %v", ws, err)
	}
	pidfd := -1
	pid, err = syscall.ForkExec(sh, []string{"sh", "-c", "kill -9 $$"}, &syscall.ProcAttr{Sys: &syscall.SysProcAttr{PidFD: &pidfd}})
	if err != nil {
		t.Fatal(err)
	}
	ws, _, err = waitExit(pid, pidfd)
	if err != nil || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("%v %v", ws, err)
	}
}

// Output files live in the temp dir (not in memory) and vanish with their
// descriptor; the fallback for file systems without O_TMPFILE works too.
func TestOpenTempFD(t *testing.T) {
	dir := t.TempDir()
	fd, err := openTempFD(dir)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	if es, _ := os.ReadDir(dir); len(es) != 0 {
		t.Fatalf("left %v", es)
	}
	if _, err := openTempFD(filepath.Join(dir, "missing")); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing dir: %v", err)
	}
}

// Grouped output from the files with --tag, --results and --json: the
// saved and printed outputs are the job's, stdout and stderr apart.
func TestRunFileOutputTagResultsJSON(t *testing.T) {
	dir := t.TempDir()
	var out, errb syncBuf
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"printf 'x\\ny'; echo e{} >&2"}),
		Slots: 2, Tag: true, ResultsDir: dir, Stdout: &out, Stderr: &errb}, jobs("a"))
	if err != nil || sum.Finished != 1 {
		t.Fatalf("%+v %v", sum, err)
	}
	if out.String() != "a\tx\na\ty" || errb.String() != "a\tea\n" {
		t.Fatalf("tagged: %q %q", out.String(), errb.String())
	}
	for name, want := range map[string]string{"stdout": "x\ny", "stderr": "ea\n", "seq": "1\n"} {
		if b, err := os.ReadFile(filepath.Join(dir, "1", "a", name)); err != nil || string(b) != want {
			t.Fatalf("%s: %q %v", name, b, err)
		}
	}
	out = syncBuf{}
	_, err = Run(context.Background(), Options{Template: ParseTemplate([]string{"echo {}; echo E >&2"}), Slots: 1, JSON: true,
		Stdout: &out}, jobs("b"))
	if err != nil || !strings.Contains(out.String(), `"stdout":"b\n","stderr":"E\n"`) {
		t.Fatalf("json: %q %v", out.String(), err)
	}
}
