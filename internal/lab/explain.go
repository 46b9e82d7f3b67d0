package lab

import (
	"fmt"
	"strings"
)

// The explanations below are generated from a row's measurements (CPU time
// against wall time, the cores it kept busy, the waits of its workload, its
// per-task cost and the noise measured around it), never from the model's
// name alone: a sentence about overlapped waits needs measured waits, one
// about parallel computing needs more than one core busy.

// Thresholds of the explanations.
const (
	// parallelCores: a row that kept at least this many cores busy on
	// average computed in parallel.
	parallelCores = 1.5
	// oneCore: at most this many cores busy is "one core".
	oneCore = 1.2
	// waitsShare: a workload whose sequential row spent at least this share
	// of its wall time not computing mostly waits; below noWaitsShare it
	// has no waits worth naming.
	waitsShare   = 0.5
	noWaitsShare = 0.2
	// costShare: extra CPU or per-task cost above this share counts as a
	// cost worth naming.
	costShare = 0.2
)

// coresBusy is the average number of cores a row kept busy: CPU over wall.
func coresBusy(r Row) float64 {
	if r.WallMS <= 0 {
		return 0
	}
	return r.CPUMS / r.WallMS
}

// waitShare is the share of a (sequential) row's wall time that was not
// computing.
func waitShare(r Row) float64 {
	if r.WallMS <= 0 {
		return 0
	}
	return max(0, 1-r.CPUMS/r.WallMS)
}

// facts is "goroutines 1.95x (1.90-1.99): 771ms of CPU in 393ms, 1.96 cores busy".
func facts(r Row) string {
	return fmt.Sprintf("%s %s: %s of CPU in %s, %.2f cores busy", r.Model, fmtSpeed(r), fmtMS(r.CPUMS), fmtMS(r.WallMS), coresBusy(r))
}

// costSentence says, from the measurements, what held a row back against
// the sequential row seq.
func costSentence(r, seq Row) string {
	var why []string
	if r.Waited {
		why = append(why, fmt.Sprintf("%s waited for a core in %d of %d rounds (run-queue wait %s, other programs used %.0f%% of the CPUs)",
			r.Model, r.WaitedRounds, len(r.Rounds), fmtMS(r.RunQueueMS), 100*r.OthersCPUShare))
	}
	if extra := r.CPUMS - seq.CPUMS; seq.CPUMS > 0 && extra > costShare*seq.CPUMS {
		why = append(why, fmt.Sprintf("%s used %s more CPU than sequential (%s vs %s): starting its workers and passing them work",
			r.Model, fmtMS(extra), fmtMS(r.CPUMS), fmtMS(seq.CPUMS)))
	}
	if total := r.OverheadUSPerTask * float64(r.Tasks) / 1e3; r.WallMS > 0 && total > costShare*r.WallMS {
		why = append(why, fmt.Sprintf("its measured cost per task (%s x %d tasks = %s) is %.0f%% of its wall time",
			fmtUS(r.OverheadUSPerTask), r.Tasks, fmtMS(total), 100*total/r.WallMS))
	}
	if waitShare(seq) < noWaitsShare && coresBusy(r) < oneCore && r.CPUMS > 0 {
		why = append(why, fmt.Sprintf("%s kept only %.2f cores busy (%s of CPU in %s)", r.Model, coresBusy(r), fmtMS(r.CPUMS), fmtMS(r.WallMS)))
	}
	if len(why) == 0 {
		return fmt.Sprintf("no cost stands out in the measurements: %s; sequential %s of CPU in %s", facts(r), fmtMS(seq.CPUMS), fmtMS(seq.WallMS))
	}
	return strings.Join(why, "; ")
}

// explainGap says, from the measurements, why best was faster than the
// rule's best model ruleBest (nil when none ran) on the same workload; seq
// is the sequential row.
func explainGap(best Row, ruleBest *Row, seq Row) string {
	var s []string
	if noise := noiseOf(best, seq); noise != "" {
		s = append(s, "Measured noise: "+noise+".")
	}
	switch {
	case best.Model == "sequential":
		t := "No model beat running the tasks one after another."
		if ruleBest != nil {
			t += " " + capitalise(costSentence(*ruleBest, seq)) + "."
		}
		return strings.Join(append(s, t), " ")
	case coresBusy(best) >= parallelCores:
		t := fmt.Sprintf("%s computed in parallel (%s).", best.Model, facts(best))
		if waitShare(seq) < noWaitsShare {
			t += fmt.Sprintf(" The work has no waits to overlap (sequential: %s of CPU in %s).", fmtMS(seq.CPUMS), fmtMS(seq.WallMS))
		}
		s = append(s, t)
	case waitShare(seq) >= waitsShare:
		s = append(s, fmt.Sprintf("The work mostly waits (sequential: %s of CPU in %s), and %s overlapped the waits: %s of wall against sequential's %s, with %s of CPU.",
			fmtMS(seq.CPUMS), fmtMS(seq.WallMS), best.Model, fmtMS(best.WallMS), fmtMS(seq.WallMS), fmtMS(best.CPUMS)))
	case coresBusy(best) < oneCore && waitShare(seq) < noWaitsShare:
		s = append(s, fmt.Sprintf("%s kept only %.2f cores busy (%s of CPU in %s) on work without waits, so its gain cannot come from parallel computing or overlapped waits: the sequential rounds were slower (%s of wall for %s of CPU).",
			best.Model, coresBusy(best), fmtMS(best.CPUMS), fmtMS(best.WallMS), fmtMS(seq.WallMS), fmtMS(seq.CPUMS)))
	default:
		s = append(s, fmt.Sprintf("%s both computed and overlapped waits (%s).", best.Model, facts(best)))
	}
	if ruleBest != nil {
		s = append(s, fmt.Sprintf("The rule's %s: %s.", ruleBest.Model, costSentence(*ruleBest, seq)))
	}
	return strings.Join(s, " ")
}

func capitalise(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
