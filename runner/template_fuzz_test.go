package runner

import (
	"strings"
	"testing"
)

// The words of a command mean what their joined text means (GNU parallel
// joins them with spaces), and String gives back a template that renders
// the same.
func FuzzParseTemplate(f *testing.F) {
	for _, s := range []string{"echo {} {.} {/} {//} {/.} {#} {%}", "x{1}y{2.}z {3//} {10/.}", "{+/}{+.}{..}{##}", "${HOME} {a,b} {", "{{}}", "{0} {-1}", ""} {
		f.Add(s, "a b/c.d", true)
	}
	f.Fuzz(func(t *testing.T, cmd, arg string, plus bool) {
		words := strings.Split(cmd, " ")
		opt := TemplateOptions{Plus: plus}
		tp, err := ParseTemplateWith(words, opt)
		if err != nil {
			t.Fatal(err)
		}
		joined, _ := ParseTemplateWith([]string{cmd}, opt)
		args := []string{arg, "x"}
		r := tp.RenderTotal(args, 3, 1, 9)
		if r2 := joined.RenderTotal(args, 3, 1, 9); r2 != r {
			t.Fatalf("words %q render %q, joined %q", words, r, r2)
		}
		back, _ := ParseTemplateWith([]string{tp.String()}, opt)
		if r3 := back.RenderTotal(args, 3, 1, 9); r3 != r {
			t.Fatalf("String() %q renders %q, want %q", tp.String(), r3, r)
		}
		// Context replace and -q never panic and keep the literal text.
		opt.Context = true
		ctx, _ := ParseTemplateWith(words, opt)
		ctx.RenderTotal(args, 1, 1, 1)
		opt.Quote = true
		q, _ := ParseTemplateWith(words, opt)
		q.RenderTotal(args, 1, 1, 1)
	})
}

// -I STR: every STR (left to right, not overlapping) becomes the value.
func FuzzReplaceString(f *testing.F) {
	f.Add("cp ,, ,,.bak", ",,", "file")
	f.Add("aaa", "aa", "v")
	f.Fuzz(func(t *testing.T, cmd, repl, val string) {
		if repl == "" || strings.ContainsAny(cmd+repl, "{}") {
			return
		}
		tp, err := ParseTemplateWith([]string{cmd}, TemplateOptions{Replace: repl})
		if err != nil {
			t.Fatal(err)
		}
		got := tp.Render([]string{val}, 1, 1)
		want := strings.ReplaceAll(cmd, repl, Quote(val))
		if !strings.Contains(cmd, repl) {
			want = cmd + " " + Quote(val)
		}
		if got != want {
			t.Fatalf("-I %q in %q with %q: got %q want %q", repl, cmd, val, got, want)
		}
	})
}

// Column names from --header become the {N} they name; other braces stay.
func FuzzWithNames(f *testing.F) {
	f.Add("echo {a} {b/} {c.} {a//}", "a\tb")
	f.Fuzz(func(t *testing.T, cmd, header string) {
		names := strings.Split(header, "\t")
		tp := ParseTemplate([]string{cmd}).WithNames(names)
		r := tp.Render([]string{"v1", "v2"}, 1, 1)
		if len(names) == 1 && names[0] == "" && r != ParseTemplate([]string{cmd}).Render([]string{"v1", "v2"}, 1, 1) {
			t.Fatalf("no names changed %q to %q", cmd, r)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "1k", "1.5M", "2Gb", "x", "-1", "1e300t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n < 0 {
			t.Fatalf("ParseSize(%q) = %d", s, n)
		}
	})
}
