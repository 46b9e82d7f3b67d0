package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/trident-go/trident/internal/lab"
)

func init() {
	var (
		quick      bool
		workloads  []string
		models     []string
		jsonOut    string
		htmlOut    string
		python     string
		noPython   bool
		interval   time.Duration
		listModels bool
	)
	cmd := &cobra.Command{
		Use:   "lab",
		Short: "Run the Python concurrency articles' experiments here, in Go and CPython, and show where their rule holds",
		Long: `trident lab runs four workloads (cpu-bound, fast-io, slow-io, mixed) under every
concurrency model it has, in Go (sequential, threads under an emulated GIL,
goroutines, threadpool, procpool, the aio event loop, aio with ToThread, aio
offloading to processes) and in CPython when python3 is on the PATH (threading,
concurrent.futures, multiprocessing, asyncio). It measures wall time, CPU time,
speedup, peak memory and per-task overhead, draws a timeline per model, and sets
the best model for each workload against the articles' rule: CPU-bound work to
processes, fast I/O to threads, slow I/O to an event loop. A Claims section
checks each of the articles' claims on the measured rows (holds, does not hold,
unclear, or not measured when its rows were not selected).

Output: a table on stdout (progress on stderr); --json writes one JSON object
(to stdout, or --json=FILE); --html FILE writes a self-contained page with SVG
charts and timelines. The full run took 59-66 s on a quiet 2-core machine (162 s
at load average 7 to 10); --quick measures fewer models in 2 rounds with tasks
of full size: 8.8-10.8 s quiet, median 9.7 s (16 s at load 7). Killed, even with SIGKILL, the lab leaves no
process behind: the CPython interpreter and its workers end with it.`,
		Example: `  trident lab --html lab.html
  trident lab --quick --json
  trident lab --workload cpu-bound,slow-io --model threads-gil,goroutines,threading`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("lab takes no arguments, got %q (write --json=FILE to save the JSON to a file)", args[0])
			}
			if listModels {
				for _, m := range lab.Models() {
					avail := ""
					if !m.Available {
						avail = " (not available)"
					}
					fmt.Fprintf(cmd.OutOrStdout(), "%-18s %-8s %-11s %s%s\n", m.Name, m.Runtime, m.Family, m.About, avail)
				}
				return nil
			}
			cfg := lab.Config{Quick: quick, Python: python, NoPython: noPython, SwitchInterval: interval}
			var err error
			if cfg.Workloads, err = lab.ParseList("workload", strings.Join(workloads, ","), lab.WorkloadNames); err != nil {
				return err
			}
			if cfg.Models, err = lab.ParseList("model", strings.Join(models, ","), lab.ModelNames()); err != nil {
				return err
			}
			if interval < 0 {
				return fmt.Errorf("--switch-interval must be positive, got %v", interval)
			}
			if err := cfg.Validate(); err != nil {
				return err
			}
			// Output paths are checked before a minute of measuring.
			for _, p := range []struct{ flag, path string }{{"--json", jsonOut}, {"--html", htmlOut}} {
				if p.path == "" || p.path == "-" {
					continue
				}
				if err := checkWritable(p.path); err != nil {
					return fmt.Errorf("%s %s: cannot write there: %w", p.flag, p.path, err)
				}
			}
			if htmlOut == "-" {
				return errors.New("--html needs a file name")
			}
			stderr := cmd.ErrOrStderr()
			cfg.Warn = func(s string) { fmt.Fprintln(stderr, "trident lab:", s) }
			stop := startProgress(stderr, &cfg)
			ctx, cancel := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer cancel()
			res, err := lab.Run(ctx, cfg)
			stop()
			if err != nil {
				if errors.Is(err, lab.ErrUnknownModel) || errors.Is(err, lab.ErrUnknownWorkload) {
					return err
				}
				return &exitError{code: 1, msg: err.Error()}
			}
			if htmlOut != "" {
				if err := writeFile(htmlOut, res.WriteHTML); err != nil {
					return &exitError{code: 1, msg: fmt.Sprintf("writing --html %s: %v", htmlOut, err)}
				}
				fmt.Fprintln(stderr, "trident lab: wrote", htmlOut)
			}
			switch jsonOut {
			case "":
			case "-":
				return res.WriteJSON(cmd.OutOrStdout())
			default:
				if err := writeFile(jsonOut, res.WriteJSON); err != nil {
					return &exitError{code: 1, msg: fmt.Sprintf("writing --json %s: %v", jsonOut, err)}
				}
				fmt.Fprintln(stderr, "trident lab: wrote", jsonOut)
			}
			return res.WriteTable(cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&quick, "quick", false, "only the models the claims and verdicts rest on, 2 rounds, tasks of full size: about 10 s on a quiet 2-core machine (full run: about 65 s), more UNCLEAR outcomes")
	f.StringSliceVar(&workloads, "workload", nil, "workloads to run, comma-separated: "+strings.Join(lab.WorkloadNames, ", ")+" (default all)")
	f.StringSliceVar(&models, "model", nil, "models to run, comma-separated, Go or CPython (default all; sequential always runs as the baseline); see --list-models")
	f.StringVar(&jsonOut, "json", "", "write the result as JSON: bare --json to stdout, --json=FILE to a file")
	f.Lookup("json").NoOptDefVal = "-"
	f.StringVar(&htmlOut, "html", "", "write a self-contained HTML report with SVG charts to `FILE`")
	f.StringVar(&python, "python", "", "CPython interpreter for the CPython rows (default python3 on PATH)")
	f.BoolVar(&noPython, "no-python", false, "skip the CPython rows")
	f.DurationVar(&interval, "switch-interval", 0, "the emulated GIL's switch interval, like sys.setswitchinterval (default 5ms)")
	f.BoolVar(&listModels, "list-models", false, "list the models and exit")
	rootCmd.AddCommand(cmd)
}

// checkWritable reports whether path can be created or overwritten, without
// changing an existing file.
func checkWritable(path string) error {
	if st, err := os.Stat(path); err == nil {
		if st.IsDir() {
			return errors.New("it is a directory")
		}
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return f.Close()
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".trident-lab-check-*")
	if err != nil {
		return err
	}
	name := f.Name()
	f.Close()
	return os.Remove(name)
}

// writeFile writes via a temporary file in the same directory, so a failed
// write never leaves half a report.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".trident-lab-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	if err := write(f); err != nil {
		f.Close()
		os.Remove(tmp)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Chmod(tmp, 0o644); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// startProgress shows progress on stderr: a progress bar when stderr is a
// terminal, plain lines otherwise. It returns a function that ends it.
func startProgress(stderr io.Writer, cfg *lab.Config) (stop func()) {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		start := time.Now()
		cfg.Progress = func(p lab.Progress) {
			if p.Done < p.Total {
				fmt.Fprintf(stderr, "trident lab: [%d/%d %4.1fs] %s\n", p.Done+1, p.Total, time.Since(start).Seconds(), p.Label)
			}
		}
		return func() {}
	}
	var bar *progressbar.ProgressBar
	cfg.Progress = func(p lab.Progress) {
		if bar == nil {
			bar = progressbar.NewOptions(p.Total,
				progressbar.OptionSetWriter(stderr),
				progressbar.OptionSetDescription("lab"),
				progressbar.OptionShowCount(),
				progressbar.OptionSetElapsedTime(true),
				progressbar.OptionSetPredictTime(false),
				progressbar.OptionClearOnFinish(),
			)
		}
		bar.Describe(fmt.Sprintf("lab %-40s", p.Label))
		_ = bar.Set(p.Done)
	}
	return func() {
		if bar != nil {
			_ = bar.Finish()
		}
	}
}
