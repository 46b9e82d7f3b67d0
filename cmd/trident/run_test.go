package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Golden: replacement strings and quoting, as GNU parallel 20221122 prints
// them with --dry-run.
func TestRunDryRunGolden(t *testing.T) {
	out, errOut, code := runTrident(t, "", "run", "--dry-run", "-j1", "echo", "{}", "{.}", "{/}", "{//}", "{/.}", "{#}", "{%}",
		":::", "a b/c.d", "x", "it's", "p$q")
	want := "echo 'a b/c.d' 'a b/c' c.d 'a b' c 1 1\n" +
		"echo x x x . x 2 1\n" +
		`echo 'it'"'"'s' 'it'"'"'s' 'it'"'"'s' . 'it'"'"'s' 3 1` + "\n" +
		"echo 'p$q' 'p$q' 'p$q' . 'p$q' 4 1\n"
	if code != 0 || out != want {
		t.Fatalf("code %d stderr %q\n got %q\nwant %q", code, errOut, out, want)
	}
	out, _, code = runTrident(t, "", "run", "--dry-run", "echo", ":::", "a", "b", ":::", "1", "2")
	if code != 0 || out != "echo a 1\necho a 2\necho b 1\necho b 2\n" {
		t.Fatalf("product: %q", out)
	}
	out, _, _ = runTrident(t, "", "run", "--dry-run", "echo", "{2}{1}", ":::", "a", "b", ":::+", "1", "2")
	if out != "echo 1a\necho 2b\n" {
		t.Fatalf("linked: %q", out)
	}
	out, _, _ = runTrident(t, "x,1\ny,2\n", "run", "--dry-run", "--colsep", ",", "echo", "{2}", "{1}")
	if out != "echo 1 x\necho 2 y\n" {
		t.Fatalf("colsep: %q", out)
	}
	out, _, _ = runTrident(t, "a b\x00c\x00", "run", "--dry-run", "-0", "echo")
	if out != "echo 'a b'\necho c\n" {
		t.Fatalf("-0: %q", out)
	}
}

func TestRunOutputAndTag(t *testing.T) {
	out, _, code := runTrident(t, "", "run", "-k", "--tag", "-j3", "sleep 0.0{}; echo {}", ":::", "3", "1", "2")
	if code != 0 || out != "3\t3\n1\t1\n2\t2\n" {
		t.Fatalf("code %d out %q", code, out)
	}
	out, _, code = runTrident(t, "a\nb\n", "run", "-j2", "echo")
	lines := strings.Fields(out)
	sort.Strings(lines)
	if code != 0 || strings.Join(lines, ",") != "a,b" {
		t.Fatalf("stdin: %d %q", code, out)
	}
	out, _, code = runTrident(t, "", "run", "--json", "-j1", "echo", ":::", "hi")
	var j map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &j) != nil || j["stdout"] != "hi\n" || j["seq"] != 1.0 || j["command"] != "echo hi" {
		t.Fatalf("json: %d %q", code, out)
	}
}

var joblogLine = regexp.MustCompile(`^(\d+)\t:\t\d{10}\.\d{3}\t {0,5}\d+\.\d{3}\t0\t(\d+)\t(-?\d+)\t(\d+)\t(.*)$`)

// Golden joblog format: GNU parallel's header and columns.
func TestRunJoblogFormat(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	_, _, code := runTrident(t, "", "run", "-j1", "--joblog", log, "echo {}; exit {}", ":::", "0", "3")
	if code != 1 {
		t.Fatalf("exit code %d, want 1 (one failed job)", code)
	}
	b, _ := os.ReadFile(log)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 3 || lines[0] != "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand" {
		t.Fatalf("joblog:\n%s", b)
	}
	for i, want := range [][]string{{"1", "2", "0", "0", "echo 0; exit 0"}, {"2", "2", "3", "0", "echo 3; exit 3"}} {
		m := joblogLine.FindStringSubmatch(lines[i+1])
		if m == nil || !equal(m[1:], want) {
			t.Fatalf("line %q, want fields %q", lines[i+1], want)
		}
	}
}

func equal(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func TestRunBadInput(t *testing.T) {
	for _, args := range [][]string{{"run", "--no-such-flag", "echo"}, {"run"}, {"run", "-j", "lots", "echo"}, {"run", "--halt", "maybe", "echo"}} {
		out, errOut, code := runTrident(t, "", args...)
		if code != 255 || out != "" || !strings.Contains(errOut, "usage: trident run") {
			t.Errorf("%q: code %d out %q err %q", args, code, out, errOut)
		}
	}
	_, errOut, code := runTrident(t, "", "run", "echo", "::::", "/no/such/input-file")
	if code != 255 || !strings.Contains(errOut, "/no/such/input-file") {
		t.Fatalf("unreadable file: %d %q", code, errOut)
	}
	out, errOut, code := runTrident(t, "", "run", "echo", "hi")
	if code != 0 || out != "" || errOut != "" {
		t.Fatalf("empty input: %d %q %q", code, out, errOut)
	}
	out, _, code = runTrident(t, "", "run", "--help")
	for _, want := range []string{"--joblog", "--halt", "Exit status", "255", "{/.}", "-j auto", "--resume", "--cluster"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Fatalf("--help lacks %q", want)
		}
	}
}

// Without a cluster backend linked in, --cluster fails clearly.
func TestRunClusterHookNil(t *testing.T) {
	saved := runClusterHook
	runClusterHook = nil
	defer func() { runClusterHook = saved }()
	var out, errb bytes.Buffer
	err := runMain(&out, &errb, []string{"--cluster", "http://x", "echo", ":::", "a"})
	if e, ok := err.(*exitError); !ok || e.code != 255 || !strings.Contains(e.msg, "this build has no cluster support") {
		t.Fatalf("got %v", err)
	}
}

// A command that cannot be started (missing program) is a failed job, with
// the shell's error on stderr and exit 127 in the joblog.
func TestRunCommandNotFound(t *testing.T) {
	log := filepath.Join(t.TempDir(), "log")
	_, errOut, code := runTrident(t, "", "run", "--joblog", log, "/no/such/program-xyz", ":::", "a", "b")
	if code != 2 || !strings.Contains(errOut, "program-xyz") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	b, _ := os.ReadFile(log)
	if strings.Count(string(b), "\t127\t0\t/no/such/program-xyz ") != 2 {
		t.Fatalf("joblog:\n%s", b)
	}
}

// A job that prints megabytes: output grouped and complete; the runner's
// memory stays flat (its max RSS does not grow by the output size).
func TestRunBigOutput(t *testing.T) {
	cmd := exec.Command(tridentBin, "run", "-j3", "head -c 20000000 /dev/zero | tr '\\0' {}", ":::", "a", "b", "c")
	var lens [3]int
	pipe, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReaderSize(pipe, 1<<20)
	var all bytes.Buffer
	all.ReadFrom(r)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	s := all.Bytes()
	if len(s) != 60000000 {
		t.Fatalf("%d bytes", len(s))
	}
	for i := 0; i < 3; i++ {
		chunk := s[i*20000000 : (i+1)*20000000]
		lens[i] = bytes.Count(chunk, chunk[:1])
		if lens[i] != 20000000 {
			t.Fatalf("chunk %d interleaved (%v)", i, lens)
		}
	}
	big := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss
	// Compare with a run printing a tenth as much: held in memory, the extra
	// 54 MB would show; spilled, the peak stays about the same. (The race
	// build's baseline is large and varies, so no absolute bound.)
	small := exec.Command(tridentBin, "run", "-j3", "head -c 2000000 /dev/zero | tr '\\0' {}", ":::", "a", "b", "c")
	if err := small.Run(); err != nil {
		t.Fatal(err)
	}
	if s := small.ProcessState.SysUsage().(*syscall.Rusage).Maxrss; big > s+40*1024 {
		t.Fatalf("max RSS %d KiB for 60 MB of output vs %d KiB for 6 MB: output was held in memory", big, s)
	}
}

// Interrupt with SIGINT, then --resume: the union of both joblogs has every
// job exactly once.
func TestRunInterruptResume(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	args := []string{"run", "-j3", "--grace", "300ms", "--joblog", log, "sleep 0.3; : {}", ":::"}
	for i := 1; i <= 15; i++ {
		args = append(args, strconv.Itoa(i))
	}
	cmd := exec.Command(tridentBin, args...)
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 130 {
		t.Fatalf("interrupted run: %v, stderr %q", err, errb.String())
	}
	first, _ := os.ReadFile(log)
	_, errOut, code := runTrident(t, "", append([]string{"run", "--resume", "-j8"}, args[2:]...)...)
	if code != 0 {
		t.Fatalf("resume: %d %q", code, errOut)
	}
	all, _ := os.ReadFile(log)
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(string(all)), "\n")[1:] {
		seen[strings.SplitN(l, "\t", 2)[0]]++
	}
	for i := 1; i <= 15; i++ {
		if seen[strconv.Itoa(i)] != 1 {
			t.Fatalf("job %d logged %d times\nfirst run:\n%s\nafter resume:\n%s", i, seen[strconv.Itoa(i)], first, all)
		}
	}
	if len(seen) != 15 {
		t.Fatalf("extra jobs: %v", seen)
	}
}

func TestRunExitStatusCap(t *testing.T) {
	args := []string{"run", "-j4", "exit 1; : {}", ":::"}
	for i := 0; i < 105; i++ {
		args = append(args, strconv.Itoa(i))
	}
	_, _, code := runTrident(t, "", args...)
	if code != 101 {
		t.Fatalf("105 failures: exit %d, want 101", code)
	}
	_, _, code = runTrident(t, "", "run", "-j1", "--halt", "now,fail=1", "exit", ":::", "0", "7", "0")
	if code != 7 {
		t.Fatalf("halt: exit %d, want 7", code)
	}
}

func TestRunAutoExplain(t *testing.T) {
	args := []string{"run", "--explain", "sleep 0.2; : {}", ":::"}
	for i := 0; i < 20; i++ {
		args = append(args, strconv.Itoa(i))
	}
	_, errOut, code := runTrident(t, "", args...)
	if code != 0 || !strings.Contains(errOut, "-j auto: sampled") || !strings.Contains(errOut, "io-bound") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}

func TestAdviseCommand(t *testing.T) {
	out, errOut, code := runTrident(t, "", "advise", "-n", "2", "--", "sleep", "0.1")
	if code != 0 || !strings.Contains(out, "io-bound-long-waits") || !strings.Contains(out, "event-loop") || !strings.Contains(out, "step 2b") {
		t.Fatalf("code %d out %q err %q", code, out, errOut)
	}
	out, _, code = runTrident(t, "", "advise", "--json", "-n", "1", "--", "sleep", "0.06")
	var a map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &a) != nil || a["class"] != "io-bound-long-waits" || a["step"] != "2b" {
		t.Fatalf("json: %d %q", code, out)
	}
	_, errOut, code = runTrident(t, "", "advise", "--", "/no/such/cmd-xyz")
	if code != 255 || !strings.Contains(errOut, "cmd-xyz") {
		t.Fatalf("missing command: %d %q", code, errOut)
	}
	_, _, code = runTrident(t, "", "advise")
	if code != 255 {
		t.Fatalf("no command: exit %d", code)
	}
}

// GNU parallel compatibility found in review: each case is compared with
// what GNU parallel 20221122 prints for the same command line.
func TestRunGNUCompatReview(t *testing.T) {
	// {#} and {%} are replacement strings: the value is not appended.
	out, errOut, code := runTrident(t, "", "run", "--dry-run", "-k", "-j1", "mkdir dir{#}-{%}", ":::", "a", "b")
	if code != 0 || out != "mkdir dir1-1\nmkdir dir2-1\n" {
		t.Errorf("{#} alone: code %d stderr %q out %q", code, errOut, out)
	}
	// :::+ and ::::+ do not wrap: the shortest linked source sets the length.
	dir := t.TempDir()
	f1, f2 := filepath.Join(dir, "f1"), filepath.Join(dir, "f2")
	os.WriteFile(f1, []byte("1\n2\n"), 0o644)
	os.WriteFile(f2, []byte("x\ny\nz\n"), 0o644)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"echo", ":::", "a", "b", "c", ":::+", "1", "2"}, "echo a 1\necho b 2\n"},
		{[]string{"echo", ":::", "a", "b", ":::+", "1", "2", "3"}, "echo a 1\necho b 2\n"},
		{[]string{"echo", "::::", f1, "::::+", f2}, "echo 1 x\necho 2 y\n"},
		{[]string{"echo", ":::", "a", "b", "c", ":::+", "1", "2", "3", ":::", "X", "Y", ":::+", "11", "22"},
			"echo a 1 X 11\necho a 1 Y 22\necho b 2 X 11\necho b 2 Y 22\necho c 3 X 11\necho c 3 Y 22\n"},
	} {
		out, errOut, code := runTrident(t, "", append([]string{"run", "--dry-run", "-k"}, c.args...)...)
		if code != 0 || out != c.want {
			t.Errorf("%q: code %d stderr %q\n got %q\nwant %q", c.args, code, errOut, out, c.want)
		}
	}
	// --colsep trims white space around each column (GNU parallel's
	// default --trim lr with --colsep); without --colsep values stay as they are.
	out, errOut, code = runTrident(t, " g , h \n\tx\t,y\n", "run", "--dry-run", "-k", "--colsep", ",", "echo", "{1}-{2}")
	if code != 0 || out != "echo g-h\necho x-y\n" {
		t.Errorf("--colsep trim: code %d stderr %q out %q", code, errOut, out)
	}
	out, _, _ = runTrident(t, " g , h \n", "run", "--dry-run", "echo")
	if out != "echo ' g , h '\n" {
		t.Errorf("no --colsep, no trim: %q", out)
	}
}

// --results gives distinct values distinct directories: GNU parallel's
// escaping (/ as \_, \ as \\), so "c/d" and "c_d" no longer share one.
func TestRunResultsNamesDistinct(t *testing.T) {
	dir := t.TempDir()
	vals := []string{"c/d", "c_d", `c\d`, `c\_d`, "", "_", ".", "..", "_.", "a b"}
	_, errOut, code := runTrident(t, "", append([]string{"run", "-j2", "--results", dir, "printf %s {}", ":::"}, vals...)...)
	if code != 0 {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
	for _, want := range []struct{ name, val string }{{`c\_d`, "c/d"}, {"c_d", "c_d"}, {`c\\d`, `c\d`}, {`c\\_d`, `c\_d`}, {"a b", "a b"}} {
		b, err := os.ReadFile(filepath.Join(dir, "1", want.name, "stdout"))
		if err != nil || string(b) != want.val {
			t.Errorf("%s/1/%s/stdout: %q %v, want %q", dir, want.name, b, err, want.val)
		}
	}
	// Every value has its own directory, holding its own output.
	seen := map[string]string{}
	ents, err := os.ReadDir(filepath.Join(dir, "1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, _ := os.ReadFile(filepath.Join(dir, "1", e.Name(), "stdout"))
		seen[string(b)] = e.Name()
	}
	if len(ents) != len(vals) || len(seen) != len(vals) {
		t.Errorf("%d values, %d directories, %d distinct outputs: %v", len(vals), len(ents), len(seen), seen)
	}
}

// A job killed by --timeout is named on stderr (GNU parallel warns too), not
// only in the joblog.
func TestRunTimeoutIsReported(t *testing.T) {
	_, errOut, code := runTrident(t, "", "run", "--timeout", "0.3", "sleep {}", ":::", "30")
	if code != 1 || !strings.Contains(errOut, "timed out") || !strings.Contains(errOut, "sleep 30") {
		t.Fatalf("code %d stderr %q", code, errOut)
	}
}
