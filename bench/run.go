package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Suite run: `trident run -j2 true` against `xargs -P2 -n1 true` (and GNU
// parallel -j2 outside quick mode, when installed) on the same input, in
// interleaved rounds, median per job. The trident binary is built from the
// parent module. The -j auto sweeps are in bench/run/*.sh (they take
// minutes).
func init() {
	register(Suite{Name: "run", About: "trident run -j2 vs xargs -P2 -n1 on trivial jobs (true)", Run: runSuite})
}

func runSuite(cfg Config) (*Report, error) {
	dir, err := os.MkdirTemp("", "trident-bench-run")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "trident")
	build := exec.Command("go", "build", "-o", bin, "./cmd/trident")
	build.Dir = ".."
	if out, err := build.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building trident: %v\n%s", err, out)
	}
	n, rounds := 1000, 7
	if cfg.Quick {
		n, rounds = 300, 5
	}
	var lines []string
	for i := 1; i <= n; i++ {
		lines = append(lines, strconv.Itoa(i))
	}
	in := filepath.Join(dir, "in")
	if err := os.WriteFile(in, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	rep := &Report{Ratios: map[string]float64{}}
	runOnce := func(name string, args ...string) func(int) {
		return func(int) {
			c := exec.Command(name, args...)
			if err := c.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "bench run: %s: %v\n", name, err)
			}
		}
	}
	batches := map[string]func(int){
		"trident run -j2": runOnce(bin, "run", "-j2", "true", "::::", in),
	}
	order := []string{"trident run -j2"}
	if _, err := exec.LookPath("xargs"); err == nil {
		batches["xargs -P2 -n1"] = runOnce("xargs", "-P2", "-n1", "-a", in, "true")
		order = append(order, "xargs -P2 -n1")
	} else {
		rep.Notes = append(rep.Notes, "xargs not found: no comparison")
	}
	if _, err := exec.LookPath("parallel"); err == nil && !cfg.Quick {
		batches["parallel -j2"] = runOnce("parallel", "-j2", "true", "::::", in)
		order = append(order, "parallel -j2")
	} else if cfg.Quick {
		rep.Notes = append(rep.Notes, "GNU parallel left out in quick mode (seconds per batch)")
	} else {
		rep.Notes = append(rep.Notes, "GNU parallel not installed (apt-get install parallel): no comparison")
	}
	loadBefore := ""
	if b, err := os.ReadFile("/proc/loadavg"); err == nil && len(strings.Fields(string(b))) >= 3 {
		loadBefore = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	// Each batch runs all n jobs; interleaved measures per job.
	res := interleaved(rounds, n, order, batches)
	for _, name := range order {
		rep.Rows = append(rep.Rows, Row{Name: name, NsPerTask: res[name].NsPerTask, AllocsPerTask: -1})
	}
	if x, ok := res["xargs -P2 -n1"]; ok && res["trident run -j2"].NsPerTask > 0 {
		rep.Ratios["xargs"] = x.NsPerTask / res["trident run -j2"].NsPerTask
	}
	if p, ok := res["parallel -j2"]; ok && res["trident run -j2"].NsPerTask > 0 {
		rep.Ratios["parallel"] = p.NsPerTask / res["trident run -j2"].NsPerTask
	}
	if loadBefore != "" {
		rep.Notes = append(rep.Notes, "load average before the rounds: "+loadBefore)
	}
	rep.Notes = append(rep.Notes, fmt.Sprintf("%d jobs of `true` per batch, median of %d interleaved rounds; -j auto sweeps: bench/run/auto.sh", n, rounds))
	return rep, nil
}
