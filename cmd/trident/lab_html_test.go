package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// findChromium returns Debian's chromium, installing it with .ci/setup when it
// is absent. It skips the test, with the reason, only when that fails.
func findChromium(t *testing.T) string {
	t.Helper()
	look := func() string {
		for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
			if p, err := exec.LookPath(name); err == nil {
				return p
			}
		}
		return ""
	}
	if p := look(); p != "" {
		return p
	}
	setup, err := filepath.Abs(filepath.Join("..", "..", ".ci", "setup"))
	if err != nil {
		t.Skipf("chromium is not installed and .ci/setup cannot be found: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, setup).CombinedOutput()
	if p := look(); p != "" {
		return p
	}
	tail := string(out)
	if len(tail) > 800 {
		tail = tail[len(tail)-800:]
	}
	t.Skipf("chromium is not installed and %s could not install it (%v): %s", setup, err, tail)
	return ""
}

// chromium runs headless Chromium with the flags this machine needs (no
// sandbox as root, no network chatter) and a fresh profile; the whole process
// group is killed if it hangs.
func chromium(t *testing.T, bin string, args ...string) []byte {
	t.Helper()
	profile := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir=" + profile}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 10 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

// The HTML report opened in a real browser: every chart renders with a
// non-zero size and visible bars, and a screenshot is not blank.
func TestLabHTMLRendersInChromium(t *testing.T) {
	bin := findChromium(t)
	dir := t.TempDir()
	page := filepath.Join(dir, "lab.html")
	_, errOut, code := runTrident(t, "", append(labQuickArgs, "--html", page)...)
	if code != 0 {
		t.Fatalf("trident lab exit %d\n%s", code, errOut)
	}
	src, err := os.ReadFile(page)
	if err != nil {
		t.Fatal(err)
	}
	charts := strings.Count(string(src), `<svg class="chart`)
	if charts < 3 {
		t.Fatalf("only %d charts in the page", charts)
	}
	url := "file://" + page

	// Threads under a GIL (CPython threading, Go's emulated GIL) are drawn in
	// their own colour, apart from free threads (goroutines).
	barFill := func(model string) string {
		m := regexp.MustCompile(`<rect class="bar"[^>]*fill="(#[0-9a-f]{6})"><title>cpu-bound ` + model + `:`).FindStringSubmatch(string(src))
		if m == nil {
			t.Fatalf("no cpu-bound speedup bar for %s in the page", model)
		}
		return m[1]
	}
	gil, free := barFill("threading"), barFill("goroutines")
	if barFill("threads-gil") != gil {
		t.Fatalf("Go's threads-gil bar is %s, CPython threading's %s: both run under a GIL and share a colour", barFill("threads-gil"), gil)
	}
	if gil == free {
		t.Fatalf("GIL-bound threads and free goroutines share the colour %s", gil)
	}
	// Every timeline of a workload is drawn on one time scale.
	scales := map[string]map[string]bool{}
	for _, m := range regexp.MustCompile(`<svg class="chart timeline" data-workload="([^"]+)" data-scale-us="(\d+)"`).FindAllStringSubmatch(string(src), -1) {
		if scales[m[1]] == nil {
			scales[m[1]] = map[string]bool{}
		}
		scales[m[1]][m[2]] = true
	}
	if len(scales) < 2 {
		t.Fatalf("timelines of %d workloads carry a time scale, want 2", len(scales))
	}
	for w, sc := range scales {
		if len(sc) != 1 {
			t.Fatalf("the timelines of %s use %d different time scales: %v", w, len(sc), sc)
		}
	}

	dom := string(chromium(t, bin, "--dump-dom", url))
	m := regexp.MustCompile(`<body data-charts="(\d+)" data-charts-ok="(\d+)"`).FindStringSubmatch(dom)
	if m == nil {
		t.Fatalf("the page's check script did not run (no data-charts on <body>); DOM starts:\n%.600s", dom)
	}
	total, _ := strconv.Atoi(m[1])
	ok, _ := strconv.Atoi(m[2])
	if total != charts || ok != charts {
		t.Fatalf("browser saw %d charts, %d rendered with visible bars; the page has %d", total, ok, charts)
	}
	for _, r := range regexp.MustCompile(`data-rendered="(\d+)x(\d+)"`).FindAllStringSubmatch(dom, -1) {
		if r[1] == "0" || r[2] == "0" {
			t.Fatalf("a chart rendered at %sx%s", r[1], r[2])
		}
	}

	shot := filepath.Join(dir, "lab.png")
	chromium(t, bin, "--window-size=1100,6000", "--hide-scrollbars", "--screenshot="+shot, url)
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	colours := map[uint32]int{}
	inked := 0
	bnd := img.Bounds()
	for y := bnd.Min.Y; y < bnd.Max.Y; y += 2 {
		for x := bnd.Min.X; x < bnd.Max.X; x += 2 {
			r, g, b, _ := img.At(x, y).RGBA()
			r, g, b = r>>8, g>>8, b>>8
			colours[r<<16|g<<8|b]++
			if r < 235 || g < 235 || b < 235 {
				inked++
			}
		}
	}
	samples := (bnd.Dx() / 2) * (bnd.Dy() / 2)
	if inked*100 < samples*2 {
		t.Fatalf("screenshot is nearly blank: %d of %d sampled pixels inked", inked, samples)
	}
	// The bar colours of the speedup chart must be on screen.
	for _, want := range []string{"#8c8c8c", gil, free} {
		var c uint32
		fmt.Sscanf(want, "#%06x", &c)
		if colours[c] < 20 {
			t.Fatalf("colour %s (a speedup bar) covers only %d sampled pixels of the screenshot", want, colours[c])
		}
	}
	if keep := os.Getenv("TRIDENT_LAB_SCREENSHOT"); keep != "" {
		b, _ := os.ReadFile(shot)
		_ = os.WriteFile(keep, b, 0o644)
	}
}
