package runner

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"
)

// progress draws --bar, --eta and --progress on stderr in GNU parallel's
// formats. Frames come as jobs finish, at most every 100ms, and a last one
// when the run ends (it stays: the bar ends at 100%).
type progress struct {
	w                   io.Writer
	tty                 bool
	width               int
	bar, eta, progress  bool
	cores               int
	start, last         time.Time
	smoothed            float64
	lastETA             int
	started, headerDone bool
}

func newProgress(o Options, w io.Writer, cores int) *progress {
	p := &progress{w: w, bar: o.Bar, eta: o.ETA, progress: o.Progress, cores: cores, start: time.Now(), width: 80}
	if f, ok := o.Stderr.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.tty = true
		if wd, _, err := term.GetSize(int(f.Fd())); err == nil && wd > 0 {
			p.width = wd
		}
	}
	return p
}

// secondsToUnits writes a duration as GNU parallel's seconds_to_time_units:
// 3d4h5m6s, leaving out the leading zero units.
func secondsToUnits(sec int) string {
	var b strings.Builder
	d, h, m := sec/86400, sec/3600%24, sec/60%60
	switch {
	case d > 0:
		fmt.Fprintf(&b, "%dd%02dh%02dm%02ds", d, h, m, sec%60)
	case h > 0:
		fmt.Fprintf(&b, "%dh%02dm%02ds", h, m, sec%60)
	case m > 0:
		fmt.Fprintf(&b, "%dm%02ds", m, sec%60)
	default:
		fmt.Fprintf(&b, "%ds", sec)
	}
	return b.String()
}

// update draws a frame: done jobs finished, running still running, total
// the number of jobs (-1 when unknown), last the newest job's values.
func (p *progress) update(now time.Time, done, running, total, slots int, last string, final bool) {
	if !final && now.Sub(p.last) < 100*time.Millisecond && p.started {
		return
	}
	p.started = true
	p.last = now
	if total < done+running {
		total = done + running
	}
	left := total - done
	pct, avg, eta := 0.0, 0.0, 0
	if done > 0 && total > 0 {
		pct = float64(done) / float64(total)
		// The rate is taken from the start of the run, so it is right from
		// the first frame; smoothed as GNU parallel smooths it.
		avg = now.Sub(p.start).Seconds() / float64(done)
		if p.smoothed == 0 {
			p.smoothed = avg
		}
		p.smoothed = (1-pct)*p.smoothed + pct*avg
		eta = int(float64(left) * p.smoothed)
		if float64(eta)*0.9 < float64(p.lastETA) && p.lastETA < eta {
			eta = p.lastETA
		} else {
			p.lastETA = eta
		}
	}
	var b strings.Builder
	if p.bar {
		text := fmt.Sprintf("%d%% %d:%d=%s %s", int(pct*100), done, left, secondsToUnits(eta), last)
		if p.tty {
			s := text + strings.Repeat(" ", max(0, p.width-len(text)))
			s = s[:p.width]
			at := int(float64(p.width) * pct)
			b.WriteString("\r\033[7m" + s[:at] + "\033[0m" + s[at:])
		} else {
			b.WriteString("\r" + text)
		}
	} else {
		if !p.headerDone {
			p.headerDone = true
			fmt.Fprintf(&b, "\nComputers / CPU cores / Max jobs to run\n1:local / %d / %d\n\n", p.cores, slots)
			b.WriteString("Computer:jobs running/jobs completed/%of started jobs/Average seconds to complete\n")
		}
		b.WriteString("\r")
		if p.eta {
			fmt.Fprintf(&b, "ETA: %ds Left: %d AVG: %.2fs  ", eta, left, avg)
		}
		startedPct := 0
		if done+running > 0 {
			startedPct = 100
		}
		fmt.Fprintf(&b, "local:%d/%d/%d%%/%.1fs ", running, done, startedPct, avg)
	}
	if final {
		b.WriteString("\n")
	}
	io.WriteString(p.w, b.String())
}
