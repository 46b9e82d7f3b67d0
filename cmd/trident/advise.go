package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/trident-go/trident/advise"
)

var adviseCmd = &cobra.Command{
	Use:   "advise [-n RUNS] [--json] -- COMMAND [ARGS...]",
	Short: "Measure a command (CPU time against wall time) and recommend a concurrency model and worker count",
	Long: `Run COMMAND (RUNS times, one after the other; its output is discarded unless
--show-output), measure each run's wall time and CPU time (user + sys, from
the child's rusage) and the time its threads waited for a CPU on the run
queue (/proc/PID/task/TID/schedstat, followed while it runs: that wait is
left out of the ratio, and a note says when the machine was busy), classify
the work and recommend a concurrency model and
a worker count, naming the step of the flowchart that decided:

  step 1   CPU/wall >= 0.80              cpu-bound: processes, one per core
  step 2a  CPU/wall <= 0.20, wait < 50ms io-bound-short-waits: threads,
                                         cores x (1 + wait/compute), at most 256
  step 2b  CPU/wall <= 0.20, wait >= 50ms io-bound-long-waits: event loop,
                                         cores x (1 + wait/compute), at most 10000
  step 3   in between                    mixed: processes, cores x (1 + wait/compute),
                                         at most 4 x cores

Exit status: 0 on success, 255 when the command cannot run or fails, and
for bad usage (missing command, unknown option; the usage line goes to stderr).`,
	Args: func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return adviseUsageErr(cmd.ErrOrStderr(), "missing command")
		}
		return nil
	},
	RunE: func(cmd *cobra.Command, args []string) error {
		n, _ := cmd.Flags().GetInt("runs")
		asJSON, _ := cmd.Flags().GetBool("json")
		show, _ := cmd.Flags().GetBool("show-output")
		return adviseMain(cmd.OutOrStdout(), cmd.ErrOrStderr(), args, n, asJSON, show)
	},
}

func init() {
	adviseCmd.Flags().IntP("runs", "n", 3, "number of runs to measure")
	adviseCmd.Flags().Bool("json", false, "print the advice as one JSON object")
	adviseCmd.Flags().Bool("show-output", false, "pass the command's output through to stderr")
	adviseCmd.Flags().SetInterspersed(false)
	adviseCmd.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return adviseUsageErr(cmd.ErrOrStderr(), "%v", err)
	})
	rootCmd.AddCommand(adviseCmd)
}

// adviseUsageErr prints the usage line on stderr and returns the usage
// error (exit 255) with the message.
func adviseUsageErr(stderr io.Writer, format string, a ...any) error {
	fmt.Fprintln(stderr, "usage: trident advise [-n RUNS] [--json] [--show-output] -- COMMAND [ARGS...]  (trident advise --help for all)")
	return &exitError{code: 255, msg: "advise: " + fmt.Sprintf(format, a...)}
}

func adviseMain(stdout, stderr io.Writer, argv []string, n int, asJSON, show bool) error {
	if n < 1 {
		return adviseUsageErr(stderr, "-n %d: want at least 1 run", n)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var out io.Writer
	if show {
		out = stderr
	}
	p, err := advise.ProfileCommandIO(ctx, argv, n, out, out)
	if err != nil {
		var ce *advise.CommandError
		if errors.As(err, &ce) {
			return &exitError{code: 255, msg: err.Error()}
		}
		return &exitError{code: 255, msg: "advise: " + err.Error()}
	}
	a := advise.Classify(p)
	if asJSON {
		b, err := json.Marshal(a)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, string(b))
		return nil
	}
	fmt.Fprintf(stdout, "command:   %s\n", p.What)
	fmt.Fprintf(stdout, "runs:      %d on %d core(s)\n", p.Runs(), p.Cores)
	fmt.Fprintf(stdout, "per run:   wall %v, CPU %v (user+sys), run-queue wait %v, other wait %v, CPU/(wall - run-queue wait) %.2f\n",
		p.Wall(), p.CPU(), p.RunQueue(), p.Wait(), a.Ratio)
	if a.Busy != "" {
		fmt.Fprintf(stdout, "note:      %s\n", a.Busy)
	}
	fmt.Fprintf(stdout, "class:     %s\n", a.Class)
	fmt.Fprintf(stdout, "advice:    %s, %d worker(s)\n", a.Model, a.Workers)
	fmt.Fprintf(stdout, "step %-4s  %s\n", a.Step+":", a.Rule)
	fmt.Fprintf(stdout, "why:       %s\n", a.Reason)
	return nil
}
