package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// drain renders every job of src with t, one line per job.
func drain(t *testing.T, o Options, src JobSource) string {
	t.Helper()
	o, src = Prepare(o, src)
	defer src.Close()
	var b strings.Builder
	for {
		j, err := src.Next()
		if err == io.EOF {
			return b.String()
		}
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		b.WriteString(o.Template.RenderTotal(j.Args, j.Seq, 1, src.Total()) + "\n")
	}
}

func values(vs ...string) JobSource {
	var js []Job
	for i, v := range vs {
		js = append(js, Job{Seq: i + 1, Args: []string{v}})
	}
	return SliceSource(js)
}

func mustTemplate(t *testing.T, words []string, o TemplateOptions) Template {
	t.Helper()
	tp, err := ParseTemplateWith(words, o)
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// The groupings, as GNU parallel 20221122 prints them with --dry-run.
func TestGrouping(t *testing.T) {
	abcde := []string{"a", "b", "c", "d", "e"}
	cases := []struct {
		name  string
		words []string
		topt  TemplateOptions
		g     Grouping
		in    []string
		want  string
	}{
		{"-n2", []string{"echo"}, TemplateOptions{}, Grouping{MaxArgs: 2}, abcde, "echo a b\necho c d\necho e\n"},
		{"-n2 x{}y", []string{"echo", "x{}y"}, TemplateOptions{}, Grouping{MaxArgs: 2}, abcde, "echo xa by\necho xc dy\necho xey\n"},
		{"-N2 x{}y", []string{"echo", "x{}y"}, TemplateOptions{Context: true}, Grouping{MaxArgs: 2}, abcde, "echo xay xby\necho xcy xdy\necho xey\n"},
		{"-N2 {1}-{2}", []string{"echo", "{1}-{2}"}, TemplateOptions{Context: true}, Grouping{MaxArgs: 2}, abcde, "echo a-b\necho c-d\necho e-\n"},
		{"-X -j2", []string{"echo", "x{}y"}, TemplateOptions{Context: true}, Grouping{Multi: true, Spread: 2}, abcde, "echo xay xby xcy\necho xdy xey\n"},
		{"-m -j3", []string{"echo"}, TemplateOptions{}, Grouping{Multi: true, Spread: 3}, []string{"a", "b", "c", "d", "e", "f", "g"}, "echo a b c\necho d e f\necho g\n"},
		{"--xargs", []string{"echo"}, TemplateOptions{}, Grouping{Multi: true}, abcde, "echo a b c d e\n"},
		{"-N0", []string{"echo", "x"}, TemplateOptions{}, Grouping{Zero: true}, []string{"a", "b"}, "echo x \necho x \n"},
		{"-s 13 -X", []string{"echo"}, TemplateOptions{Context: true}, Grouping{Multi: true, Spread: 2, MaxChars: 13}, []string{"aaa", "bbb", "ccc", "ddd", "eee"},
			"echo aaa bbb\necho ccc ddd\necho eee\n"},
		{"-s 12 -m", []string{"echo"}, TemplateOptions{}, Grouping{Multi: true, MaxChars: 12}, []string{"aaa", "bbb"}, "echo aaa\necho bbb\n"},
	}
	for _, c := range cases {
		got := drain(t, Options{Template: mustTemplate(t, c.words, c.topt), Group: c.g}, values(c.in...))
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
}

func TestGroupingLineTooLong(t *testing.T) {
	_, src := Prepare(Options{Template: ParseTemplate([]string{"echo"}), Group: Grouping{Multi: true, MaxChars: 8}}, values("ab", "abcdefgh"))
	defer src.Close()
	if j, err := src.Next(); err != nil || len(j.Args) != 1 {
		t.Fatalf("first job: %v %v", j, err)
	}
	_, err := src.Next()
	if !errors.Is(err, ErrLineTooLong) || !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "abcdefgh") {
		t.Fatalf("a value longer than -s: %v", err)
	}
}

func TestTemplatePlusQuoteReplace(t *testing.T) {
	cases := []struct {
		words []string
		o     TemplateOptions
		args  []string
		want  string
	}{
		{[]string{"echo", "{+/}", "{+.}", "{+..}", "{+...}", "{..}", "{...}", "{/..}", "{/...}"}, TemplateOptions{Plus: true},
			[]string{"/x/y/a.b.c.d"}, "echo /x/y d c.d b.c.d /x/y/a.b /x/y/a a.b a"},
		{[]string{"echo", "{+/}", "{+.}", "{+..}", "{..}", "{/..}"}, TemplateOptions{Plus: true}, []string{"a.b"}, "echo '' b '' a.b a.b"},
		{[]string{"echo", "{1+.}", "{2..}"}, TemplateOptions{Plus: true}, []string{"a.b", "c.d.e"}, "echo b c"},
		{[]string{"echo", "{..}"}, TemplateOptions{}, []string{"a.b.c"}, "echo {..} a.b.c"},
		{[]string{"echo", "a b", "{}", "x{}y"}, TemplateOptions{Quote: true}, []string{"c d"}, "echo 'a b' 'c d' 'xc dy'"},
		{[]string{"echo", "$HOME"}, TemplateOptions{Quote: true}, []string{"x"}, "echo '$HOME' x"},
		{[]string{"echo", ",,", "x,,y", "{}", "{1}"}, TemplateOptions{Replace: ",,"}, []string{"b c"}, "echo 'b c' x'b c'y {} {1}"},
		{[]string{"echo", "@", "{.}"}, TemplateOptions{Replace: "@"}, []string{"a.b"}, "echo a.b a"},
		{[]string{"echo", ",x", ",b", ",d", ",e", ",s", ",t"}, TemplateOptions{ExtensionReplace: ",x", BasenameReplace: ",b",
			DirnameReplace: ",d", BasenameExtensionReplace: ",e", SeqReplace: ",s", SlotReplace: ",t"}, []string{"/a/b.c"}, "echo /a/b b.c /a b 7 2"},
	}
	for _, c := range cases {
		got := mustTemplate(t, c.words, c.o).RenderTotal(c.args, 7, 2, 3)
		if got != c.want {
			t.Errorf("%q %+v with %q:\n got %q\nwant %q", c.words, c.o, c.args, got, c.want)
		}
	}
	if _, err := ParseTemplateWith([]string{"x"}, TemplateOptions{Replace: "{.}"}); err == nil || !strings.Contains(err.Error(), "-I") {
		t.Errorf("-I {.} clashes with {.}: %v", err)
	}
}

func TestInputLinkHeaderTrim(t *testing.T) {
	src := func(specs []InputSpec, o InputOptions, stdin string) JobSource {
		o.Stdin = strings.NewReader(stdin)
		s, err := NewJobSource(specs, o)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	echo := Options{Template: ParseTemplate([]string{"echo"})}
	cases := []struct {
		name  string
		specs []InputSpec
		o     InputOptions
		stdin string
		words []string
		want  string
	}{
		{"--link wraps", []InputSpec{{Values: []string{"a", "b", "c"}}, {Values: []string{"1", "2"}}}, InputOptions{Link: true}, "", nil,
			"echo a 1\necho b 2\necho c 1\n"},
		{"--link :::+ wraps too", []InputSpec{{Values: []string{"a", "b", "c"}}, {Values: []string{"1", "2"}}, {Values: []string{"7", "8", "9", "10"}, Linked: true}},
			InputOptions{Link: true}, "", nil, "echo a 1 7\necho b 2 8\necho c 1 9\necho a 2 10\n"},
		{"--header :", []InputSpec{{Values: []string{"a", "1", "2"}}, {Values: []string{"b", "3"}}}, InputOptions{Header: ":"}, "",
			[]string{"echo", "{b}", "{a}", "{b/}", "{c}"}, "echo 3 1 3 {c}\necho 3 2 3 {c}\n"},
		{"--header : --colsep", nil, InputOptions{Header: ":", ColSep: ","}, "x,y\n1,2\n", []string{"echo", "{y}{x}"}, "echo 21\n"},
		{"--trim l", nil, InputOptions{Trim: "l", ColSep: ","}, " a , b \n", []string{"echo", "x{1}x", "x{2}x"}, "echo x'a 'x x'b 'x\n"},
		{"--trim n", nil, InputOptions{Trim: "n", ColSep: ","}, " a ,b\n", []string{"echo", "x{1}x"}, "echo x' a 'x\n"},
		{"-r", nil, InputOptions{NoRunIfEmpty: true}, "a\n\n \t\nb\n", nil, "echo a\necho b\n"},
		{"-r :::", []InputSpec{{Values: []string{"", "a", " "}}, {Values: []string{"1"}}}, InputOptions{NoRunIfEmpty: true}, "", nil, "echo a 1\n"},
	}
	for _, c := range cases {
		o := echo
		if c.words != nil {
			o.Template = ParseTemplate(c.words)
		}
		got := drain(t, o, src(c.specs, c.o, c.stdin))
		if got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
	}
	if _, err := NewJobSource(nil, InputOptions{Trim: "x", Stdin: strings.NewReader("")}); !errors.Is(err, ErrInput) || !strings.Contains(err.Error(), "--trim") {
		t.Errorf("bad --trim: %v", err)
	}
}

func TestShufKeepsEveryJob(t *testing.T) {
	in := make([]string, 50)
	for i := range in {
		in[i] = string(rune('A' + i))
	}
	o, src := Prepare(Options{Template: ParseTemplate([]string{"echo"}), Shuf: true}, values(in...))
	defer src.Close()
	if !o.Shuf {
		t.Fatal("Prepare dropped Shuf")
	}
	seen := map[int]string{}
	inOrder := true
	for i := 0; ; i++ {
		j, err := src.Next()
		if err == io.EOF {
			break
		}
		if j.Seq != i+1 {
			inOrder = false
		}
		if seen[j.Seq] != "" || j.Args[0] != in[j.Seq-1] {
			t.Fatalf("job %d: %q (seen %q)", j.Seq, j.Args, seen[j.Seq])
		}
		seen[j.Seq] = j.Args[0]
	}
	if len(seen) != len(in) || inOrder {
		t.Fatalf("--shuf: %d of %d jobs, in order: %v", len(seen), len(in), inOrder)
	}
}

func TestParseSizeDelay(t *testing.T) {
	for s, want := range map[string]int64{"10": 10, "1k": 1000, "1K": 1024, "2M": 2 << 20, "1.5g": 1.5e9, "1Kb": 1024, "0": 0} {
		if got, err := ParseSize(s); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", s, got, err, want)
		}
	}
	for _, s := range []string{"", "x", "-1", "1x", "1e30G", "NaN"} {
		if _, err := ParseSize(s); err == nil {
			t.Errorf("ParseSize(%q): no error", s)
		}
	}
	if d, err := ParseDelay("0.25"); err != nil || d != 250*time.Millisecond {
		t.Errorf("ParseDelay 0.25: %v %v", d, err)
	}
	if d, err := ParseDelay("1m"); err != nil || d != time.Minute {
		t.Errorf("ParseDelay 1m: %v %v", d, err)
	}
	if _, err := ParseDelay("-1"); err == nil {
		t.Error("ParseDelay -1: no error")
	}
}

// --bar ends at 100%, draws to a non-terminal in the plain form and shows a
// rate from the first frame.
func TestBarPlain(t *testing.T) {
	var out, errb bytes.Buffer
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"sleep 0.2; echo"}), Slots: 1, Bar: true,
		Stdout: &out, Stderr: &errb}, values("a", "b", "c"))
	if err != nil || sum.Finished != 3 {
		t.Fatalf("%v %+v", err, sum)
	}
	frames := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\r")
	if !strings.HasSuffix(errb.String(), "\n") || len(frames) < 3 {
		t.Fatalf("bar output %q", errb.String())
	}
	if last := frames[len(frames)-1]; last != "100% 3:0=0s c" {
		t.Errorf("last frame %q, want 100%% 3:0=0s c", last)
	}
	if frames[1] != "33% 1:2=0s a" {
		t.Errorf("first frame %q", frames[1])
	}
	if strings.Contains(errb.String(), "\033") {
		t.Errorf("escape codes on a non-terminal: %q", errb.String())
	}
}

func TestSecondsToUnits(t *testing.T) {
	for sec, want := range map[int]string{0: "0s", 59: "59s", 61: "1m01s", 3601: "1h00m01s", 90061: "1d01h01m01s"} {
		if got := secondsToUnits(sec); got != want {
			t.Errorf("%d: %q want %q", sec, got, want)
		}
	}
}

// The ETA of the bar's first frame uses the time since the start, so a
// first job that took 2s with 2 left gives 4s, not 0s.
func TestProgressRateFromFirstFrame(t *testing.T) {
	var b bytes.Buffer
	p := &progress{w: &b, bar: true, width: 80}
	p.start = time.Unix(100, 0)
	p.update(time.Unix(102, 0), 1, 1, 3, 1, "a", false)
	if got := b.String(); got != "\r33% 1:2=4s a" {
		t.Fatalf("first frame %q", got)
	}
}

func TestDelaySpacesStarts(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	t0 := time.Now()
	_, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"date +%s.%N >> " + filepath.Join(dir, "t") + "; :"}), Slots: 3,
		Delay: 300 * time.Millisecond, Stdout: &out}, values("a", "b", "c"))
	if err != nil {
		t.Fatal(err)
	}
	// Three starts 300ms apart take at least 600ms, however loaded.
	if el := time.Since(t0); el < 600*time.Millisecond {
		t.Fatalf("3 jobs with --delay 300ms took %v", el)
	}
	b, _ := os.ReadFile(filepath.Join(dir, "t"))
	if n := strings.Count(string(b), "\n"); n != 3 {
		t.Fatalf("%d jobs ran", n)
	}
}

// --memfree above the machine's memory starts nothing; an interrupt still
// ends the run, with every job left for --resume.
func TestMemfreeHoldsJobs(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	sum, err := Run(ctx, Options{Template: ParseTemplate([]string{"echo"}), Slots: 2, MemFree: 1 << 60}, values("a", "b"))
	if err != nil || sum.Finished != 0 || !sum.Interrupted {
		t.Fatalf("%v %+v", err, sum)
	}
	if n := memAvailable(); n <= 0 || n >= 1<<60 {
		t.Errorf("MemAvailable %d", n)
	}
	if n := runningProcs(); n < 0 {
		t.Errorf("procs_running %d", n)
	}
}

func TestVerboseFilesUngroupTagString(t *testing.T) {
	run := func(o Options, in ...string) string {
		var out bytes.Buffer
		o.Stdout, o.Slots, o.KeepOrder = &out, 1, !o.Ungroup
		if _, err := Run(context.Background(), o, values(in...)); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if got := run(Options{Template: ParseTemplate([]string{"echo"}), Verbose: true}, "a b", "c"); got != "echo 'a b'\na b\necho c\nc\n" {
		t.Errorf("-v: %q", got)
	}
	if got := run(Options{Template: ParseTemplate([]string{"echo"}), Verbose: true, LineBuffer: true}, "a"); got != "echo a\na\n" {
		t.Errorf("-v --line-buffer: %q", got)
	}
	if got := run(Options{Template: ParseTemplate([]string{"printf"}), Ungroup: true}, "a", "b"); got != "ab" {
		t.Errorf("-u: %q", got)
	}
	ts := mustTemplate(t, []string{"x{}-{#}"}, TemplateOptions{})
	if got := run(Options{Template: ParseTemplate([]string{"echo"}), TagString: &ts}, "a b"); got != "xa b-1\ta b\n" {
		t.Errorf("--tagstring: %q", got)
	}
	got := run(Options{Template: ParseTemplate([]string{"echo"}), Files: true}, "a", "b")
	names := strings.Fields(got)
	if len(names) != 2 {
		t.Fatalf("--files: %q", got)
	}
	for i, n := range names {
		b, err := os.ReadFile(n)
		os.Remove(n)
		if err != nil || string(b) != []string{"a\n", "b\n"}[i] || !strings.HasPrefix(filepath.Base(n), "par") {
			t.Errorf("--files %s: %q %v", n, b, err)
		}
	}
}

func TestNice(t *testing.T) {
	var out bytes.Buffer
	_, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"nice"}), Slots: 1, Nice: 5,
		Group: Grouping{Zero: true}, Stdout: &out}, values("x"))
	if err != nil || strings.TrimSpace(out.String()) == "" {
		t.Fatalf("%v %q", err, out.String())
	}
	var self bytes.Buffer
	Run(context.Background(), Options{Template: ParseTemplate([]string{"nice"}), Slots: 1, Group: Grouping{Zero: true}, Stdout: &self}, values("x"))
	var a, b int
	if _, err := fmt.Sscan(out.String(), &a); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(self.String(), &b); err != nil {
		t.Fatal(err)
	}
	// GNU parallel sets the niceness (setpriority), it does not add to
	// trident's own; only root may lower it.
	want := 5
	if b > 5 && os.Geteuid() != 0 {
		want = b
	}
	if a != want {
		t.Fatalf("--nice 5: niceness %d (without --nice %d), want %d", a, b, want)
	}
}
