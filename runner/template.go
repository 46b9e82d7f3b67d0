package runner

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Kind is the kind of a replacement string.
type Kind int

// The replacement strings of GNU parallel that trident supports. Each
// value-kind may be prefixed with a column/source number N ({2}, {2.}, {2/},
// {2//}, {2/.}, and with --plus {2..}, {2+.}, ...).
const (
	// Literal is plain text, not a replacement string.
	Literal Kind = iota
	// Whole is {}: the argument (all arguments, space separated).
	Whole
	// NoExt is {.}: the argument without its extension.
	NoExt
	// Base is {/}: the basename.
	Base
	// Dir is {//}: the dirname ("." when there is no slash).
	Dir
	// BaseNoExt is {/.}: the basename without its extension.
	BaseNoExt
	// SeqNum is {#}: the job's sequence number, from 1.
	SeqNum
	// Slot is {%}: the job slot, from 1 to the number of slots.
	Slot
	// Total is {##} (--plus): the number of jobs.
	Total
	// PlusDir is {+/} (--plus): the directory part ("" when there is none).
	PlusDir
	// PlusExt is {+.} (--plus): the extension, without its dot.
	PlusExt
	// PlusExt2 is {+..} (--plus): the last two extensions.
	PlusExt2
	// PlusExt3 is {+...} (--plus): the last three extensions.
	PlusExt3
	// NoExt2 is {..} (--plus): the argument without two extensions.
	NoExt2
	// NoExt3 is {...} (--plus): the argument without three extensions.
	NoExt3
	// BaseNoExt2 is {/..} (--plus): the basename without two extensions.
	BaseNoExt2
	// BaseNoExt3 is {/...} (--plus): the basename without three extensions.
	BaseNoExt3
)

// suffixes are the source forms of the value kinds, after the { and an
// optional column number.
var suffixes = map[Kind]string{Whole: "", NoExt: ".", Base: "/", Dir: "//", BaseNoExt: "/.",
	PlusDir: "+/", PlusExt: "+.", PlusExt2: "+..", PlusExt3: "+...", NoExt2: "..", NoExt3: "...",
	BaseNoExt2: "/..", BaseNoExt3: "/..."}

func (k Kind) isValue() bool { return k != Literal && k != SeqNum && k != Slot && k != Total }

func (k Kind) isPlus() bool { return k >= Total }

// Segment is one piece of a parsed command template.
type Segment struct {
	// Kind says what the segment is.
	Kind Kind
	// Text is the literal text (Kind == Literal).
	Text string
	// Col is the 1-based argument number for {N...} forms, 0 for all.
	Col int
	// Word is the index of the command word the segment comes from, -1 for
	// the single spaces joining the words (used by -q).
	Word int
}

// Template is a parsed command line: literal text and replacement strings.
// The zero value is an empty command.
type Template struct {
	// Segments in order.
	Segments []Segment
	// HasRepl reports whether any replacement string ({}, {.}, {N}, {#},
	// {%}, ...) appears; when none does, the arguments are appended to the
	// command, as GNU parallel does.
	HasRepl bool
	// Context repeats each white-space separated word that holds a
	// replacement string of all the arguments once per argument (GNU
	// parallel's context replace: -X, -N, -L); otherwise such a replacement
	// string gives all the arguments, space separated (-n, -m).
	Context bool
	// QuoteWords quotes each command word as a whole after filling it in
	// (-q): the command is run as the words given, not as shell code.
	QuoteWords bool
}

// TemplateOptions change the replacement strings ParseTemplateWith knows.
type TemplateOptions struct {
	// Plus adds GNU parallel's --plus strings: {##} {+/} {+.} {+..} {+...}
	// {..} {...} {/..} {/...}.
	Plus bool
	// Quote is -q: see Template.QuoteWords.
	Quote bool
	// Context is context replace (-X, -N, -L): see Template.Context.
	Context bool
	// Replace is -I: the string that stands for {} (and then neither {}
	// nor the positional {N} forms are replacement strings, as in GNU
	// parallel).
	Replace string
	// ExtensionReplace, BasenameReplace, DirnameReplace,
	// BasenameExtensionReplace, SeqReplace and SlotReplace stand for {.},
	// {/}, {//}, {/.}, {#} and {%} (GNU parallel's --extensionreplace,
	// --basenamereplace, ...).
	ExtensionReplace, BasenameReplace, DirnameReplace, BasenameExtensionReplace, SeqReplace, SlotReplace string
}

// ParseTemplate parses a command template. The words of the command are
// joined with single spaces, unquoted, as GNU parallel does: the command is
// shell text. Braces that do not form a known replacement string are kept
// literally, so shell code like ${HOME} or {a,b} passes through.
func ParseTemplate(words []string) Template {
	t, _ := ParseTemplateWith(words, TemplateOptions{})
	return t
}

type token struct {
	text string
	kind Kind
}

// ParseTemplateWith parses a command template with the replacement strings
// that opt sets. It fails when two of those strings are the same or empty.
func ParseTemplateWith(words []string, opt TemplateOptions) (Template, error) {
	toks := map[string]Kind{"{}": Whole, "{.}": NoExt, "{/}": Base, "{//}": Dir, "{/.}": BaseNoExt, "{#}": SeqNum, "{%}": Slot}
	if opt.Plus {
		toks["{##}"] = Total
		for k, suf := range suffixes {
			if k.isPlus() {
				toks["{"+suf+"}"] = k
			}
		}
	}
	positional := true
	for _, o := range []struct {
		flag, val, def string
	}{{"-I", opt.Replace, "{}"}, {"--extensionreplace", opt.ExtensionReplace, "{.}"},
		{"--basenamereplace", opt.BasenameReplace, "{/}"}, {"--dirnamereplace", opt.DirnameReplace, "{//}"},
		{"--basenameextensionreplace", opt.BasenameExtensionReplace, "{/.}"},
		{"--seqreplace", opt.SeqReplace, "{#}"}, {"--slotreplace", opt.SlotReplace, "{%}"}} {
		if o.val == "" || o.val == o.def {
			continue
		}
		k := toks[o.def]
		delete(toks, o.def)
		if _, dup := toks[o.val]; dup {
			return Template{}, fmt.Errorf("%s %q: already stands for another replacement string", o.flag, o.val)
		}
		toks[o.val] = k
		if o.def == "{}" {
			positional = false
		}
	}
	list := make([]token, 0, len(toks))
	for s, k := range toks {
		list = append(list, token{s, k})
	}
	// Longest first, so {//} wins over {/} and ,,, over ,,.
	sort.Slice(list, func(i, j int) bool {
		if len(list[i].text) != len(list[j].text) {
			return len(list[i].text) > len(list[j].text)
		}
		return list[i].text < list[j].text
	})
	t := Template{Context: opt.Context, QuoteWords: opt.Quote}
	for w, s := range words {
		if w > 0 {
			t.Segments = append(t.Segments, Segment{Kind: Literal, Text: " ", Word: -1})
		}
		t.parseWord(s, w, list, positional, opt.Plus)
	}
	return t, nil
}

func (t *Template) parseWord(s string, word int, toks []token, positional, plus bool) {
	lit := 0
	add := func(seg Segment) {
		seg.Word = word
		t.Segments = append(t.Segments, seg)
	}
	for i := 0; i < len(s); {
		seg, n := matchRepl(s[i:], toks, positional, plus)
		if n == 0 {
			i++
			continue
		}
		if lit < i {
			add(Segment{Kind: Literal, Text: s[lit:i]})
		}
		add(seg)
		t.HasRepl = true
		i += n
		lit = i
	}
	if lit < len(s) {
		add(Segment{Kind: Literal, Text: s[lit:]})
	}
}

// matchRepl reports the replacement string at the start of s and its
// length, or 0.
func matchRepl(s string, toks []token, positional, plus bool) (Segment, int) {
	if positional && len(s) > 2 && s[0] == '{' && s[1] >= '0' && s[1] <= '9' {
		if end := strings.IndexByte(s, '}'); end > 0 {
			if seg, ok := parsePositional(s[1:end], plus); ok {
				return seg, end + 1
			}
		}
	}
	for _, tk := range toks {
		if strings.HasPrefix(s, tk.text) {
			return Segment{Kind: tk.kind}, len(tk.text)
		}
	}
	return Segment{}, 0
}

func parsePositional(body string, plus bool) (Segment, bool) {
	j := 0
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	n, err := strconv.Atoi(body[:j])
	if err != nil || n < 1 || n > 1<<20 {
		return Segment{}, false
	}
	for k, suf := range suffixes {
		if suf == body[j:] && (plus || !k.isPlus()) {
			return Segment{Kind: k, Col: n}, true
		}
	}
	return Segment{}, false
}

// Render builds the shell command of a job with the given arguments, job
// number and slot. Argument values are shell-quoted as GNU parallel quotes
// them (see Quote). A {N} beyond the arguments renders empty. When the
// template has no replacement string, the quoted arguments are appended,
// separated by spaces. {##} renders as 0 (the total is unknown here; use
// RenderTotal).
func (t Template) Render(args []string, seq, slot int) string {
	return t.RenderTotal(args, seq, slot, 0)
}

// RenderTotal is Render with the number of jobs, for {##}.
func (t Template) RenderTotal(args []string, seq, slot, total int) string {
	r := renderer{args: args, seq: seq, slot: slot, total: total, quote: !t.QuoteWords}
	var b strings.Builder
	switch {
	case t.QuoteWords:
		t.renderQuoted(&b, &r)
	case t.Context && t.HasRepl:
		t.renderContext(&b, &r)
	default:
		for _, seg := range t.Segments {
			r.write(&b, seg, args)
		}
	}
	if !t.HasRepl {
		b.WriteByte(' ')
		for i, a := range args {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(Quote(a))
		}
	}
	return b.String()
}

// renderRaw renders with the values unquoted (--tagstring).
func (t Template) renderRaw(args []string, seq, slot, total int) string {
	r := renderer{args: args, seq: seq, slot: slot, total: total}
	var b strings.Builder
	for _, seg := range t.Segments {
		r.write(&b, seg, args)
	}
	return b.String()
}

type renderer struct {
	args             []string
	seq, slot, total int
	quote            bool
}

// write writes one segment; vals are the arguments a non-positional value
// replacement string stands for.
func (r *renderer) write(b *strings.Builder, seg Segment, vals []string) {
	q := func(v string) string {
		if r.quote {
			return Quote(v)
		}
		return v
	}
	switch seg.Kind {
	case Literal:
		b.WriteString(seg.Text)
	case SeqNum:
		b.WriteString(strconv.Itoa(r.seq))
	case Slot:
		b.WriteString(strconv.Itoa(r.slot))
	case Total:
		b.WriteString(strconv.Itoa(r.total))
	default:
		if seg.Col > 0 {
			if seg.Col <= len(r.args) {
				b.WriteString(q(Transform(seg.Kind, r.args[seg.Col-1])))
			}
			return
		}
		for i, a := range vals {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(q(Transform(seg.Kind, a)))
		}
	}
}

// renderQuoted fills each command word with the raw values and quotes the
// result as one word (-q).
func (t Template) renderQuoted(b *strings.Builder, r *renderer) {
	var w strings.Builder
	cur := -2
	flush := func() {
		if cur >= 0 {
			b.WriteString(Quote(w.String()))
		}
		w.Reset()
	}
	for _, seg := range t.Segments {
		if seg.Word < 0 {
			flush()
			cur = -2
			b.WriteString(seg.Text)
			continue
		}
		if seg.Word != cur {
			flush()
			cur = seg.Word
		}
		r.write(&w, seg, r.args)
	}
	flush()
}

// renderContext writes each white-space separated word that holds a
// non-positional value replacement string once per argument.
func (t Template) renderContext(b *strings.Builder, r *renderer) {
	var word []Segment
	one := make([]string, 1)
	flush := func() {
		if len(word) == 0 {
			return
		}
		ctx := false
		for _, s := range word {
			if s.Kind.isValue() && s.Col == 0 {
				ctx = true
				break
			}
		}
		if !ctx {
			for _, s := range word {
				r.write(b, s, r.args)
			}
		} else {
			for i, a := range r.args {
				if i > 0 {
					b.WriteByte(' ')
				}
				one[0] = a
				for _, s := range word {
					r.write(b, s, one)
				}
			}
		}
		word = word[:0]
	}
	for _, seg := range t.Segments {
		if seg.Kind != Literal {
			word = append(word, seg)
			continue
		}
		text := seg.Text
		for text != "" {
			i := strings.IndexAny(text, " \t\n")
			if i < 0 {
				word = append(word, Segment{Kind: Literal, Text: text})
				break
			}
			if i > 0 {
				word = append(word, Segment{Kind: Literal, Text: text[:i]})
			}
			flush()
			b.WriteByte(text[i])
			text = text[i+1:]
		}
	}
	flush()
}

// String returns the template in its source form (replacement strings
// written back as {..}).
func (t Template) String() string {
	var b strings.Builder
	for _, seg := range t.Segments {
		switch seg.Kind {
		case Literal:
			b.WriteString(seg.Text)
			continue
		case SeqNum:
			b.WriteString("{#}")
			continue
		case Slot:
			b.WriteString("{%}")
			continue
		case Total:
			b.WriteString("{##}")
			continue
		}
		b.WriteByte('{')
		if seg.Col > 0 {
			b.WriteString(strconv.Itoa(seg.Col))
		}
		b.WriteString(suffixes[seg.Kind])
		b.WriteByte('}')
	}
	return b.String()
}

// uses reports whether the template has a replacement string of kind k.
func (t Template) uses(k Kind) bool {
	for _, s := range t.Segments {
		if s.Kind == k {
			return true
		}
	}
	return false
}

// WithNames replaces {NAME}, {NAME/}, {NAME//}, {NAME.} and {NAME/.} in the
// literal text by the positional {N} forms, NAME being names[N-1] (GNU
// parallel's --header column names).
func (t Template) WithNames(names []string) Template {
	if len(names) == 0 {
		return t
	}
	out := t
	out.Segments = nil
	for _, seg := range t.Segments {
		if seg.Kind != Literal {
			out.Segments = append(out.Segments, seg)
			continue
		}
		s := seg.Text
		lit := 0
		for i := 0; i < len(s); i++ {
			if s[i] != '{' {
				continue
			}
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				break
			}
			body := s[i+1 : i+end]
			found := Segment{}
			for n, name := range names {
				rest, ok := strings.CutPrefix(body, name)
				if !ok || name == "" {
					continue
				}
				for _, k := range []Kind{Whole, Base, Dir, NoExt, BaseNoExt} {
					if suffixes[k] == rest {
						found = Segment{Kind: k, Col: n + 1, Word: seg.Word}
					}
				}
				if found.Kind != Literal {
					break
				}
			}
			if found.Kind == Literal {
				continue
			}
			if lit < i {
				out.Segments = append(out.Segments, Segment{Kind: Literal, Text: s[lit:i], Word: seg.Word})
			}
			out.Segments = append(out.Segments, found)
			out.HasRepl = true
			i += end
			lit = i + 1
		}
		if lit < len(s) {
			out.Segments = append(out.Segments, Segment{Kind: Literal, Text: s[lit:], Word: seg.Word})
		}
	}
	return out
}

// Transform applies a replacement string's path operation to one value:
// {.} strips the extension, {/} keeps the basename, {//} the dirname, {/.}
// the basename without extension, and the --plus forms as GNU parallel
// defines them. Whole (and others) return v unchanged.
func Transform(k Kind, v string) string {
	switch k {
	case NoExt:
		return stripExt(v)
	case NoExt2:
		return stripExts(v, 2)
	case NoExt3:
		return stripExts(v, 3)
	case Base:
		return base(v)
	case Dir:
		i := strings.LastIndexByte(v, '/')
		switch {
		case i < 0:
			return "."
		case i == 0:
			return "/"
		}
		return v[:i]
	case PlusDir:
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			return v[:i]
		}
		return ""
	case BaseNoExt:
		return stripExt(base(v))
	case BaseNoExt2:
		return stripExts(base(v), 2)
	case BaseNoExt3:
		return stripExts(base(v), 3)
	case PlusExt:
		return ext(v, 1)
	case PlusExt2:
		return ext(v, 2)
	case PlusExt3:
		return ext(v, 3)
	}
	return v
}

// stripExts removes the last n extensions of the last path element when it
// has that many, else returns v unchanged: GNU parallel's {..} is
// s:\.[^/.]*\.[^/.]*$::, which does not match "a.b".
func stripExts(v string, n int) string {
	s := v
	for i := 0; i < n; i++ {
		t := stripExt(s)
		if len(t) == len(s) {
			return v
		}
		s = t
	}
	return s
}

// ext returns the last n extensions of v without their first dot, or ""
// when v has fewer ({+.}: "a.b.c" gives "c"; {+..} gives "b.c").
func ext(v string, n int) string {
	s := stripExts(v, n)
	if len(s) == len(v) {
		return ""
	}
	return v[len(s)+1:]
}

func base(v string) string {
	if v == "/" {
		return v
	}
	if i := strings.LastIndexByte(v, '/'); i >= 0 {
		return v[i+1:]
	}
	return v
}

// stripExt removes the last ".ext" of the last path element, exactly as GNU
// parallel's s:\.[^/.]*$:: does (so ".bashrc" becomes "" and "a." "a").
func stripExt(v string) string {
	slash := strings.LastIndexByte(v, '/')
	if dot := strings.LastIndexByte(v, '.'); dot > slash {
		return v[:dot]
	}
	return v
}

// Quote quotes v for sh the way GNU parallel does: values made only of
// letters, digits and - _ . + / stay bare; anything else is put in single
// quotes, with each ' written as '"'"'. The empty string becomes ”.
func Quote(v string) string {
	if v == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '/') {
			safe = false
			break
		}
	}
	if safe {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'"'"'`) + "'"
}

// validate reports a template that cannot run.
func (t Template) validate() error {
	for _, s := range t.Segments {
		if s.Kind != Literal || strings.TrimSpace(s.Text) != "" {
			return nil
		}
	}
	return fmt.Errorf("runner: empty command")
}
