package dashboard

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// findChromium returns Debian's chromium, installing it with .ci/setup when it
// is absent (as cmd/trident's lab test does). It skips the test, with the
// reason, only when that fails.
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

// fillStore adds n ended jobs, as a queue that has run for a while holds.
func fillStore(s *MemStore, n int) {
	base := time.Now().Add(-time.Hour)
	for i := range n {
		st := Finished
		if i%50 == 0 {
			st = Failed
		}
		at := base.Add(time.Duration(i) * time.Millisecond)
		s.Add(Job{Queue: []string{"default", "mail", "reports"}[i%3], Function: "work", Args: strconv.Itoa(i),
			State: st, Attempts: 1, Worker: "w0", Result: "1", EnqueuedAt: at, StartedAt: at, EndedAt: at})
	}
}

// The page in a real browser, with 100k jobs in the store: it renders, shows
// a new job appear, start on a worker and finish, finds a job by ID, opens a
// failed job's error and stack, and requeues it with its button.
func TestPageInChromium(t *testing.T) {
	bin := findChromium(t)
	store := NewMemStore()
	fillStore(store, 100_000)
	store.SetWorker(Worker{ID: "w1", Host: "box", Slots: 2, Queues: []string{"default"}})
	srv, err := Start(context.Background(), store, Options{Addr: "127.0.0.1:0", Refresh: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(bin), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000))
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	do := func(what string, steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, steps...); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	eval := func(expr string) string {
		t.Helper()
		v, err := chromedp.Run(bctx, chromedp.Evaluate[string](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return v
	}
	row := func(id string, st State) chromedp.CSS {
		return chromedp.CSS(fmt.Sprintf(`#jobs tr[data-id=%q][data-state=%q]`, id, st))
	}

	// Every console error, warning and uncaught exception fails the test (a
	// Content-Security-Policy violation is one).
	var console []string
	cctx, stopConsole := context.WithCancel(bctx)
	consoleDone := make(chan struct{})
	messages := chromedp.Console(cctx)
	go func() {
		defer close(consoleDone)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				console = append(console, m.String())
			}
		}
	}()
	checkConsole := func() {
		t.Helper()
		stopConsole()
		<-consoleDone
		if len(console) > 0 {
			t.Fatalf("the page logged %d error(s):\n%s", len(console), strings.Join(console, "\n"))
		}
	}
	defer func() { stopConsole(); <-consoleDone }()

	// First render: the newest page of 100k jobs.
	do("load the page", chromedp.Navigate(srv.URL()),
		chromedp.WaitVisible(chromedp.CSS(`#jobs tbody tr[data-id]`)),
		chromedp.WaitVisible(chromedp.CSS(`#conn.on`)),
		chromedp.WaitVisible(chromedp.CSS(`#queues tr[data-queue="mail"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#workers tr[data-worker="w1"]`)))
	if rows := eval(`String(document.querySelectorAll("#jobs tbody tr[data-id]").length)`); rows != "50" {
		t.Fatalf("the first page shows %s jobs, want 50", rows)
	}
	if total := eval(`document.getElementById("total").textContent`); total != "(100000)" {
		t.Fatalf("the page says %q jobs, want (100000)", total)
	}
	if eval(`String(document.body.dataset.booted)`) != "1" {
		t.Fatal("the first render did not use the data inlined in the page")
	}
	cold := eval(`document.body.dataset.firstRenderMs`)
	do("reload the page", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#jobs tbody tr[data-id]`)))
	t.Logf("first render with 100k jobs, from navigation start to the jobs drawn: %s ms (fresh browser), %s ms (reload); GOMAXPROCS %d",
		cold, eval(`document.body.dataset.firstRenderMs`), runtime.GOMAXPROCS(0))

	// A job appears, starts on w1 (listed among its current jobs), finishes.
	id := store.Enqueue("default", "resize", `{"w":640}`)
	do("see the job appear", chromedp.WaitVisible(row(id, Queued)))
	if err := store.Start(id, "w1"); err != nil {
		t.Fatal(err)
	}
	do("see it start", chromedp.WaitVisible(row(id, Started)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#workers tr[data-worker="w1"] a[href="#job=%s"]`, id))))
	if err := store.Finish(id, `{"ok":true}`); err != nil {
		t.Fatal(err)
	}
	do("see it finish", chromedp.WaitVisible(row(id, Finished)))

	// A job fails: its detail shows the error and stack; the page's button
	// requeues it.
	bad := store.Enqueue("default", "resize", `{"w":-1}`)
	if err := store.Start(bad, "w1"); err != nil {
		t.Fatal(err)
	}
	if err := store.Fail(bad, "negative width", "goroutine 7 [running]:\nresize.go:42"); err != nil {
		t.Fatal(err)
	}
	do("open the failed job", chromedp.WaitVisible(row(bad, Failed)),
		chromedp.Click(row(bad, Failed)+` td:nth-child(3)`),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail[data-id=%q][data-state="failed"]`, bad))))
	errText, stack := eval(`document.getElementById("d-error").textContent`), eval(`document.getElementById("d-stack").textContent`)
	if errText != "negative width" || !strings.Contains(stack, "resize.go:42") {
		t.Fatalf("failed job's detail: error %q, stack %q", errText, stack)
	}
	if eval(`String(document.getElementById("cancel").disabled)`) != "true" {
		t.Fatal("Cancel is offered on a failed job")
	}
	do("requeue it", chromedp.WaitEnabled(chromedp.CSS(`#requeue`)),
		chromedp.Click(chromedp.CSS(`#requeue`)),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail[data-id=%q][data-state="queued"]`, bad))),
		chromedp.WaitVisible(row(bad, Queued)))
	j, err := store.Job(context.Background(), bad)
	if err != nil {
		t.Fatal(err)
	}
	if j.State != Queued || j.Timeline[len(j.Timeline)-1].Note != "requeued from the dashboard" {
		t.Fatalf("after the page's requeue the store has %s, timeline %+v", j.State, j.Timeline)
	}

	if keep := os.Getenv("TRIDENT_DASHBOARD_SCREENSHOT"); keep != "" {
		png, err := chromedp.Run(bctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(keep, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Search by ID among 100k jobs.
	do("search", chromedp.SendKeys(chromedp.CSS(`#search`), id))
	if _, err := chromedp.Run(bctx, chromedp.Poll[bool](`document.querySelectorAll("#jobs tbody tr[data-id]").length === 1 && document.querySelector("#jobs tbody tr[data-id]").dataset.id === `+strconv.Quote(id))); err != nil {
		t.Fatalf("search for %s: %v", id, err)
	}
	do("open the one job found with Enter", chromedp.SendKeys(chromedp.CSS(`#search`), kb.Enter),
		chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`#detail[data-id=%q][data-state="finished"]`, id))))
	if res := eval(`document.getElementById("d-result").textContent`); !strings.Contains(res, `"ok": true`) {
		t.Fatalf("finished job's result shows %q", res)
	}
	checkConsole()
}
