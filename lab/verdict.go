package lab

import (
	"fmt"
	"slices"

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

// noiseMargin: a model within this fraction of the best counts as a tie.
const noiseMargin = 0.10

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
		if best, agrees, reason, ok := judge(w, RuntimeGo, rows); ok {
			v.BestModel, v.BestFamily, v.BestSpeedup, v.Agrees, v.Reason = best.Model, best.Family, best.Speedup, agrees, reason
		} else {
			v.BestModel, v.Reason = "none", "no Go row of this workload succeeded"
		}
		if best, agrees, reason, ok := judge(w, RuntimeCPython, rows); ok {
			v.CPythonBestModel, v.CPythonBestSpeedup, v.CPythonAgrees, v.CPythonReason = best.Model, best.Speedup, agrees, reason
		}
		out = append(out, v)
	}
	return out
}

// judge picks the best row of one runtime for workload w and sets it against
// the articles' rule.
func judge(w, rt string, rows []Row) (best Row, agrees bool, reason string, ok bool) {
	var cand []Row
	for _, r := range rows {
		if r.Workload == w && r.Runtime == rt && r.Error == "" && r.Speedup > 0 {
			cand = append(cand, r)
		}
	}
	if len(cand) == 0 {
		return Row{}, false, "", false
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
	ru := rules[w]
	var ruleBest *Row
	for i := range cand {
		if ru.fits(cand[i]) {
			ruleBest = &cand[i]
			break
		}
	}
	head := fmt.Sprintf("%s %.2fx", best.Model, best.Speedup)
	if len(cand) > 1 && cand[1].Speedup >= best.Speedup*(1-noiseMargin) {
		head += fmt.Sprintf(" (a tie within noise with %s %.2fx)", cand[1].Model, cand[1].Speedup)
	}
	switch {
	case ru.fits(best):
		agrees = true
		reason = fmt.Sprintf("agrees: %s is the rule's kind of model", head)
	case ruleBest == nil:
		reason = fmt.Sprintf("cannot check the rule: no model of its kind ran; best was %s. %s", head, why(w, rt, best, nil))
	case ruleBest.Speedup >= best.Speedup*(1-noiseMargin):
		agrees = true
		reason = fmt.Sprintf("agrees within noise: %s, and the rule's %s %.2fx is within %.0f%%. But %s was at least as fast: %s", head, ruleBest.Model, ruleBest.Speedup, noiseMargin*100, best.Model, why(w, rt, best, ruleBest))
	default:
		reason = fmt.Sprintf("DISAGREES: %s beat the rule's best, %s %.2fx. %s", head, ruleBest.Model, ruleBest.Speedup, why(w, rt, best, ruleBest))
	}
	if best.Speedup < 1+noiseMargin {
		reason += " No model beat sequential by more than 10% here (a busy machine, or too little work to share)."
	}
	return best, agrees, reason, true
}

// why explains a disagreement in one sentence.
func why(w, rt string, best Row, ruleBest *Row) string {
	switch {
	case best.Model == "sequential":
		return "No model paid back its own overhead on this much work."
	case best.Model == "threads-gil" && w == CPUBound:
		return "The emulated GIL lets one thread compute at a time, so this win can only be noise: a busy machine slowed the sequential row (see the notes)."
	case best.Model == "threads-gil":
		return "Even under the emulated GIL, threads overlap their waits, and here the CPU part was too small (or the cores too busy) for parallel computing to pay off."
	case rt == RuntimeGo && best.Family == FamilyThreads && rules[w].family == FamilyProcesses:
		return "Go has no GIL: its threads (goroutines) compute in parallel like processes, without process start-up and argument copying, so the articles' GIL rule does not apply to the Go rows."
	case rt == RuntimeCPython && best.Family == FamilyThreads && rules[w].family == FamilyProcesses:
		return "CPython threads beat processes here: either this interpreter runs without the GIL, or the work was too small to pay for starting processes."
	case rules[w].family == FamilyThreads && best.Family == FamilyEventLoop:
		return "An event loop overlaps short waits as well as threads do, and starts no threads."
	case rules[w].family == FamilyEventLoop && best.Family == FamilyThreads:
		return fmt.Sprintf("With only %d waits, one thread per task overlaps them as well as an event loop; the loop's advantage (no thread per wait) shows at thousands of waits.", best.Tasks)
	case best.Family == FamilyProcesses:
		return "Processes overlap waits too, and here their start-up was paid back."
	case best.Family == FamilyEventLoop && ruleBest != nil && ruleBest.Family == FamilyProcesses:
		return "The event loop overlapped the waits, and its work per task was small enough to run on one core."
	default:
		return "Measured on this machine; the ranking may differ under less load or more cores."
	}
}
