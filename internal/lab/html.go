package lab

import (
	"fmt"
	"html"
	"io"
	"math"
	"slices"
	"strings"
)

// Colours of the charts.
var (
	familyColor = map[string]string{
		FamilySequential: "#8c8c8c",
		FamilyThreads:    "#4c78a8",
		FamilyProcesses:  "#f58518",
		FamilyEventLoop:  "#54a24b",
	}
	gilColor  = "#b279a2" // threads under a GIL: Go's emulated one, CPython's real one
	kindColor = map[string]string{
		KindRun:     "#4c78a8",
		KindReady:   "#9ecae9",
		KindWait:    "#c9c9c9",
		KindGILHeld: "#e45756",
		KindGILWait: "#f2cf5b",
	}
)

// gilBound reports whether a row's threads run under a GIL: Go's
// threads-gil, and CPython's threading and thread pool unless the
// interpreter is a free-threaded build running without it.
func gilBound(r Row, m Machine) bool {
	switch {
	case r.Model == "threads-gil":
		return true
	case r.Runtime == RuntimeCPython && (r.Model == "threading" || r.Model == "thread-pool"):
		return !m.PythonNoGIL
	}
	return false
}

func esc(s string) string { return html.EscapeString(s) }

func barColor(r Row, m Machine) string {
	if gilBound(r, m) {
		return gilColor
	}
	if c, ok := familyColor[r.Family]; ok {
		return c
	}
	return "#999"
}

// WriteHTML writes one self-contained page: no scripts, styles, fonts or
// images from the network. It has the verdicts, a speedup chart per runtime,
// a timeline per row (the articles' diagrams drawn from the run) and the
// table of figures. A small inline script records, on each chart, the size
// it rendered at (data-rendered), so a headless browser can check it.
func (r *Result) WriteHTML(w io.Writer) error {
	var b strings.Builder
	b.WriteString(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>trident lab: Python's concurrency rule, measured</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:24px auto;max-width:1000px;color:#222;line-height:1.4;padding:0 12px}
h1{font-size:1.6em;margin-bottom:0}h2{margin-top:1.8em;border-bottom:1px solid #ddd}h3{margin-bottom:.3em}
table{border-collapse:collapse;font-size:13px;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 7px;text-align:left;vertical-align:top}
th{background:#f4f4f4}td.num{text-align:right;font-variant-numeric:tabular-nums}
.no{color:#b00;font-weight:600}.yes{color:#070;font-weight:600}.muted{color:#666;font-size:13px}
svg{display:block;margin:4px 0 14px 0}svg text{font-family:inherit}
figure{margin:0 0 10px 0}figcaption{font-size:13px;font-weight:600}
.claim{margin:10px 0;padding:6px 10px;border-left:5px solid #999}.claim.claim-yes{border-color:#070}.claim.claim-no{border-color:#b00}.claim.claim-unclear{border-color:#d90}
.claim p{margin:4px 0}.claim ul{margin:2px 0;padding-left:20px;font-size:13px}.unclear{color:#a60;font-weight:600}
.legend span{display:inline-block;margin-right:14px;font-size:13px}.legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-1px}
</style></head><body>
`)
	b.WriteString("<h1>trident lab</h1>\n")
	if r.Machine.BusyBefore != "" {
		fmt.Fprintf(&b, "<p class=\"no\">The machine was busy before the start (%s): expect UNCLEAR claims.</p>\n", esc(r.Machine.BusyBefore))
	} else {
		b.WriteString("<p class=\"muted\">The machine was quiet before the start.</p>\n")
	}
	fmt.Fprintf(&b, "<p class=\"muted\">%d cores, %s %s/%s", r.Machine.Cores, esc(r.Machine.GoVersion), esc(r.Machine.GOOS), esc(r.Machine.GOARCH))
	if r.Machine.Python != "" {
		fmt.Fprintf(&b, ", CPython %s", esc(r.Machine.Python))
	}
	fmt.Fprintf(&b, "; started %s, took %.1f s; load average %.1f &rarr; %.1f", esc(r.Started), r.Duration, r.Machine.LoadAvg[0], r.Machine.LoadAvg[1])
	fmt.Fprintf(&b, "; %d interleaved rounds per row", r.Rounds)
	if r.Quick {
		b.WriteString("; <b>quick run</b> (fewer models and rounds)")
	}
	b.WriteString("</p>\n")
	b.WriteString(`<p>The articles' rule: <b>CPU-bound work to processes</b> (the GIL lets one thread run Python at a time),
<b>fast I/O to threads</b> (waiting releases the GIL), <b>slow I/O to an event loop</b> (many waits, one thread).
This page is that claim measured on this machine, in Go and in CPython, with each model's timeline drawn from the run.</p>
`)
	b.WriteString("<h2>Workloads</h2>\n<ul>\n")
	for _, wl := range r.Workloads {
		fmt.Fprintf(&b, "<li><b>%s</b>: %s</li>\n", esc(wl.Name), esc(wl.About))
	}
	b.WriteString("</ul>\n")

	writeClaimsHTML(&b, r)
	writeVerdicts(&b, r)

	b.WriteString("<h2 id=\"speedup\">Speedup over sequential</h2>\n")
	b.WriteString(`<div class="legend">`)
	for _, f := range []struct{ name, color string }{{"sequential", familyColor[FamilySequential]}, {"threads under a GIL (CPython threading and thread pools, Go's emulated GIL)", gilColor},
		{"free threads (Go goroutines and threadpool)", familyColor[FamilyThreads]}, {"processes", familyColor[FamilyProcesses]}, {"event loop", familyColor[FamilyEventLoop]}} {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s</span>`, f.color, esc(f.name))
	}
	b.WriteString("</div>\n")
	for _, rt := range []string{RuntimeGo, RuntimeCPython} {
		if !slices.ContainsFunc(r.Rows, func(x Row) bool { return x.Runtime == rt }) {
			if rt == RuntimeCPython {
				b.WriteString("<p class=\"muted\">No CPython rows in this run (see the notes).</p>\n")
			}
			continue
		}
		title := "Go"
		if rt == RuntimeCPython {
			title = "CPython " + r.Machine.Python
		}
		fmt.Fprintf(&b, "<h3>%s</h3>\n", esc(title))
		speedupChart(&b, r, rt)
	}

	b.WriteString("<h2 id=\"timelines\">Timelines</h2>\n<p>One bar per worker, thread, process or task (a lane); time runs left to right from the start of the run, on <b>one time scale for all the models of a workload</b>, so their lengths compare by eye. ")
	b.WriteString("Dark blue is a lane computing; light blue a lane that had computing to do but waited for a core or for CPython's GIL (measured per chunk of work from the thread's CPU time): on 2 cores at most two lanes are dark at once. ")
	b.WriteString("Under the emulated GIL, red is a thread holding the lock and yellow a thread waiting for it: CPU-bound threads take turns, sleeping ones overlap. Each chart is the round whose wall time was the median; the table under it has the medians and spreads of all rounds.</p>\n")
	b.WriteString(`<div class="legend">`)
	for _, k := range []struct{ kind, label string }{{KindRun, "running (computing)"}, {KindReady, "ready, waiting for a core or the GIL"}, {KindWait, "waiting (I/O, sleep)"}, {KindGILHeld, "holding the GIL"}, {KindGILWait, "waiting for the GIL"}} {
		fmt.Fprintf(&b, `<span><i style="background:%s"></i>%s</span>`, kindColor[k.kind], esc(k.label))
	}
	b.WriteString("</div>\n")
	for _, wl := range r.Workloads {
		scale := 0.0 // one time scale for every row of the workload
		for _, row := range r.Rows {
			if row.Workload == wl.Name && row.Error == "" {
				scale = math.Max(scale, rowEndUS(row))
			}
		}
		fmt.Fprintf(&b, "<h3 id=\"timeline-%s\">%s</h3>\n", esc(wl.Name), esc(wl.Name))
		for _, row := range r.Rows {
			if row.Workload != wl.Name || row.Error != "" {
				continue
			}
			fmt.Fprintf(&b, "<figure><figcaption>%s (%s): %s wall, speedup %.2fx, workers: %d", esc(row.Model), esc(row.Runtime), fmtMS(row.WallMS), row.Speedup, row.Workers)
			if row.GIL != nil {
				fmt.Fprintf(&b, "; GIL: %d switches, %d drop requests", row.GIL.Switches, row.GIL.DropRequests)
			}
			b.WriteString("</figcaption>\n")
			timeline(&b, row, scale)
			statsTable(&b, row)
			b.WriteString("</figure>\n")
		}
	}

	b.WriteString("<h2>All figures</h2>\n<table><tr><th>workload</th><th>model</th><th>runtime</th><th>workers</th><th>wall (median)</th><th>CPU</th><th>speedup (median, min&ndash;max)</th><th>peak memory</th><th>overhead per task</th></tr>\n")
	for _, row := range r.Rows {
		if row.Error != "" {
			fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td colspan=\"6\" class=\"no\">failed: %s</td></tr>\n", esc(row.Workload), esc(row.Model), esc(row.Runtime), esc(row.Error))
			continue
		}
		fmt.Fprintf(&b, "<tr><td>%s</td><td>%s</td><td>%s</td><td class=\"num\">%d</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n",
			esc(row.Workload), esc(row.Model), esc(row.Runtime), row.Workers, fmtMS(row.WallMS), fmtMS(row.CPUMS), esc(fmtSpeed(row)), fmtKB(row.PeakRSSKB), esc(fmtUS(row.OverheadUSPerTask)))
	}
	b.WriteString("</table>\n")
	if len(r.Notes) > 0 {
		b.WriteString("<h2>Notes</h2>\n<ul>\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "<li>%s</li>\n", esc(n))
		}
		b.WriteString("</ul>\n")
	}
	b.WriteString(`<script>
(function(){
  var charts = document.querySelectorAll("svg.chart"), ok = 0;
  for (var i = 0; i < charts.length; i++) {
    var s = charts[i], r = s.getBoundingClientRect(), bars = s.querySelectorAll("rect.bar"), vis = 0;
    for (var j = 0; j < bars.length; j++) { var q = bars[j].getBoundingClientRect(); if (q.width > 0 && q.height > 0) vis++; }
    s.setAttribute("data-rendered", Math.round(r.width) + "x" + Math.round(r.height));
    s.setAttribute("data-visible-bars", vis);
    if (r.width > 0 && r.height > 0 && vis > 0) ok++;
  }
  document.body.setAttribute("data-charts", charts.length);
  document.body.setAttribute("data-charts-ok", ok);
})();
</script>
</body></html>
`)
	_, err := io.WriteString(w, b.String())
	return err
}

func writeVerdicts(b *strings.Builder, r *Result) {
	b.WriteString("<h2 id=\"verdicts\">Verdicts</h2>\n<p class=\"muted\">Best = highest median speedup over sequential; the spread (min&ndash;max over the rounds) follows it. A verdict disagrees only when the spreads separate on rows that did not wait for a core; otherwise it is unclear.</p>\n")
	b.WriteString("<table><tr><th>workload</th><th>articles' rule</th><th>best in Go</th><th>Go</th><th>best in CPython</th><th>CPython</th><th>advise's classification</th><th>advise vs measured</th></tr>\n")
	for _, v := range r.Verdicts {
		cp, cpa := "-", "-"
		if v.CPythonBestModel != "" {
			cp = fmt.Sprintf("%s %.2fx (%.2f&ndash;%.2f)", esc(v.CPythonBestModel), v.CPythonBestSpeedup, v.CPythonBestSpeedupLo, v.CPythonBestSpeedupHi)
			cpa = outcomeHTML(v.CPythonOutcome)
		}
		fmt.Fprintf(b, "<tr><td><b>%s</b></td><td>%s</td><td>%s %.2fx (%.2f&ndash;%.2f)</td><td>%s</td><td>%s</td><td>%s</td><td>%s &rarr; %s</td><td>%s</td></tr>\n",
			esc(v.Workload), esc(v.Rule), esc(v.BestModel), v.BestSpeedup, v.BestSpeedupLo, v.BestSpeedupHi, outcomeHTML(v.Outcome), cp, cpa,
			esc(v.Advise), esc(v.AdviseModel), yesNoHTML(v.AdviseAgrees, "agrees", "differs"))
	}
	b.WriteString("</table>\n<ul>\n")
	for _, v := range r.Verdicts {
		fmt.Fprintf(b, "<li><b>%s, Go</b>: %s</li>\n", esc(v.Workload), esc(v.Reason))
		if v.CPythonReason != "" {
			fmt.Fprintf(b, "<li><b>%s, CPython</b>: %s</li>\n", esc(v.Workload), esc(v.CPythonReason))
		}
		if v.AdviseVsLab != "" {
			fmt.Fprintf(b, "<li><b>%s, advise</b>: %s</li>\n", esc(v.Workload), esc(v.AdviseVsLab))
		}
		fmt.Fprintf(b, "<li class=\"muted\">%s, advise's profile: %s</li>\n", esc(v.Workload), esc(v.AdviseReason))
	}
	b.WriteString("</ul>\n")
}

func outcomeHTML(o string) string {
	switch o {
	case OutcomeAgrees:
		return `<span class="yes">agrees</span>`
	case OutcomeDisagrees:
		return `<span class="no">disagrees</span>`
	case OutcomeUnclear:
		return `<span class="unclear">unclear</span>`
	}
	return "-"
}

func yesNoHTML(ok bool, yes, no string) string {
	if ok {
		return `<span class="yes">` + yes + `</span>`
	}
	return `<span class="no">` + no + `</span>`
}

// speedupChart draws horizontal bars: one group per workload, one bar per
// model of runtime rt.
func speedupChart(b *strings.Builder, r *Result, rt string) {
	const (
		width  = 900
		labelW = 190
		barH   = 15
		gap    = 4
		groupH = 22
		top    = 24
	)
	plotW := float64(width - labelW - 70)
	maxS := float64(r.Machine.Cores)
	for _, row := range r.Rows {
		if row.Runtime == rt {
			maxS = math.Max(maxS, hi(row))
		}
	}
	maxS = math.Ceil(maxS)
	x := func(s float64) float64 { return float64(labelW) + s/maxS*plotW }
	var body strings.Builder
	y := top
	for _, wl := range r.Workloads {
		fmt.Fprintf(&body, `<text x="0" y="%d" font-size="13" font-weight="600">%s</text>`+"\n", y+15, esc(wl.Name))
		y += groupH
		for _, row := range r.Rows {
			if row.Runtime != rt || row.Workload != wl.Name {
				continue
			}
			fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="12" text-anchor="end">%s</text>`+"\n", labelW-6, y+barH-3, esc(row.Model))
			if row.Error != "" {
				fmt.Fprintf(&body, `<text x="%d" y="%d" font-size="12" fill="#b00">failed</text>`+"\n", labelW+4, y+barH-3)
			} else {
				w := math.Max(1, x(row.Speedup)-float64(labelW))
				fmt.Fprintf(&body, `<rect class="bar" x="%d" y="%d" width="%.1f" height="%d" fill="%s"><title>%s %s: %.2fx (%s wall)</title></rect>`+"\n",
					labelW, y, w, barH, barColor(row, r.Machine), esc(wl.Name), esc(row.Model), row.Speedup, fmtMS(row.WallMS))
				if h := hi(row); h > lo(row) {
					fmt.Fprintf(&body, `<line class="spread" x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#222" stroke-width="1.5"><title>spread over the rounds: %.2fx-%.2fx</title></line>`+"\n",
						x(lo(row)), y+barH/2, x(h), y+barH/2, lo(row), h)
				}
				label := fmt.Sprintf("%.2fx", row.Speedup)
				if hi(row) > lo(row) {
					label += fmt.Sprintf(" (%.2f&#8211;%.2f)", lo(row), hi(row))
				}
				if row.Waited {
					label += " waited"
				}
				fmt.Fprintf(&body, `<text x="%.1f" y="%d" font-size="12">%s</text>`+"\n", math.Max(float64(labelW)+w, x(hi(row)))+4, y+barH-3, label)
			}
			y += barH + gap
		}
		y += 6
	}
	height := y + 10
	fmt.Fprintf(b, `<svg class="chart speedup" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="speedup per model, %s">`+"\n", width, height, width, height, rt)
	// Grid: 1x (no gain) and every whole speedup.
	for s := 0.0; s <= maxS; s++ {
		stroke, dash := "#e3e3e3", ""
		if s == 1 {
			stroke, dash = "#555", ` stroke-dasharray="4 3"`
		}
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="%s"%s/>`+"\n", x(s), top-6, x(s), height-10, stroke, dash)
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="11" text-anchor="middle" fill="#555">%gx</text>`+"\n", x(s), top-10, s)
	}
	b.WriteString(body.String())
	b.WriteString("</svg>\n")
}

// rowEndUS is where a row's timeline ends: its wall time or its last span.
func rowEndUS(row Row) float64 {
	end := row.WallMS * 1e3
	for _, s := range row.Spans {
		end = math.Max(end, s.EndUS)
	}
	return end
}

// statsTable writes the small table under a timeline: medians and spreads
// over the rounds, and the measured noise.
func statsTable(b *strings.Builder, row Row) {
	waited := "no"
	if row.WaitedRounds > 0 {
		waited = fmt.Sprintf("%d of %d rounds", row.WaitedRounds, len(row.Rounds))
	}
	cls := ""
	if row.Waited {
		cls = ` class="unclear"`
	}
	fmt.Fprintf(b, `<table class="stats"><tr><th>rounds</th><th>wall, median (min&ndash;max)</th><th>CPU, median</th><th>cores busy</th><th>speedup, median (min&ndash;max)</th><th>run-queue wait, median</th><th>other programs' CPU share</th><th>waited for a core</th></tr>`+
		`<tr><td class="num">%d</td><td class="num">%s (%s&ndash;%s)</td><td class="num">%s</td><td class="num">%.2f</td><td class="num">%.2fx (%.2f&ndash;%.2f)</td><td class="num">%s</td><td class="num">%.0f%%</td><td%s>%s</td></tr></table>`+"\n",
		len(row.Rounds), fmtMS(row.WallMS), fmtMS(row.WallMinMS), fmtMS(row.WallMaxMS), fmtMS(row.CPUMS), coresBusy(row),
		row.Speedup, lo(row), hi(row), fmtMS(row.RunQueueMS), 100*row.OthersCPUShare, cls, waited)
}

// timeline draws one row's spans: one lane per worker, thread, process or
// task, on a time scale of scaleUS microseconds (shared by the rows of a
// workload; 0: the row's own end).
func timeline(b *strings.Builder, row Row, scaleUS float64) {
	const (
		width  = 900
		labelW = 64
		laneH  = 12
		gap    = 3
		top    = 18
	)
	plotW := float64(width - labelW - 10)
	var laneIDs []int
	end := math.Max(scaleUS, rowEndUS(row))
	for _, s := range row.Spans {
		if !slices.Contains(laneIDs, s.Lane) {
			laneIDs = append(laneIDs, s.Lane)
		}
	}
	slices.Sort(laneIDs)
	if len(laneIDs) == 0 {
		laneIDs = []int{0}
	}
	if end <= 0 {
		end = 1
	}
	x := func(us float64) float64 { return float64(labelW) + math.Max(0, us)/end*plotW }
	height := top + len(laneIDs)*(laneH+gap) + 6
	fmt.Fprintf(b, `<svg class="chart timeline" data-workload="%s" data-scale-us="%.0f" xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" role="img" aria-label="timeline of %s, %s, %s">`+"\n",
		esc(row.Workload), end, width, height, width, height, esc(row.Workload), esc(row.Model), esc(row.Runtime))
	for i := 0; i <= 4; i++ {
		t := end * float64(i) / 4
		fmt.Fprintf(b, `<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#eee"/>`, x(t), top-4, x(t), height-4)
		anchor := "middle"
		if i == 4 {
			anchor = "end"
		}
		fmt.Fprintf(b, `<text x="%.1f" y="%d" font-size="10" fill="#666" text-anchor="%s">%s</text>`+"\n", x(t), top-7, anchor, fmtMS(t/1e3))
	}
	laneY := map[int]int{}
	lname := "lane"
	switch {
	case row.Model == "threads-gil" || row.Model == "goroutines" || row.Model == "threading":
		lname = "thread"
	case row.Family == FamilyProcesses:
		lname = "proc"
	case row.Family == FamilyEventLoop:
		lname = "task"
	case row.Family == FamilyThreads || row.Family == FamilySequential:
		lname = "worker"
	}
	for i, id := range laneIDs {
		y := top + i*(laneH+gap)
		laneY[id] = y
		fmt.Fprintf(b, `<text x="0" y="%d" font-size="10" fill="#444">%s %d</text>`, y+laneH-2, lname, id)
		fmt.Fprintf(b, `<rect x="%d" y="%d" width="%.0f" height="%d" fill="#f7f7f7"/>`+"\n", labelW, y, plotW, laneH)
	}
	// Waits first, so runs and lock holds are drawn on top.
	order := []string{KindWait, KindGILWait, KindReady, KindRun, KindGILHeld}
	for _, kind := range order {
		for _, s := range row.Spans {
			if s.Kind != kind {
				continue
			}
			x0 := x(s.StartUS)
			w := math.Max(0.6, x(s.EndUS)-x0)
			c, ok := kindColor[s.Kind]
			if !ok {
				c = "#999"
			}
			fmt.Fprintf(b, `<rect class="bar %s" x="%.1f" y="%d" width="%.1f" height="%d" fill="%s"/>`, esc(s.Kind), x0, laneY[s.Lane], w, laneH, c)
		}
	}
	b.WriteString("\n</svg>\n")
}

// writeClaimsHTML writes the Claims section: each of the articles' claims,
// whether it held on this run, the checks with their figures, and the
// explanation.
func writeClaimsHTML(b *strings.Builder, r *Result) {
	if len(r.Claims) == 0 {
		return
	}
	fmt.Fprintf(b, "<h2 id=\"claims\">Claims</h2>\n<p class=\"muted\">Each of the articles' claims, checked against the rows of this run. Speeds up = a speedup over sequential of at least %.2fx (on %d cores); no speedup = at most %.2fx; in between is unclear. Context checks are shown but do not decide.</p>\n",
		r.ClaimThresholds.SpeedsUp, r.Machine.Cores, r.ClaimThresholds.NoSpeedup)
	for _, c := range r.Claims {
		cls, word := "none", "not measured"
		switch c.Holds {
		case HoldsYes:
			cls, word = "yes", "holds"
		case HoldsNo:
			cls, word = "no", "does not hold"
		case HoldsUnclear:
			cls, word = "unclear", "unclear"
		}
		fmt.Fprintf(b, "<div class=\"claim claim-%s\" id=\"claim-%s\"><p><b>%s</b> &mdash; <span class=\"%s\">%s</span>", cls, esc(c.ID), esc(c.Claim), cls, word)
		if c.Leaning != "" {
			fmt.Fprintf(b, ` <span class="muted">(measured noise; the figures lean to &ldquo;%s&rdquo;)</span>`, esc(strings.ToLower(claimMark(c.Leaning))))
		} else if c.Noisy {
			b.WriteString(` <span class="muted">(noisy rows)</span>`)
		}
		fmt.Fprintf(b, "</p>\n<p>%s</p>\n", esc(c.Explanation))
		if len(c.Checks) > 0 {
			b.WriteString("<ul>\n")
			for _, ch := range c.Checks {
				res := map[string]string{HoldsYes: `<span class="yes">fits</span>`, HoldsNo: `<span class="no">contradicts</span>`, HoldsUnclear: `<span class="unclear">unclear</span>`}[ch.Result]
				side := ""
				if ch.Side {
					side = ` <span class="muted">(context)</span>`
				}
				fmt.Fprintf(b, "<li>%s: %s%s</li>\n", esc(ch.Check), res, side)
			}
			b.WriteString("</ul>\n")
		}
		b.WriteString("</div>\n")
	}
}
