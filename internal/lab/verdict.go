package lab

import (
	"fmt"
	"slices"
	"strings"

	"github.com/trident-go/trident/advise"
)

// rule is the articles' choice for one workload.
type rule struct {
	text string
	// fits reports whether a row's model is what the rule recommends.
	fits func(r Row) bool
	// family is the family named by the rule, for the wording.
	family string
}

func offloadsToProcesses(model string) bool {
	return model == "aio-procpool" || model == "asyncio-processes"
}

var rules = map[string]rule{
	CPUBound: {text: "processes (the GIL serialises CPU-bound threads)", family: FamilyProcesses,
		fits: func(r Row) bool { return r.Family == FamilyProcesses || offloadsToProcesses(r.Model) }},
	FastIO: {text: "threads (fast I/O releases the GIL; switches are few)", family: FamilyThreads,
		fits: func(r Row) bool { return r.Family == FamilyThreads }},
	SlowIO: {text: "event loop (many long waits in one thread)", family: FamilyEventLoop,
		fits: func(r Row) bool { return r.Family == FamilyEventLoop }},
	Mixed: {text: "processes for the CPU part (offload CPU-bound work; asyncio alone is not for CPU)", family: FamilyProcesses,
		fits: func(r Row) bool { return r.Family == FamilyProcesses || offloadsToProcesses(r.Model) }},
}

func verdicts(workloads []string, rows []Row, adv map[string]advise.Advice) []Verdict {
	var out []Verdict
	for _, w := range workloads {
		v := Verdict{Workload: w, Rule: rules[w].text}
		if a, ok := adv[w]; ok {
			unit := "one task"
			if w == FastIO {
				unit = "one request"
			}
			v.Advise, v.AdviseModel, v.AdviseReason = a.Class.String(), a.Model.String(), "profiling "+unit+": "+a.Reason
		} else {
			v.Advise, v.AdviseModel, v.AdviseReason = "unknown", "unknown", "advise could not profile the workload"
		}
		var bests []Row
		if best, outcome, reason, ties, ok := judge(w, RuntimeGo, rows); ok {
			v.BestModel, v.BestFamily, v.BestSpeedup, v.Outcome, v.Agrees, v.Reason = best.Model, best.Family, best.Speedup, outcome, outcome == OutcomeAgrees, reason
			v.BestSpeedupLo, v.BestSpeedupHi, v.Ties = lo(best), hi(best), ties
			bests = append(bests, best)
		} else {
			v.BestModel, v.Outcome, v.Reason = "none", OutcomeUnclear, "no Go row of this workload succeeded"
		}
		if best, outcome, reason, ties, ok := judge(w, RuntimeCPython, rows); ok {
			v.CPythonBestModel, v.CPythonBestSpeedup, v.CPythonOutcome, v.CPythonAgrees, v.CPythonReason = best.Model, best.Speedup, outcome, outcome == OutcomeAgrees, reason
			v.CPythonBestSpeedupLo, v.CPythonBestSpeedupHi, v.CPythonTies = lo(best), hi(best), ties
			bests = append(bests, best)
		}
		if a, ok := adv[w]; ok {
			v.AdviseAgrees, v.AdviseVsLab = adviseVsLab(a, w, rows, bests)
		}
		out = append(out, v)
	}
	return out
}

// Verdict outcomes (Verdict.Outcome, CPythonOutcome).
const (
	// OutcomeAgrees: the rule's kind of model was the fastest, or tied
	// with the fastest within the spread of the rounds.
	OutcomeAgrees = "agrees"
	// OutcomeDisagrees: another kind of model was faster and the spreads
	// do not overlap, on rows that did not wait for a core.
	OutcomeDisagrees = "disagrees"
	// OutcomeUnclear: the spreads separate but the rows waited for a core,
	// or no model of the rule's kind ran.
	OutcomeUnclear = "unclear"
)

// tieMargin is the smallest relative difference in speedup that decides
// between two models: below it two rows are tied even when their spreads
// separate. Two rounds of four 80 ms waits gave CPython's threading
// 3.94x (3.94-3.95) and asyncio 3.86x (3.80-3.92) on slow-io, both near the
// ideal 4x: spreads of two samples apart by 0.5%, a difference no one would
// choose a model for, which made one --quick run DISAGREE where every full
// run agrees.
const tieMargin = 0.05

// within reports whether a's interval reaches b's, or comes within
// tieMargin of it.
func within(a, b Row) bool { return hi(a)*(1+tieMargin) >= lo(b) }

// judge picks the best row of one runtime for workload w and sets it against
// the articles' rule: it agrees when a model of the rule's kind is the best
// or its speedup interval overlaps the best's, disagrees only when the
// intervals separate on rows that did not wait for a core, and is unclear
// otherwise.
func judge(w, rt string, rows []Row) (best Row, outcome, reason string, ties []string, ok bool) {
	var cand []Row
	var seq Row
	for _, r := range rows {
		if r.Workload == w && r.Runtime == rt && r.Error == "" && r.Speedup > 0 {
			cand = append(cand, r)
			if r.Model == "sequential" {
				seq = r
			}
		}
	}
	if len(cand) == 0 {
		return Row{}, "", "", nil, false
	}
	slices.SortStableFunc(cand, func(a, b Row) int {
		switch {
		case a.Speedup > b.Speedup:
			return -1
		case a.Speedup < b.Speedup:
			return 1
		}
		return 0
	})
	best = cand[0]
	for _, r := range cand[1:] {
		if within(r, best) {
			ties = append(ties, r.Model)
		}
	}
	ru := rules[w]
	var ruleBest *Row
	for i := range cand {
		if ru.fits(cand[i]) {
			ruleBest = &cand[i]
			break
		}
	}
	head := fmt.Sprintf("%s %s", best.Model, fmtSpeed(best))
	if len(ties) > 0 {
		head += " (tied within the spread or 5% with " + strings.Join(ties, ", ") + ")"
	}
	switch {
	case ru.fits(best):
		outcome = OutcomeAgrees
		reason = fmt.Sprintf("agrees: %s is the rule's kind of model", head)
	case ruleBest == nil:
		outcome = OutcomeUnclear
		reason = fmt.Sprintf("UNCLEAR: no model of the rule's kind ran; best was %s. %s", head, explainGap(best, nil, seq))
	case within(*ruleBest, best):
		outcome = OutcomeAgrees
		reason = fmt.Sprintf("agrees within the spread: %s, and the rule's %s %s overlaps it or is within 5%%. %s", head, ruleBest.Model, fmtSpeed(*ruleBest), explainGap(best, ruleBest, seq))
	case startUpAteGap(w, best, *ruleBest):
		outcome = OutcomeUnclear
		reason = fmt.Sprintf("UNCLEAR: %s beat the rule's best, %s %s, by %s of wall time (%s against %s), no more than %s's own start and stop (%s before its first task began and after its last ended, measured on its timeline); this run has %d tasks where the full run has %d, so starting the workers weighs more here than there: the full run decides. %s",
			head, ruleBest.Model, fmtSpeed(*ruleBest), fmtMS(ruleBest.WallMS-best.WallMS), fmtMS(ruleBest.WallMS), fmtMS(best.WallMS),
			ruleBest.Model, fmtMS(ruleBest.StartStopMS), ruleBest.Tasks, fullTasks(w), explainGap(best, ruleBest, seq))
	case noiseOf(best, *ruleBest, seq) != "":
		outcome = OutcomeUnclear
		reason = fmt.Sprintf("UNCLEAR: %s beat the rule's best, %s %s, but on rows that waited for a core. %s", head, ruleBest.Model, fmtSpeed(*ruleBest), explainGap(best, ruleBest, seq))
	default:
		outcome = OutcomeDisagrees
		reason = fmt.Sprintf("DISAGREES: %s beat the rule's best, %s %s. %s", head, ruleBest.Model, fmtSpeed(*ruleBest), explainGap(best, ruleBest, seq))
	}
	if outcome == OutcomeAgrees {
		rs := []Row{best, seq}
		if ruleBest != nil {
			rs = append(rs, *ruleBest)
		}
		if noise := noiseOf(rs...); noise != "" {
			outcome = OutcomeUnclear
			reason = "UNCLEAR because of measured noise (" + noise + "); the figures lean to: " + reason
		}
	}
	return best, outcome, reason, ties, true
}

// fullTasks is the number of tasks of workload w in a full run.
func fullTasks(w string) int { return sizes(false)[w].Tasks }

// startUpAteGap reports whether the rule's best row ruleBest, a model with
// worker processes, lost to best by no more wall time than its own measured
// start and stop, in a run with fewer tasks than the full run: the loss is
// then the price of starting processes for a short run, which the full
// run's longer one pays back or not, and the run cannot say the rule fails.
func startUpAteGap(w string, best, ruleBest Row) bool {
	procs := ruleBest.Family == FamilyProcesses || offloadsToProcesses(ruleBest.Model)
	gap := ruleBest.WallMS - best.WallMS
	return procs && ruleBest.Tasks > 0 && ruleBest.Tasks < fullTasks(w) && ruleBest.StartStopMS > 0 && gap <= ruleBest.StartStopMS
}

// adviseFamily is the lab family of an advise model.
func adviseFamily(m advise.Model) string {
	switch m {
	case advise.Threads:
		return FamilyThreads
	case advise.EventLoop:
		return FamilyEventLoop
	}
	return FamilyProcesses
}

// adviseVsLab says in words whether advise's recommendation matches the
// measured best model of each runtime: it does when a model of advise's
// family is the best or tied with it, by the verdicts' own test (within:
// the spreads overlap or are within 5%), so that the advise line never
// calls a difference what the verdict line calls a tie.
func adviseVsLab(a advise.Advice, w string, rows []Row, bests []Row) (bool, string) {
	fam := adviseFamily(a.Model)
	agrees := true
	var parts []string
	for _, best := range bests {
		var mine *Row
		for _, r := range rows {
			if r.Workload == w && r.Runtime == best.Runtime && r.Error == "" && r.Speedup > 0 && (r.Family == fam || (fam == FamilyProcesses && offloadsToProcesses(r.Model))) {
				if mine == nil || r.Speedup > mine.Speedup {
					rr := r
					mine = &rr
				}
			}
		}
		switch {
		case best.Family == fam || (fam == FamilyProcesses && offloadsToProcesses(best.Model)):
			parts = append(parts, fmt.Sprintf("%s: agrees, the best was %s %s", best.Runtime, best.Model, fmtSpeed(best)))
		case mine != nil && within(*mine, best):
			parts = append(parts, fmt.Sprintf("%s: agrees within the spread or 5%%, %s %s against the best %s %s", best.Runtime, mine.Model, fmtSpeed(*mine), best.Model, fmtSpeed(best)))
		case mine == nil:
			agrees = false
			parts = append(parts, fmt.Sprintf("%s: DIFFERS, no %s model ran; the best was %s %s", best.Runtime, fam, best.Model, fmtSpeed(best)))
		default:
			agrees = false
			parts = append(parts, fmt.Sprintf("%s: DIFFERS, the best was %s %s (%s) and advise's kind did no better than %s %s",
				best.Runtime, best.Model, fmtSpeed(best), best.Family, mine.Model, fmtSpeed(*mine)))
		}
	}
	head := fmt.Sprintf("advise recommends %s (%s)", a.Model, a.Class)
	if len(parts) == 0 {
		return true, head + "; no row to compare with"
	}
	return agrees, head + "; measured: " + strings.Join(parts, "; ")
}
