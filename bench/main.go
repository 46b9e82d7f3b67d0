// Command bench runs trident's side-by-side benchmark suites.
//
//	cd bench && go run . SUITE [--json] [--quick]
//	cd bench && go run . all --quick
//
// Every suite measures trident and its peers on the same work in the same
// run and reports ratios: peer cost / trident cost, so a ratio above 1 means
// trident is faster. The machine is shared and noisy: read the ratios, not
// the absolute times.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/trident-go/trident/procpool"
)

// Config is what every suite receives.
type Config struct {
	// Quick asks for a seconds-long smoke run (CI); figures are rough.
	Quick bool
	// Python is the python3 executable, or "" when none was found.
	Python string
}

// Row is one measured line of a suite.
type Row struct {
	Name          string
	NsPerTask     float64
	AllocsPerTask float64 // -1 when not measured
	// Extra holds further figures (speedup, peak_rss_kb, ...), emitted as
	// top-level JSON keys of the row.
	Extra map[string]float64
	// Note is free text shown in the table and the JSON ("note").
	Note string
}

// MarshalJSON flattens Extra into the row object.
func (r Row) MarshalJSON() ([]byte, error) {
	m := map[string]any{"name": r.Name, "ns_per_task": r.NsPerTask}
	if r.AllocsPerTask >= 0 {
		m["allocs_per_task"] = r.AllocsPerTask
	}
	for k, v := range r.Extra {
		m[k] = v
	}
	if r.Note != "" {
		m["note"] = r.Note
	}
	return json.Marshal(m)
}

// Report is a suite's result, the JSON contract of the bench module:
// {"suite": ..., "rows": [...], "ratios": {PEER: peer cost / trident cost}}.
type Report struct {
	Suite  string             `json:"suite"`
	Rows   []Row              `json:"rows"`
	Ratios map[string]float64 `json:"ratios"`
	// Notes are lines for people: what was compared, what was skipped.
	Notes []string `json:"notes,omitempty"`
}

// Suite runs one benchmark suite.
type Suite struct {
	Name  string
	About string
	Run   func(cfg Config) (*Report, error)
}

var suites = map[string]Suite{}

// register adds a suite; each suite file calls it from init.
func register(s Suite) { suites[s.Name] = s }

func main() {
	procpool.Main() // a pool worker serves calls here and never returns
	clusterWorkerMain()
	jobsMain()       // a jobs suite's worker or server process runs here when re-executed as one
	echoServerMain() // the aio suite's echo servers run here when re-executed as one
	aioClientMain()  // the aio suite's echo load generator runs here when re-executed as one
	jsonOut := flag.Bool("json", false, "print one JSON object per suite instead of a table")
	quick := flag.Bool("quick", false, "seconds-long smoke mode (for CI)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go run . [--json] [--quick] SUITE|all\n\nsuites:\n")
		for _, n := range names() {
			fmt.Fprintf(os.Stderr, "  %-12s %s\n", n, suites[n].About)
		}
	}
	// Accept flags after the suite name too: go run . threadpool --json
	args := os.Args[1:]
	var pos []string
	var flags []string
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			flags = append(flags, a)
		} else {
			pos = append(pos, a)
		}
	}
	if err := flag.CommandLine.Parse(flags); err != nil {
		os.Exit(2)
	}
	if len(pos) != 1 {
		flag.Usage()
		os.Exit(2)
	}
	var run []string
	if pos[0] == "all" {
		run = names()
	} else if _, ok := suites[pos[0]]; ok {
		run = []string{pos[0]}
	} else {
		fmt.Fprintf(os.Stderr, "bench: unknown suite %q\n", pos[0])
		flag.Usage()
		os.Exit(2)
	}
	cfg := Config{Quick: *quick, Python: findPython()}
	stopProfile := startProfile("bench")
	failed := false
	for _, n := range run {
		rep, err := suites[n].Run(cfg)
		if err != nil {
			fmt.Fprintf(os.Stderr, "bench: suite %s: %v\n", n, err)
			failed = true
			continue
		}
		rep.Suite = n
		if *jsonOut {
			b, err := json.Marshal(rep)
			if err != nil {
				fmt.Fprintf(os.Stderr, "bench: suite %s: %v\n", n, err)
				failed = true
				continue
			}
			fmt.Println(string(b))
		} else {
			printTable(rep)
		}
	}
	stopProfile()
	if failed {
		os.Exit(1)
	}
}

func names() []string {
	var ns []string
	for n := range suites {
		ns = append(ns, n)
	}
	sort.Strings(ns)
	return ns
}

func printTable(r *Report) {
	fmt.Printf("suite %s\n", r.Suite)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "name\tns/task\tallocs/task\textra\tnote\t")
	for _, row := range r.Rows {
		allocs := "-"
		if row.AllocsPerTask >= 0 {
			allocs = fmt.Sprintf("%.2f", row.AllocsPerTask)
		}
		var ex []string
		for k, v := range row.Extra {
			ex = append(ex, fmt.Sprintf("%s=%.3g", k, v))
		}
		sort.Strings(ex)
		fmt.Fprintf(w, "%s\t%.1f\t%s\t%s\t%s\t\n", row.Name, row.NsPerTask, allocs, strings.Join(ex, " "), row.Note)
	}
	w.Flush()
	if len(r.Ratios) > 0 {
		fmt.Println("ratios (peer cost / trident cost; > 1 means trident is faster):")
		var ks []string
		for k := range r.Ratios {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			fmt.Printf("  %-32s %8.2f\n", k, r.Ratios[k])
		}
	}
	for _, n := range r.Notes {
		fmt.Println("note:", n)
	}
	fmt.Println()
}
