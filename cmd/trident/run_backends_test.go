package main

import (
	"bytes"
	"errors"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// clusterRefused are the golden cases whose options describe this machine:
// trident run --cluster refuses them, naming the option.
var clusterRefused = map[string]string{"--nice": "--nice", "--memfree": "--memfree", "--load": "--load"}

// trident run --cluster gives GNU parallel 20221122's stdout and exit status
// for every golden case, as the local run does (one engine, two backends),
// with the jobs run by two trident worker processes of an embedded server;
// the options that are about this machine are refused with a clear error.
func TestRunClusterMatchesGNUParallel(t *testing.T) {
	url, _ := startClusterWorkers(t, 2, "-j", "4")
	dir := t.TempDir()
	var runs []gnuCase
	var refused []gnuCase
	for _, c := range gnuRuns(dir) {
		if _, ok := clusterRefused[c.name]; ok {
			refused = append(refused, c)
			continue
		}
		runs = append(runs, c)
	}
	golden := loadGNUGolden(t, dir, runs)
	checkAgainstGolden(t, golden, runs, func(c gnuCase) (string, string, int) {
		return runProgram(tridentBin, c.stdin, nil, append([]string{"run", "--cluster", url}, c.args...)...)
	})
	for _, c := range refused {
		_, errOut, code := runTrident(t, c.stdin, append([]string{"run", "--cluster", url}, c.args...)...)
		opt := clusterRefused[c.name]
		if code != 255 || !strings.Contains(errOut, "run: --cluster: "+opt+": applies to jobs run as local processes only") {
			t.Errorf("%s with --cluster: exit %d, stderr %q; want 255 and a refusal naming %s", c.name, code, errOut, opt)
		}
	}
}

// --arg-sep is found after options that take a value (-j 2, --cluster URL),
// whose values are not the command: the output is GNU's "--arg-sep" case.
func TestRunArgSepAfterValuedOption(t *testing.T) {
	for _, pre := range [][]string{{"-j", "2"}, {"--joblog", t.TempDir() + "/log"}, {"-j2"}} {
		out, errOut, code := runTrident(t, "", append(append([]string{"run", "-k"}, pre...), "--arg-sep", ",,", "echo", ",,", "a", "b", ",,", "c")...)
		if code != 0 || out != "a c\nb c\n" {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", pre, code, out, errOut)
		}
	}
}

// SIGTERM to trident run --cluster cancels its jobs on the workers: their
// processes (a job's whole group) are gone soon after the run ends, which
// is 143 with the usual interrupt message (all 3 jobs were in flight: 2
// running on the worker, 1 queued).
func TestRunClusterInterruptCancelsWorkerJobs(t *testing.T) {
	url, _ := startClusterWorkers(t, 1, "-j", "2")
	mark := newTreeMark(t)
	cmd := exec.Command(tridentBin, "run", "--cluster", url, "env TRIDENT_TREE_MARK="+mark+" sh -c 'sleep 60 & sleep 60; : {}'", ":::", "1", "2", "3")
	var errb bytes.Buffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitTreeProcs(t, mark, 2*3)
	cmd.Process.Signal(syscall.SIGTERM)
	err := cmd.Wait()
	ended := time.Now()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 143 || !strings.Contains(errb.String(), "interrupted: 0 job(s) finished, 3 stopped") {
		t.Fatalf("exit %v, stderr %q", err, errb.String())
	}
	checkTreeGone(t, mark, ended)
}
