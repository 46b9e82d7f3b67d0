package runner

import (
	"fmt"
	"strconv"
	"strings"
)

// Kind is the kind of a replacement string.
type Kind int

// The replacement strings of GNU parallel that trident supports. Each may be
// prefixed with a column/source number N ({2}, {2.}, {2/}, {2//}, {2/.}).
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
)

// Segment is one piece of a parsed command template.
type Segment struct {
	// Kind says what the segment is.
	Kind Kind
	// Text is the literal text (Kind == Literal).
	Text string
	// Col is the 1-based argument number for {N...} forms, 0 for all.
	Col int
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
}

// ParseTemplate parses a command template. The words of the command are
// joined with single spaces, unquoted, as GNU parallel does: the command is
// shell text. Braces that do not form a known replacement string are kept
// literally, so shell code like ${HOME} or {a,b} passes through.
func ParseTemplate(words []string) Template {
	s := strings.Join(words, " ")
	var t Template
	lit := 0
	add := func(seg Segment) {
		t.Segments = append(t.Segments, seg)
	}
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		end := strings.IndexByte(s[i+1:], '}')
		if end < 0 {
			break
		}
		body := s[i+1 : i+1+end]
		seg, ok := parseRepl(body)
		if !ok {
			continue
		}
		if lit < i {
			add(Segment{Kind: Literal, Text: s[lit:i]})
		}
		add(seg)
		t.HasRepl = true
		i += end + 1
		lit = i + 1
	}
	if lit < len(s) {
		add(Segment{Kind: Literal, Text: s[lit:]})
	}
	return t
}

func parseRepl(body string) (Segment, bool) {
	switch body {
	case "#":
		return Segment{Kind: SeqNum}, true
	case "%":
		return Segment{Kind: Slot}, true
	}
	j := 0
	for j < len(body) && body[j] >= '0' && body[j] <= '9' {
		j++
	}
	col := 0
	if j > 0 {
		n, err := strconv.Atoi(body[:j])
		if err != nil || n < 1 || n > 1<<20 {
			return Segment{}, false
		}
		col = n
	}
	var k Kind
	switch body[j:] {
	case "":
		k = Whole
	case ".":
		k = NoExt
	case "/":
		k = Base
	case "//":
		k = Dir
	case "/.":
		k = BaseNoExt
	default:
		return Segment{}, false
	}
	return Segment{Kind: k, Col: col}, true
}

// Render builds the shell command of a job with the given arguments, job
// number and slot. Argument values are shell-quoted as GNU parallel quotes
// them (see Quote). A {N} beyond the arguments renders empty. When the
// template has no replacement string, the quoted arguments are appended,
// separated by spaces.
func (t Template) Render(args []string, seq, slot int) string {
	var b strings.Builder
	for _, seg := range t.Segments {
		switch seg.Kind {
		case Literal:
			b.WriteString(seg.Text)
		case SeqNum:
			b.WriteString(strconv.Itoa(seq))
		case Slot:
			b.WriteString(strconv.Itoa(slot))
		default:
			if seg.Col > 0 {
				if seg.Col <= len(args) {
					b.WriteString(Quote(Transform(seg.Kind, args[seg.Col-1])))
				}
				continue
			}
			for i, a := range args {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(Quote(Transform(seg.Kind, a)))
			}
		}
	}
	if !t.HasRepl {
		for _, a := range args {
			if b.Len() > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(Quote(a))
		}
	}
	return b.String()
}

// String returns the template in its source form (replacement strings
// written back as {..}).
func (t Template) String() string {
	var b strings.Builder
	for _, seg := range t.Segments {
		if seg.Kind == Literal {
			b.WriteString(seg.Text)
			continue
		}
		b.WriteByte('{')
		if seg.Col > 0 {
			b.WriteString(strconv.Itoa(seg.Col))
		}
		b.WriteString([...]string{"", "", ".", "/", "//", "/.", "#", "%"}[seg.Kind])
		b.WriteByte('}')
	}
	return b.String()
}

// Transform applies a replacement string's path operation to one value:
// {.} strips the extension, {/} keeps the basename, {//} the dirname, {/.}
// the basename without extension. Whole (and others) return v unchanged.
func Transform(k Kind, v string) string {
	switch k {
	case NoExt:
		return stripExt(v)
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
	case BaseNoExt:
		return stripExt(base(v))
	}
	return v
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
