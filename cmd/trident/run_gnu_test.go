package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
)

// gnuParallel returns the path of GNU parallel, or skips the test.
func gnuParallel(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("parallel")
	if err != nil {
		t.Skip("GNU parallel is not installed (.ci/setup installs it: apt-get install parallel): no golden comparison")
	}
	out, _ := exec.Command(p, "--version").Output()
	if !bytes.HasPrefix(out, []byte("GNU parallel")) {
		t.Skipf("%s is not GNU parallel (%q): no golden comparison", p, firstLine(string(out)))
	}
	return p
}

func firstLine(s string) string { return strings.SplitN(s, "\n", 2)[0] }

// runProgram runs bin with args and stdin and returns stdout, stderr and the
// exit code; a program that cannot start gives code -1 and the error as its
// stderr. It is safe to call from any goroutine.
func runProgram(bin, stdin string, env []string, args ...string) (string, string, int) {
	cmd := exec.Command(bin, args...)
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			return o.String(), err.Error(), -1
		}
		return o.String(), e.String(), ee.ExitCode()
	}
	return o.String(), e.String(), 0
}

type gnuCase struct {
	name   string
	stdin  string
	args   []string
	sorted bool // compare the lines sorted (the order is random or unordered)
	dry    bool // also compare the commands with --dry-run
}

// gnuCases are command lines run through GNU parallel 20221122 and trident
// run alike; their stdout and exit status must be the same.
func gnuCases(dir string) []gnuCase {
	file := filepath.Join(dir, "values")
	os.WriteFile(file, []byte("f1\nf2\n"), 0o644)
	var lines strings.Builder
	for i := 0; i < 300; i++ {
		lines.WriteString(strings.Repeat(string(rune('a'+i%26)), i*7%13) + "\n")
	}
	part := filepath.Join(dir, "part")
	os.WriteFile(part, []byte(lines.String()+"no newline at the end"), 0o644)
	recs := strings.Repeat("ab;cde;f;;ghij;", 40)
	return []gnuCase{
		// --pipe and --pipepart: the chunks, each job's stdin.
		{name: "--pipe --block", stdin: lines.String(), args: []string{"-k", "--pipe", "--block", "100", "echo {#}; cat"}},
		{name: "--pipe --block 1k", stdin: lines.String(), args: []string{"-k", "--pipe", "--block", "1k", "echo {#}; wc -l"}},
		{name: "--pipe -N", stdin: lines.String(), args: []string{"-k", "--pipe", "--block", "37", "-N", "5", "echo {#}; cat"}},
		{name: "--pipe -L", stdin: lines.String(), args: []string{"-k", "--pipe", "-L", "3", "--block", "60", "echo {#}; cat"}},
		{name: "--pipe --recend", stdin: recs, args: []string{"-k", "--pipe", "--recend", ";", "--block", "20", "echo {#}; cat; echo"}},
		{name: "--pipe --recstart --recend -N", stdin: recs, args: []string{"-k", "--pipe", "--recstart", "g", "--recend", ";", "-N", "2", "echo {#}; cat; echo"}},
		{name: "--pipe -j1 no trailing newline", stdin: "a\nb\nc", args: []string{"-k", "-j1", "--pipe", "--block", "2", "echo {#}; cat; echo"}},
		{name: "--pipepart", args: []string{"-k", "--pipepart", "--block", "100", "-a", part, "echo {#}; cat"}},
		{name: "--pipepart --block 1", args: []string{"-k", "--pipepart", "--block", "1", "-a", part, "echo {#}; cat"}},
		{name: "--pipepart --recend", args: []string{"-k", "--pipepart", "--recend", "aa", "--block", "300", "-a", part, "echo {#}; cat"}},

		// Arguments per job.
		{name: "-n2", args: []string{"-k", "-n2", "echo", ":::", "a", "b", "c", "d", "e"}},
		{name: "-N2", args: []string{"-k", "-N2", "echo", ":::", "a", "b", "c", "d", "e"}},
		{name: "-N2 positional", args: []string{"-k", "-N2", "echo", "{1}-{2}", ":::", "a", "b", "c", "d", "e"}},
		{name: "-n2 positional", args: []string{"-k", "-n2", "echo", "{1}-{2}", ":::", "a", "b", "c"}},
		{name: "-n2 in word", dry: true, args: []string{"-k", "-n2", "echo", "x{}y", ":::", "a", "b", "c", "d", "e"}},
		{name: "-N2 context", args: []string{"-k", "-N2", "echo", "x{}y", ":::", "a", "b", "c", "d", "e"}},
		{name: "-N2 context quoted", dry: true, args: []string{"-k", "-N2", "echo", "x{.}y", ":::", "a.b", "b c.d"}},
		{name: "-X spread", dry: true, args: []string{"-k", "-j2", "-X", "echo", "x{}y", ":::", "a", "b", "c", "d", "e"}},
		{name: "-m spread", dry: true, args: []string{"-k", "-j2", "-m", "echo", "x{}y", ":::", "a", "b", "c", "d", "e"}},
		{name: "-m -j3", args: []string{"-k", "-j3", "-m", "echo", ":::", "a", "b", "c", "d", "e", "f", "g"}},
		{name: "--xargs", args: []string{"-k", "-j3", "--xargs", "echo", ":::", "a", "b", "c", "d", "e"}},
		{name: "-N2 two sources", args: []string{"-k", "-N2", "echo", "{1}", "{2}", "{3}", "{4}", ":::", "a", "b", ":::", "c", "d"}},
		{name: "-n2 two sources", args: []string{"-k", "-n2", "echo", "{}", ":::", "a", "b", ":::", "c", "d"}},
		{name: "-X two sources", dry: true, args: []string{"-k", "-j2", "-X", "echo", "x{}y", ":::", "a", "b", ":::", "c", "d"}},
		{name: "-X positional", dry: true, args: []string{"-k", "-j2", "-X", "echo", "x{1}y", "x{2.}z", ":::", "a", "b.c", ":::", "c", "d"}},
		{name: "-L2", args: []string{"-k", "-L2", "echo", "x{}y", ":::", "a", "b", "c"}},
		{name: "-N0", dry: true, args: []string{"-k", "-N0", "echo", "x", ":::", "a", "b", "c"}},
		{name: "-s fills by length", dry: true, args: []string{"-k", "-j2", "-s", "13", "-X", "echo", ":::", "aaa", "bbb", "ccc", "ddd", "eee"}},
		{name: "-s one per line", args: []string{"-k", "-s", "12", "-m", "echo", ":::", "aaa", "bbb", "ccc"}},
		{name: "-X stdin", stdin: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", args: []string{"-k", "-j3", "-X", "echo"}},
		{name: "-m stdin", stdin: "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n", args: []string{"-k", "-j3", "-m", "echo", "{}", "x"}},
		{name: "-n2 failures", args: []string{"-k", "-n2", "exit 1; :", ":::", "a", "b", "c"}},
		// Replacement strings.
		{name: "--plus", dry: true, args: []string{"-k", "--plus", "echo", "{+/}", "{+.}", "{+..}", "{+...}", "{..}", "{...}", "{/..}", "{/...}", "{##}",
			":::", "/x/y/a.b.c.d", "a.b", "q/r s"}},
		{name: "--plus {##} stdin", stdin: "a\nb\nc\n", args: []string{"-k", "--plus", "echo", "{##}", "{#}"}},
		{name: "positional modifiers", dry: true, args: []string{"-k", "echo", "{1/}", "{2.}", "{3//}", "{2/.}", "{1}",
			":::", "a/b.c", "x y/z", ":::", "d/e.f", ":::", "g/h/i", "j"}},
		{name: "-q", dry: true, args: []string{"-k", "-q", "echo", "a  b", "{}", "x{}y", ":::", "c  d", "e"}},
		{name: "-q keeps $", dry: true, args: []string{"-k", "-q", "echo", "$HOME", "{}", ":::", "x"}},
		{name: "-I", dry: true, args: []string{"-k", "-I", ",,", "echo", ",,", "x,,y", "{}", "{1}", ",,1", ":::", "a", "b c"}},
		{name: "-I keeps {.}", args: []string{"-k", "-I", "@", "echo", "@", "{.}", ":::", "a.b"}},
		{name: "--*replace", dry: true, args: []string{"-k", "--extensionreplace", ",x", "--basenamereplace", ",b", "--dirnamereplace", ",d",
			"--basenameextensionreplace", ",e", "--seqreplace", ",s", "--slotreplace", ",t", "echo", ",x", ",b", ",d", ",e", ",s", ",t", ":::", "/a/b.c"}},
		// Inputs.
		{name: "--link wraps", dry: true, args: []string{"-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2"}},
		{name: "--link three", args: []string{"-k", "--link", "echo", ":::", "a", "b", "c", ":::", "1", "2", ":::", "x"}},
		{name: "--xapply with :::+", args: []string{"-k", "--xapply", "echo", ":::", "a", "b", "c", ":::", "1", "2", ":::+", "7", "8", "9", "10"}},
		{name: "--header :", dry: true, args: []string{"-k", "--header", ":", "echo", "{a}", "{b}", "{1}", "{b/}", ":::", "a", "1", "2", ":::", "b", "3", "x/4"}},
		{name: "--header : --colsep", stdin: "x,y\n1,2\n3,4\n", args: []string{"-k", "--header", ":", "--colsep", ",", "echo", "{y}", "{x}"}},
		{name: "--header : stdin", stdin: "name\n1\n3\n", args: []string{"-k", "--header", ":", "echo", "{name}"}},
		{name: "--header 2", stdin: "h1\nh2\n1\n3\n", args: []string{"-k", "--header", "2", "echo", "{}"}},
		{name: "--header 0", args: []string{"-k", "--header", "0", "echo", "{" + file + "}", "::::", file}},
		{name: "--colsep trims", stdin: " a , b \n", args: []string{"--colsep", ",", "echo", "x{1}x", "x{2}x"}},
		{name: "--trim n", stdin: " a , b \n", args: []string{"--trim", "n", "--colsep", ",", "echo", "x{1}x", "x{2}x"}},
		{name: "--trim l", dry: true, stdin: " a , b \n", args: []string{"--trim", "l", "--colsep", ",", "echo", "x{1}x", "x{2}x"}},
		{name: "--trim r", stdin: " a , b \n", args: []string{"--trim", "r", "echo", "x{}x"}},
		{name: "--trim lr", stdin: " a , b \n", args: []string{"--trim", "lr", "echo", "x{}x"}},
		{name: "-r", dry: true, stdin: "a\n\n \nb\n", args: []string{"-k", "-r", "echo", "x{}x"}},
		{name: "no -r", stdin: "a\n\n \nb\n", args: []string{"-k", "echo", "x{}x"}},
		{name: "-r ::: ", args: []string{"-k", "-r", "echo", "x{}x", ":::", "a", "", " ", "b"}},
		{name: "--arg-sep", args: []string{"-k", "--arg-sep", ",,", "echo", ",,", "a", "b", ",,", "c"}},
		{name: "--arg-file-sep", args: []string{"-k", "--arg-file-sep", "//", "echo", "//", file}},
		{name: "--shuf", args: []string{"--shuf", "echo", ":::", "a", "b", "c", "d", "e"}, sorted: true},
		// Output.
		{name: "--tagstring", args: []string{"-k", "--tagstring", "x{}-{#}", "echo", ":::", "a b", "c"}},
		{name: "-v", dry: true, args: []string{"-k", "-v", "echo", ":::", "a b", "c"}},
		{name: "-u", args: []string{"-j1", "-u", "echo", ":::", "a", "b"}},
		{name: "-u --tag", args: []string{"-j1", "-u", "--tag", "echo", ":::", "a", "b"}},
		// Pacing.
		{name: "--delay", args: []string{"-k", "--delay", "0.05", "echo", ":::", "a", "b"}},
		{name: "--nice", args: []string{"-k", "--nice", "7", "-N0", "nice", ":::", "1"}},
		{name: "--memfree", args: []string{"-k", "--memfree", "1k", "echo", ":::", "a", "b"}},
		{name: "--load", args: []string{"-k", "--load", "100", "echo", ":::", "a", "b"}},
	}
}

// updateGNU re-records testdata/gnu_parallel.json by running every case
// through GNU parallel (go test -run TestRunMatchesGNUParallel -update-gnu).
var updateGNU = flag.Bool("update-gnu", false, "record GNU parallel's outputs of the golden cases in "+gnuGoldenFile)

const gnuGoldenFile = "testdata/gnu_parallel.json"

// gnuGolden is GNU parallel 20221122's stdout and exit status of one case,
// with the case's temp directory written $DIR.
type gnuGolden struct {
	Name   string   `json:"name"`
	Args   []string `json:"args"`
	Stdout string   `json:"stdout"`
	Code   int      `json:"code"`
}

// gnuRuns are the cases, each dry one twice (as is and with --dry-run).
func gnuRuns(dir string) []gnuCase {
	var runs []gnuCase
	for _, c := range gnuCases(dir) {
		runs = append(runs, c)
		if c.dry {
			d := c
			d.name += " --dry-run"
			d.args = append([]string{"--dry-run"}, c.args...)
			runs = append(runs, d)
		}
	}
	return runs
}

// forEachCase runs f on every case, 8 at a time (GNU parallel takes a good
// part of a second of CPU to start), and returns the results in order.
func forEachCase[T any](runs []gnuCase, f func(gnuCase) T) []T {
	res := make([]T, len(runs))
	sem := make(chan struct{}, 8)
	var wg sync.WaitGroup
	for i, c := range runs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			res[i] = f(c)
		}()
	}
	wg.Wait()
	return res
}

// runGNU runs c through GNU parallel, with dir written $DIR in its outcome.
func runGNU(gnu, home, dir string, c gnuCase) gnuGolden {
	out, _, code := runProgram(gnu, c.stdin, []string{"PARALLEL_HOME=" + home}, append([]string{"--will-cite"}, c.args...)...)
	args := make([]string, len(c.args))
	for i, a := range c.args {
		args[i] = strings.ReplaceAll(a, dir, "$DIR")
	}
	return gnuGolden{Name: c.name, Args: args, Stdout: strings.ReplaceAll(out, dir, "$DIR"), Code: code}
}

// loadGNUGolden reads the recorded outputs of the cases, by name, and
// checks that they were recorded for the cases as they are now.
func loadGNUGolden(t *testing.T, dir string, runs []gnuCase) map[string]gnuGolden {
	t.Helper()
	b, err := os.ReadFile(gnuGoldenFile)
	if err != nil {
		t.Fatalf("%v (record it with -update-gnu)", err)
	}
	var gs []gnuGolden
	if err := json.Unmarshal(b, &gs); err != nil {
		t.Fatalf("%s: %v", gnuGoldenFile, err)
	}
	byName := map[string]gnuGolden{}
	for _, g := range gs {
		g.Stdout = strings.ReplaceAll(g.Stdout, "$DIR", dir)
		byName[g.Name] = g
	}
	for _, c := range runs {
		g, ok := byName[c.name]
		want := make([]string, len(c.args))
		for i, a := range c.args {
			want[i] = strings.ReplaceAll(a, dir, "$DIR")
		}
		if !ok || fmt.Sprint(g.Args) != fmt.Sprint(want) {
			t.Fatalf("case %q is not recorded as it is now in %s: rerun with -update-gnu (GNU parallel 20221122 installed)", c.name, gnuGoldenFile)
		}
	}
	return byName
}

// trident run gives GNU parallel 20221122's stdout and exit status for every
// case: against the outputs recorded in testdata (go test -update-gnu
// records them again), and, when GNU parallel is installed, live for a few
// cases, which also checks that the recording is still GNU's.
func TestRunMatchesGNUParallel(t *testing.T) {
	dir := t.TempDir()
	runs := gnuRuns(dir)
	if *updateGNU {
		gnu := gnuParallel(t)
		home := t.TempDir()
		gs := forEachCase(runs, func(c gnuCase) gnuGolden { return runGNU(gnu, home, dir, c) })
		b, err := json.MarshalIndent(gs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(gnuGoldenFile, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	golden := loadGNUGolden(t, dir, runs)
	checkAgainstGolden(t, golden, runs, func(c gnuCase) (string, string, int) {
		return runProgram(tridentBin, c.stdin, nil, append([]string{"run"}, c.args...)...)
	})
	t.Run("live", func(t *testing.T) {
		gnu := gnuParallel(t)
		home := t.TempDir()
		var live []gnuCase
		for _, c := range runs {
			switch c.name {
			case "--pipe -N", "-X spread --dry-run", "--plus --dry-run", "--link wraps", "--header : --colsep", "-u --tag":
				live = append(live, c)
			}
		}
		for i, g := range forEachCase(live, func(c gnuCase) gnuGolden { return runGNU(gnu, home, dir, c) }) {
			rec := golden[live[i].name]
			g.Stdout = strings.ReplaceAll(g.Stdout, "$DIR", dir)
			if g.Stdout != rec.Stdout || g.Code != rec.Code {
				t.Errorf("%s: GNU parallel now gives exit %d, stdout %q; recorded: exit %d, stdout %q (rerun with -update-gnu)",
					live[i].name, g.Code, g.Stdout, rec.Code, rec.Stdout)
			}
		}
	})
}

// checkAgainstGolden runs every case with run and compares its stdout and
// exit status with GNU parallel's recorded ones.
func checkAgainstGolden(t *testing.T, golden map[string]gnuGolden, runs []gnuCase, run func(gnuCase) (string, string, int)) {
	t.Helper()
	type outcome struct {
		got, terr string
		code      int
	}
	res := forEachCase(runs, func(c gnuCase) outcome {
		o, e, code := run(c)
		return outcome{o, e, code}
	})
	for i, c := range runs {
		r, g := res[i], golden[c.name]
		want, got := g.Stdout, r.got
		if c.sorted {
			want, got = sortLines(want), sortLines(got)
		}
		t.Run(c.name, func(t *testing.T) {
			if got != want || r.code != g.Code {
				t.Errorf("parallel %q\n  GNU:     exit %d, stdout %q\n  trident: exit %d, stdout %q (stderr %q)",
					c.args, g.Code, want, r.code, got, r.terr)
			}
		})
	}
}

func sortLines(s string) string {
	l := strings.SplitAfter(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "")
}
