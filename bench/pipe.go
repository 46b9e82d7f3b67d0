package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Suite pipe: `trident run -j2 --pipe wc -l` and `--pipepart` over a file of
// generated lines, against GNU parallel --pipe (outside quick mode, when
// installed) and split-then-xargs done by hand, in interleaved rounds; ns
// per MB, MB/s and the peak RSS of the runner process.
func init() {
	register(Suite{Name: "pipe", About: "trident run --pipe/--pipepart wc -l vs GNU parallel --pipe and split+xargs -P2", Run: pipeSuite})
}

func pipeSuite(cfg Config) (*Report, error) {
	dir, err := os.MkdirTemp("", "trident-bench-pipe")
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
	size, rounds := int64(1<<30), 3
	if cfg.Quick {
		size, rounds = 32<<20, 3
	}
	if s := os.Getenv("TRIDENT_BENCH_PIPE_MB"); s != "" {
		if mb, err := strconv.Atoi(s); err == nil && mb > 0 {
			size = int64(mb) << 20
		}
	}
	in := filepath.Join(dir, "lines")
	lines, err := writeLines(in, size)
	if err != nil {
		return nil, err
	}
	mb := float64(size) / (1 << 20)
	rep := &Report{Ratios: map[string]float64{}}
	type contender struct {
		name string
		run  func() (rssKB int64, out string, err error)
	}
	sh := func(script string) func() (int64, string, error) {
		return func() (int64, string, error) { return runRSS("/bin/sh", "-c", script) }
	}
	cs := []contender{
		{name: "trident --pipe -j2", run: sh(fmt.Sprintf("%s run -j2 --pipe --block 1M 'wc -l' < %s", bin, in))},
		{name: "trident --pipepart -j2", run: sh(fmt.Sprintf("%s run -j2 --pipepart --block 1M -a %s 'wc -l'", bin, in))},
		{name: "split+xargs -P2", run: sh(fmt.Sprintf("rm -rf %[1]s/s && mkdir %[1]s/s && split -C 1M %[2]s %[1]s/s/p && ls %[1]s/s/p* | xargs -P2 -n1 wc -l", dir, in))},
	}
	if _, err := exec.LookPath("parallel"); err == nil && !cfg.Quick {
		cs = append(cs, contender{name: "GNU parallel --pipe -j2", run: sh(fmt.Sprintf("parallel --will-cite -j2 --pipe --block 1M 'wc -l' < %s", in))})
	} else if cfg.Quick {
		rep.Notes = append(rep.Notes, "GNU parallel left out in quick mode")
	} else {
		rep.Notes = append(rep.Notes, "GNU parallel not installed: no comparison")
	}
	times := map[string][]time.Duration{}
	rss := map[string]int64{}
	for r := 0; r < rounds; r++ {
		for _, c := range cs {
			t0 := time.Now()
			kb, out, err := c.run()
			el := time.Since(t0)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", c.name, err)
			}
			if n := sumInts(out); n != lines {
				return nil, fmt.Errorf("%s counted %d lines, want %d", c.name, n, lines)
			}
			times[c.name] = append(times[c.name], el)
			rss[c.name] = max(rss[c.name], kb)
		}
	}
	med := map[string]float64{}
	for _, c := range cs {
		ts := times[c.name]
		sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
		med[c.name] = float64(ts[len(ts)/2].Nanoseconds()) / mb
		rep.Rows = append(rep.Rows, Row{Name: c.name, NsPerTask: med[c.name], AllocsPerTask: -1,
			Extra: map[string]float64{"mb_per_s": 1e9 / med[c.name], "peak_rss_kb": float64(rss[c.name])}})
	}
	tp, pp := med["trident --pipe -j2"], med["trident --pipepart -j2"]
	rep.Ratios["split+xargs"] = med["split+xargs -P2"] / tp
	if g, ok := med["GNU parallel --pipe -j2"]; ok {
		rep.Ratios["parallel --pipe"] = g / tp
		rep.Ratios["parallel --pipe vs --pipepart"] = g / pp
	}
	rep.Ratios["split+xargs vs --pipepart"] = med["split+xargs -P2"] / pp
	rep.Notes = append(rep.Notes, fmt.Sprintf("%.0f MB of lines, --block 1M, median of %d interleaved rounds; ns_per_task is ns per MB; peak_rss_kb is the largest of the shell's waited-for processes (wait4's ru_maxrss), so about the runner's", mb, rounds))
	return rep, nil
}

// writeLines writes about size bytes of numbered lines and returns how many.
func writeLines(path string, size int64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	var n int64
	lines := 0
	buf := make([]byte, 0, 64)
	for n < size {
		buf = strconv.AppendInt(buf[:0], int64(lines)*7919, 10)
		buf = append(buf, " some text to make the line longer\n"...)
		w.Write(buf)
		n += int64(len(buf))
		lines++
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return 0, err
	}
	return lines, f.Close()
}

func runRSS(name string, args ...string) (int64, string, error) {
	c := exec.Command(name, args...)
	out, err := c.Output()
	if err != nil {
		return 0, string(out), err
	}
	var kb int64
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		kb = ru.Maxrss
	}
	return kb, string(out), nil
}

func sumInts(s string) int {
	n := 0
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Split(bufio.ScanWords)
	for sc.Scan() {
		if v, err := strconv.Atoi(sc.Text()); err == nil {
			n += v
		}
	}
	return n
}
