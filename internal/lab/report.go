package lab

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteJSON writes the result as one indented JSON object: "rows" (each with
// "workload", "model", "runtime" and the figures), "verdicts" (each with
// "workload" and "best_model"), and the machine, workloads and notes.
func (r *Result) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", " ")
	return enc.Encode(r)
}

func fmtMS(v float64) string {
	switch {
	case v >= 10000:
		return fmt.Sprintf("%.1fs", v/1000)
	case v >= 1000:
		return fmt.Sprintf("%.2fs", v/1000)
	default:
		return fmt.Sprintf("%.0fms", v)
	}
}

func fmtKB(kb int64) string {
	if kb <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fMiB", float64(kb)/1024)
}

func fmtUS(us float64) string {
	switch {
	case us <= 0:
		return "-"
	case us >= 1000:
		return fmt.Sprintf("%.1fms", us/1000)
	default:
		return fmt.Sprintf("%.1fµs", us)
	}
}

// WriteTable writes the rows, the verdicts and the notes as plain-text
// tables for a terminal.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	if r.Machine.BusyBefore != "" {
		fmt.Fprintf(&b, "trident lab: THE MACHINE WAS BUSY BEFORE THE START (%s): expect UNCLEAR claims\n", r.Machine.BusyBefore)
	} else {
		b.WriteString("trident lab: the machine was quiet before the start\n")
	}
	fmt.Fprintf(&b, "trident lab: %d cores, %s", r.Machine.Cores, r.Machine.GoVersion)
	if r.Machine.Python != "" {
		fmt.Fprintf(&b, ", CPython %s", r.Machine.Python)
	}
	fmt.Fprintf(&b, ", load average %.1f -> %.1f", r.Machine.LoadAvg[0], r.Machine.LoadAvg[1])
	fmt.Fprintf(&b, ", %d interleaved rounds per row", r.Rounds)
	if r.Quick {
		b.WriteString(" (quick run: fewer models and rounds)")
	}
	b.WriteString("\n\n")
	for _, wl := range r.Workloads {
		fmt.Fprintf(&b, "%s: %s\n", wl.Name, wl.About)
	}
	b.WriteString("\n")
	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "workload\tmodel\truntime\tworkers\twall (median)\tcpu\tspeedup\tspread\twaited\tpeak mem\toverhead/task\t")
	last := ""
	for _, row := range r.Rows {
		if last != "" && row.Workload != last {
			fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
		}
		last = row.Workload
		if row.Error != "" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\tFAILED\t\t\t\t\t\t\t\n", row.Workload, row.Model, row.Runtime, row.Workers)
			continue
		}
		waited := "-"
		if row.WaitedRounds > 0 {
			waited = fmt.Sprintf("%d/%d", row.WaitedRounds, len(row.Rounds))
			if row.Waited {
				waited += " WAITED"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%.2fx\t%.2f-%.2f\t%s\t%s\t%s\t\n", row.Workload, row.Model, row.Runtime, row.Workers,
			fmtMS(row.WallMS), fmtMS(row.CPUMS), row.Speedup, lo(row), hi(row), waited, fmtKB(row.PeakRSSKB), fmtUS(row.OverheadUSPerTask))
	}
	tw.Flush()
	for _, row := range r.Rows {
		if row.Error != "" {
			fmt.Fprintf(&b, "FAILED %s/%s (%s): %s\n", row.Workload, row.Model, row.Runtime, row.Error)
		}
	}
	b.WriteString("\nVerdicts (best = highest median speedup over sequential, same runtime; spread = min-max over the rounds)\n")
	tw = tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "workload\tbest (go)\tbest (cpython)\tarticles' rule\tgo\tcpython\tadvise says\tadvise vs measured")
	for _, v := range r.Verdicts {
		cp, cpa := "-", "-"
		if v.CPythonBestModel != "" {
			cp, cpa = fmt.Sprintf("%s %.2fx (%.2f-%.2f)", v.CPythonBestModel, v.CPythonBestSpeedup, v.CPythonBestSpeedupLo, v.CPythonBestSpeedupHi), outcomeWord(v.CPythonOutcome)
		}
		fmt.Fprintf(tw, "%s\t%s %.2fx (%.2f-%.2f)\t%s\t%s\t%s\t%s\t%s -> %s\t%s\n", v.Workload, v.BestModel, v.BestSpeedup, v.BestSpeedupLo, v.BestSpeedupHi, cp,
			rules[v.Workload].family, outcomeWord(v.Outcome), cpa, v.Advise, v.AdviseModel, map[bool]string{true: "agrees", false: "DIFFERS"}[v.AdviseAgrees])
	}
	tw.Flush()
	b.WriteString("\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(&b, "%s (go): %s\n", v.Workload, v.Reason)
		if v.CPythonReason != "" {
			fmt.Fprintf(&b, "%s (cpython): %s\n", v.Workload, v.CPythonReason)
		}
		if v.AdviseVsLab != "" {
			fmt.Fprintf(&b, "%s (advise): %s\n", v.Workload, v.AdviseVsLab)
		}
	}
	writeClaimsText(&b, r)
	if len(r.Notes) > 0 {
		b.WriteString("\nNotes:\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "  - %s\n", n)
		}
	}
	fmt.Fprintf(&b, "\n(run took %.1fs)\n", r.Duration)
	_, err := io.WriteString(w, b.String())
	return err
}

// outcomeWord is a verdict outcome for the terminal.
func outcomeWord(o string) string {
	switch o {
	case OutcomeAgrees:
		return "agrees"
	case OutcomeDisagrees:
		return "DISAGREES"
	case OutcomeUnclear:
		return "UNCLEAR"
	}
	return "-"
}

// claimMark is the one-word outcome of a claim in the terminal.
func claimMark(h string) string {
	switch h {
	case HoldsYes:
		return "HOLDS"
	case HoldsNo:
		return "DOES NOT HOLD"
	case HoldsUnclear:
		return "UNCLEAR"
	}
	return "NOT MEASURED"
}

func checkMark(c Check) string {
	m := map[string]string{HoldsYes: "ok", HoldsNo: "NO", HoldsUnclear: "??"}[c.Result]
	if c.Side {
		return "(" + m + ", context)"
	}
	return m
}

// writeClaimsText writes the Claims section: each claim, its outcome, the
// checks with their figures and the explanation.
func writeClaimsText(b *strings.Builder, r *Result) {
	if len(r.Claims) == 0 {
		return
	}
	fmt.Fprintf(b, "\nClaims of the articles, checked (speeds up = speedup >= %.2fx on %d cores; no speedup = <= %.2fx)\n",
		r.ClaimThresholds.SpeedsUp, r.Machine.Cores, r.ClaimThresholds.NoSpeedup)
	for i, c := range r.Claims {
		fmt.Fprintf(b, "%d. %s: %s", i+1, c.Claim, claimMark(c.Holds))
		if c.Leaning != "" {
			fmt.Fprintf(b, " (noise; the figures lean to %s)", claimMark(c.Leaning))
		} else if c.Noisy {
			b.WriteString(" (noisy rows)")
		}
		b.WriteString("\n")
		for _, ch := range c.Checks {
			fmt.Fprintf(b, "     %-4s %s\n", checkMark(ch), ch.Check)
		}
		fmt.Fprintf(b, "     => %s\n", c.Explanation)
	}
}
