package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Golden table of replacement strings, checked against GNU parallel 20221122
// (parallel --dry-run) by hand.
func TestTemplateGolden(t *testing.T) {
	cases := []struct {
		words []string
		args  []string
		want  string
	}{
		{[]string{"echo", "{}", "{.}", "{/}", "{//}", "{/.}"}, []string{"a b/c.d"}, "echo 'a b/c.d' 'a b/c' c.d 'a b' c"},
		{[]string{"echo", "{}", "{.}", "{/}", "{//}", "{/.}"}, []string{"x"}, "echo x x x . x"},
		{[]string{"echo", "{}"}, []string{"it's"}, `echo 'it'"'"'s'`},
		{[]string{"echo", "{}"}, []string{"p$q"}, "echo 'p$q'"},
		{[]string{"echo", "{.}", "{/.}"}, []string{".bashrc"}, "echo '' ''"},
		{[]string{"echo", "{.}", "{/.}"}, []string{"a.b.c"}, "echo a.b a.b"},
		{[]string{"echo", "{.}", "{/.}"}, []string{"x/.y"}, "echo x/ ''"},
		{[]string{"echo", "{.}", "{/.}"}, []string{"a/b.c/d"}, "echo a/b.c/d d"},
		{[]string{"echo", "{//}"}, []string{"/a"}, "echo /"},
		{[]string{"echo", "{//}"}, []string{"/"}, "echo /"},
		{[]string{"echo"}, []string{""}, "echo ''"},
		{[]string{"echo"}, []string{"a+b", "-x", "a=b"}, "echo a+b -x 'a=b'"},
		{[]string{"echo", "{2}-{1}"}, []string{"x", "y"}, "echo y-x"},
		{[]string{"echo", "{2.}", "{1/}", "{3}"}, []string{"a/b", "c.d"}, "echo c b "},
		// Any replacement string, {#} and {%} too, stops the appending (GNU parallel).
		{[]string{"echo", "{#}", "{%}"}, []string{"a"}, "echo 7 2"},
		{[]string{"mkdir dir{#}"}, []string{"a"}, "mkdir dir7"},
		{[]string{"echo", "${HOME}", "{a,b}", "{"}, []string{"v"}, "echo ${HOME} {a,b} { v"},
		{[]string{"echo {}; echo"}, []string{"a"}, "echo a; echo"},
		{[]string{"echo", "{}"}, []string{"a", "b c"}, "echo a 'b c'"},
	}
	for _, c := range cases {
		got := ParseTemplate(c.words).Render(c.args, 7, 2)
		if got != c.want {
			t.Errorf("%q with %q:\n got %q\nwant %q", c.words, c.args, got, c.want)
		}
	}
	if s := ParseTemplate([]string{"a", "{1/.}", "{#}", "{%}", "{//}"}).String(); s != "a {1/.} {#} {%} {//}" {
		t.Errorf("String: %q", s)
	}
}

func collect(t *testing.T, src JobSource) [][]string {
	t.Helper()
	var out [][]string
	for i := 1; ; i++ {
		j, err := src.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		if j.Seq != i {
			t.Fatalf("seq %d, want %d", j.Seq, i)
		}
		out = append(out, j.Args)
	}
}

func TestInputs(t *testing.T) {
	src, err := NewJobSource([]InputSpec{{Values: []string{"a", "b"}}, {Values: []string{"1", "2"}}}, InputOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if src.Total() != 4 {
		t.Fatalf("total %d", src.Total())
	}
	want := [][]string{{"a", "1"}, {"a", "2"}, {"b", "1"}, {"b", "2"}}
	if got := collect(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("product %v", got)
	}
	src, _ = NewJobSource([]InputSpec{{Values: []string{"a", "b", "c"}}, {Values: []string{"1", "2"}, Linked: true}}, InputOptions{})
	// GNU parallel's :::+ does not wrap: the shortest linked source sets the length.
	want = [][]string{{"a", "1"}, {"b", "2"}}
	if got := collect(t, src); !reflect.DeepEqual(got, want) || src.Total() != 2 {
		t.Fatalf("linked %v (total %d)", got, src.Total())
	}
	src, _ = NewJobSource(nil, InputOptions{Stdin: strings.NewReader("x,1\ny,2\n\nlast"), ColSep: ","})
	want = [][]string{{"x", "1"}, {"y", "2"}, {""}, {"last"}}
	if got := collect(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("stdin colsep %v", got)
	}
	src, _ = NewJobSource(nil, InputOptions{Stdin: strings.NewReader("a\nb\x00c\x00"), Null: true})
	want = [][]string{{"a\nb"}, {"c"}}
	if got := collect(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("null %v", got)
	}
	src, _ = NewJobSource(nil, InputOptions{Stdin: strings.NewReader("")})
	if got := collect(t, src); len(got) != 0 {
		t.Fatalf("empty %v", got)
	}
	src, _ = NewJobSource([]InputSpec{{Values: []string{"a"}}, {Values: nil}}, InputOptions{})
	if got := collect(t, src); len(got) != 0 || src.Total() != 0 {
		t.Fatalf("empty product %v", got)
	}
	dir := t.TempDir()
	f := filepath.Join(dir, "in")
	os.WriteFile(f, []byte("p\nq\n"), 0o644)
	src, _ = NewJobSource([]InputSpec{{Kind: FromFile, Path: f}, {Values: []string{"1"}}}, InputOptions{})
	want = [][]string{{"p", "1"}, {"q", "1"}}
	if got := collect(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("file %v", got)
	}
	_, err = NewJobSource([]InputSpec{{Kind: FromFile, Path: filepath.Join(dir, "missing")}}, InputOptions{})
	if !errors.Is(err, ErrInput) || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing file: %v", err)
	}
	if _, err := NewJobSource(nil, InputOptions{ColSep: "("}); !errors.Is(err, ErrInput) {
		t.Fatalf("bad colsep: %v", err)
	}
}

func TestParsers(t *testing.T) {
	for in, want := range map[string]Halt{
		"never": {}, "0": {}, "1": {When: HaltSoon, Count: 1}, "2": {When: HaltNow, Count: 1},
		"soon,fail=3": {When: HaltSoon, Count: 3}, "now,success=50%": {When: HaltNow, OnSuccess: true, Percent: 50},
	} {
		if got, err := ParseHalt(in); err != nil || got != want {
			t.Errorf("ParseHalt(%q) = %+v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"later", "now", "now,fail", "now,x=1", "now,fail=0", "now,fail=200%", "soon,fail=a"} {
		if _, err := ParseHalt(bad); err == nil {
			t.Errorf("ParseHalt(%q) accepted", bad)
		}
	}
	for in, want := range map[string]int{"auto": 0, "4": 4, "0": -1, "50%": 2, "200%": 8, "+1": 5, "-1": 3, "-9": 1, "1%": 1} {
		if got, err := ParseJobs(in, 4); err != nil || got != want {
			t.Errorf("ParseJobs(%q) = %d, %v, want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"x", "-1x", "%", "-5%", "1.5"} {
		if _, err := ParseJobs(bad, 4); err == nil {
			t.Errorf("ParseJobs(%q) accepted", bad)
		}
	}
	if d, p, err := ParseTimeout("2.5"); err != nil || d != 2500*time.Millisecond || p != 0 {
		t.Errorf("timeout 2.5: %v %v %v", d, p, err)
	}
	if d, p, err := ParseTimeout("1m"); err != nil || d != time.Minute || p != 0 {
		t.Errorf("timeout 1m: %v %v %v", d, p, err)
	}
	if d, p, err := ParseTimeout("300%"); err != nil || d != 0 || p != 300 {
		t.Errorf("timeout 300%%: %v %v %v", d, p, err)
	}
	for _, bad := range []string{"0", "-1", "x", "0%", "1h-"} {
		if _, _, err := ParseTimeout(bad); err == nil {
			t.Errorf("ParseTimeout(%q) accepted", bad)
		}
	}
}

func TestJoblogRoundTrip(t *testing.T) {
	e := JoblogEntry{Seq: 3, Host: ":", Start: time.Unix(1700000000, 123000000), Runtime: 1500 * time.Millisecond,
		Receive: 12, Exitval: 2, Signal: 0, Command: "echo a\tb"}
	line := e.String()
	if line != "3\t:\t1700000000.123\t     1.500\t0\t12\t2\t0\techo a\tb\n" {
		t.Fatalf("line %q", line)
	}
	got, err := ReadJoblog(strings.NewReader(JoblogHeader + line))
	if err != nil || len(got) != 1 || got[0].Seq != 3 || got[0].Command != "echo a\tb" || !got[0].Failed() || got[0].Receive != 12 {
		t.Fatalf("read %+v %v", got, err)
	}
	if _, err := ReadJoblog(strings.NewReader(JoblogHeader + "x\ty\n")); err == nil {
		t.Fatal("bad joblog accepted")
	}
}

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuf) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func jobs(vals ...string) JobSource {
	var js []Job
	for i, v := range vals {
		js = append(js, Job{Seq: i + 1, Args: []string{v}})
	}
	return SliceSource(js)
}

func TestRunKeepOrderRetriesHalt(t *testing.T) {
	var out syncBuf
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"sleep 0.0{}; echo {}"}),
		Slots: 4, KeepOrder: true, Stdout: &out}, jobs("5", "1", "3", "2"))
	if err != nil || sum.Finished != 4 || sum.ExitCode != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	if out.String() != "5\n1\n3\n2\n" {
		t.Fatalf("keep order: %q", out.String())
	}
	dir := t.TempDir()
	cnt := filepath.Join(dir, "count")
	// Fails twice, then succeeds: --retries 3 makes it pass, one joblog line.
	log := filepath.Join(dir, "log")
	sum, err = Run(context.Background(), Options{Template: ParseTemplate([]string{"echo x >> " + cnt + "; : {}; [ $(wc -l < " + cnt + ") -ge 3 ]"}),
		Slots: 1, Retries: 3, Joblog: log}, jobs("a"))
	if err != nil || sum.Failed != 0 || sum.Finished != 1 {
		t.Fatalf("retries: %+v %v", sum, err)
	}
	if c, _ := os.ReadFile(cnt); string(c) != "x\nx\nx\n" {
		t.Fatalf("attempts: %q", c)
	}
	b, _ := os.ReadFile(log)
	if n := strings.Count(string(b), "\n"); n != 2 {
		t.Fatalf("joblog has %d lines:\n%s", n, b)
	}
	// Exit status: failures counted; --halt now,fail=1 gives the job's status.
	sum, _ = Run(context.Background(), Options{Template: ParseTemplate([]string{"exit"}), Slots: 1}, jobs("0", "5", "6"))
	if sum.ExitCode != 2 || sum.Failed != 2 {
		t.Fatalf("failures: %+v", sum)
	}
	var errb syncBuf
	sum, _ = Run(context.Background(), Options{Template: ParseTemplate([]string{"exit"}), Slots: 1,
		Halt: Halt{When: HaltNow, Count: 1}, Stderr: &errb}, jobs("0", "5", "0", "0"))
	if !sum.Halted || sum.ExitCode != 5 || sum.Finished != 2 || !strings.Contains(errb.String(), "--halt") {
		t.Fatalf("halt: %+v %q", sum, errb.String())
	}
	sum, _ = Run(context.Background(), Options{Template: ParseTemplate([]string{"exit"}), Slots: 1,
		Halt: Halt{When: HaltSoon, OnSuccess: true, Percent: 50}}, jobs("0", "0", "1", "1"))
	if !sum.Halted || sum.ExitCode != 0 || sum.Finished != 2 {
		t.Fatalf("halt success: %+v", sum)
	}
}

func TestRunTimeoutAndStartFailure(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	t0 := time.Now()
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"sleep"}), Slots: 2,
		Timeout: 100 * time.Millisecond, Grace: 100 * time.Millisecond, Joblog: log}, jobs("0", "30"))
	if err != nil || sum.Failed != 1 || sum.Finished != 2 {
		t.Fatalf("%+v %v", sum, err)
	}
	if time.Since(t0) > 20*time.Second {
		t.Fatal("timeout did not kill the job")
	}
	b, _ := os.ReadFile(log)
	if !strings.Contains(string(b), "\t-1\t15\tsleep 30\n") {
		t.Fatalf("joblog:\n%s", b)
	}
	var errb syncBuf
	sum, err = Run(context.Background(), Options{Template: ParseTemplate([]string{"true"}), Slots: 1,
		Shell: filepath.Join(dir, "no-shell"), Joblog: log, Stderr: &errb}, jobs("a"))
	if err != nil || sum.Failed != 1 || sum.ExitCode != 1 || !strings.Contains(errb.String(), "could not start") {
		t.Fatalf("start failure: %+v %v %q", sum, err, errb.String())
	}
	b, _ = os.ReadFile(log)
	if !strings.Contains(string(b), "\t-1\t0\ttrue a\n") {
		t.Fatalf("joblog:\n%s", b)
	}
}

// A job printing far more than the spill limit: output correct and whole.
func TestRunSpillsBigOutput(t *testing.T) {
	var out syncBuf
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"head -c 3000000 /dev/zero | tr '\\0' {}"}),
		Slots: 3, SpillLimit: 4096, Stdout: &out}, jobs("a", "b", "c"))
	if err != nil || sum.Failed != 0 {
		t.Fatalf("%+v %v", sum, err)
	}
	s := out.String()
	if len(s) != 9000000 {
		t.Fatalf("got %d bytes", len(s))
	}
	// Grouped: three runs of one letter each.
	for i := 0; i < 3; i++ {
		chunk := s[i*3000000 : (i+1)*3000000]
		if strings.Count(chunk, chunk[:1]) != 3000000 {
			t.Fatalf("chunk %d is interleaved", i)
		}
	}
}

// Interrupt a run, then resume: every job is in the union of the joblogs
// exactly once.
func TestRunInterruptThenResume(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "log")
	var vals []string
	for i := 0; i < 12; i++ {
		vals = append(vals, "0.2")
	}
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(500*time.Millisecond, cancel)
	sum, err := Run(ctx, Options{Template: ParseTemplate([]string{"sleep {}; : {#}"}), Slots: 3, Joblog: log,
		Grace: 200 * time.Millisecond}, jobs(vals...))
	cancel()
	if err != nil || !sum.Interrupted {
		t.Fatalf("%+v %v", sum, err)
	}
	first, _ := os.ReadFile(log)
	sum2, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"sleep {}; : {#}"}), Slots: 4, Joblog: log,
		Resume: true}, jobs(vals...))
	if err != nil || sum2.Skipped != sum.Finished || sum2.Finished != 12-sum.Finished {
		t.Fatalf("resume: %+v after %+v, %v", sum2, sum, err)
	}
	all, _ := os.ReadFile(log)
	entries, err := ReadJoblog(bytes.NewReader(all))
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int
	for _, e := range entries {
		seqs = append(seqs, e.Seq)
	}
	sort.Ints(seqs)
	for i, s := range seqs {
		if s != i+1 {
			t.Fatalf("seqs %v (first log:\n%s)", seqs, first)
		}
	}
	if len(seqs) != 12 {
		t.Fatalf("seqs %v", seqs)
	}
}

func TestRunOutputsModes(t *testing.T) {
	dir := t.TempDir()
	var out syncBuf
	_, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"printf 'x\\ny\\n'; echo {}"}), Slots: 1,
		Tag: true, LineBuffer: true, Stdout: &out, ResultsDir: dir}, jobs("a b"))
	if err != nil || out.String() != "a b\tx\na b\ty\na b\ta b\n" {
		t.Fatalf("tag line-buffer: %q %v", out.String(), err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "1", "a b", "stdout"))
	if err != nil || string(b) != "x\ny\na b\n" {
		t.Fatalf("results: %q %v", b, err)
	}
	out = syncBuf{}
	_, err = Run(context.Background(), Options{Template: ParseTemplate([]string{"echo"}), Slots: 1, DryRun: true, Stdout: &out},
		jobs("a", "b c"))
	if err != nil || out.String() != "echo a\necho 'b c'\n" {
		t.Fatalf("dry run: %q %v", out.String(), err)
	}
	if _, err := Run(context.Background(), Options{}, jobs("a")); !errors.Is(err, ErrNoCommand) {
		t.Fatalf("no command: %v", err)
	}
	if _, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"true"}), Resume: true}, jobs("a")); err == nil {
		t.Fatal("--resume without --joblog accepted")
	}
}

// Stress: many tiny jobs with -j auto and keep-order; all run once, in order.
func TestRunStressAuto(t *testing.T) {
	var vals []string
	var want strings.Builder
	for i := 0; i < 300; i++ {
		vals = append(vals, strings.Repeat("x", i%7))
		want.WriteString(strings.Repeat("x", i%7) + "\n")
	}
	var out syncBuf
	sum, err := Run(context.Background(), Options{Template: ParseTemplate([]string{"echo"}), KeepOrder: true, Stdout: &out}, jobs(vals...))
	if err != nil || sum.Finished != 300 || out.String() != want.String() {
		t.Fatalf("%+v %v", sum, err)
	}
}

func TestParseStat(t *testing.T) {
	g, own, ch, ok := parseStat([]byte("12 (a b) c) S 1 12 12 0 -1 0 0 0 0 0 7 3 2 1 20 0 1 0"))
	if !ok || g != 12 || own != 10 || ch != 3 {
		t.Fatalf("%d %d %d %v", g, own, ch, ok)
	}
	if _, _, _, ok := parseStat([]byte("garbage")); ok {
		t.Fatal("garbage parsed")
	}
}

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"echo {}", "{1/.}{#}{%}", "{", "}{", "{99999999999}", "{2//}x{.}", "a {} b {0}"} {
		f.Add(s, "a/b.c")
	}
	f.Fuzz(func(t *testing.T, tmpl, arg string) {
		tp := ParseTemplate([]string{tmpl})
		out := tp.Render([]string{arg, arg}, 1, 1)
		if !tp.HasRepl && !strings.HasSuffix(out, Quote(arg)) {
			t.Fatalf("args not appended: %q -> %q", tmpl, out)
		}
		// Parsing the canonical form gives the same segments.
		again := ParseTemplate([]string{tp.String()})
		if again.Render([]string{arg}, 2, 3) != tp.Render([]string{arg}, 2, 3) {
			t.Fatalf("String() round trip differs for %q", tmpl)
		}
	})
}

func FuzzQuote(f *testing.F) {
	for _, s := range []string{"", "a", "it's", "a b", "$x", "\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		q := Quote(v)
		if strings.ContainsRune(v, 0) {
			return
		}
		// Undo sh single-quoting by hand: bare or '...' with '"'"' joins.
		if !strings.HasPrefix(q, "'") {
			if q != v {
				t.Fatalf("bare %q != %q", q, v)
			}
			return
		}
		un := strings.ReplaceAll(q[1:len(q)-1], `'"'"'`, "'")
		if un != v {
			t.Fatalf("Quote(%q) = %q", v, q)
		}
	})
}

func FuzzInput(f *testing.F) {
	f.Add("a\nb\n", ",", false)
	f.Add("a,b\x00c", "", true)
	f.Add("", "[", false)
	f.Fuzz(func(t *testing.T, in, colsep string, null bool) {
		src, err := NewJobSource(nil, InputOptions{Stdin: strings.NewReader(in), ColSep: colsep, Null: null})
		if err != nil {
			return
		}
		defer src.Close()
		d := "\n"
		if null {
			d = "\x00"
		}
		want := strings.Count(in, d)
		if in != "" && !strings.HasSuffix(in, d) {
			want++
		}
		n := 0
		for {
			_, err := src.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			n++
		}
		if n != want {
			t.Fatalf("%d jobs from %q, want %d", n, in, want)
		}
	})
}
