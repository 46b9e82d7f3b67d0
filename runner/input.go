package runner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// Job is one unit of work: its sequence number and its argument values (one
// per input source, or per column with --colsep).
type Job struct {
	// Seq is the job number ({#}, the joblog's Seq), from 1 in input order.
	Seq int
	// Args are the values that replace {}, {1}, {2}, ...
	Args []string
	// Input, when not nil, gives the job's stdin (a fresh reader for each
	// attempt): its chunk with --pipe and --pipepart.
	Input func() io.Reader
}

// JobSource yields jobs in order. It is what Run consumes and what a cluster
// backend would distribute.
type JobSource interface {
	// Next returns the next job, or io.EOF when there are no more. Other
	// errors (a failed read) end the source.
	Next() (Job, error)
	// Total is the number of jobs when known in advance, else -1.
	Total() int
	// Close releases open files. It is safe to call more than once.
	Close() error
}

// InputKind is where an input source's values come from.
type InputKind int

const (
	// FromArgs: the values after ::: on the command line.
	FromArgs InputKind = iota
	// FromFile: the records of a file (:::: FILE or -a FILE; "-" is stdin).
	FromFile
	// FromStdin: the records of standard input.
	FromStdin
)

// InputSpec describes one input source.
type InputSpec struct {
	// Kind says where the values come from.
	Kind InputKind
	// Values for FromArgs.
	Values []string
	// Path for FromFile.
	Path string
	// Linked joins this source to the previous one (:::+ / ::::+): their
	// values are paired up instead of forming all combinations, and the
	// shortest of the linked sources sets how many there are (GNU parallel's
	// :::+, which does not wrap around).
	Linked bool
}

// InputOptions controls how records are read and split.
type InputOptions struct {
	// Null separates records by NUL bytes instead of newlines (-0).
	Null bool
	// ColSep, when not empty, is a regular expression splitting each record
	// into columns ({1}, {2}, ...) (--colsep). White space around each
	// column is trimmed, as GNU parallel's --trim lr (its default with
	// --colsep) does.
	ColSep string
	// Stdin is read for FromStdin and the path "-"; nil means os.Stdin.
	Stdin io.Reader
	// Link pairs all sources up instead of forming all combinations, the
	// shorter ones wrapping around until the longest is used up
	// (--link/--xapply).
	Link bool
	// Header, when not "", takes the first value of each source as the
	// names of its columns (split by ColSep, or TAB without it), usable as
	// {NAME} (see Template.WithNames); "0" names each :::: source by its file
	// name instead (--header : and --header N; as GNU parallel does without
	// --pipe, any N other than 0 takes one line).
	Header string
	// Trim trims white space around each value (or column): "n" (none),
	// "l", "r", "lr" or "rl"; "" means "lr" with ColSep and "n" without it
	// (--trim, with GNU parallel's defaults).
	Trim string
	// NoRunIfEmpty skips values that are empty or only white space (-r).
	NoRunIfEmpty bool
}

// ParseTrim checks a --trim value.
func ParseTrim(s string) error {
	switch s {
	case "", "n", "l", "r", "lr", "rl":
		return nil
	}
	return fmt.Errorf("--trim %q: want n, l, r or lr", s)
}

func trimmer(mode string, colsep bool) func(string) string {
	const ws = " \t\r\n\f\v"
	if mode == "" && colsep {
		mode = "lr"
	}
	switch mode {
	case "l":
		return func(v string) string { return strings.TrimLeft(v, ws) }
	case "r":
		return func(v string) string { return strings.TrimRight(v, ws) }
	case "lr", "rl":
		return func(v string) string { return strings.Trim(v, ws) }
	}
	return nil
}

// Namer is implemented by the JobSource of NewJobSource when
// InputOptions.Header is set: Names are the column names, in {N} order.
type Namer interface {
	Names() []string
}

// ErrInput wraps every error about an input source (unreadable file, bad
// --colsep); the message names the source.
var ErrInput = errors.New("input")

// InputError is an error reading an input source.
type InputError struct {
	// Source names the source, e.g. `file "x.txt"`.
	Source string
	// Err is the cause.
	Err error
}

// Error names the input source and the cause.
func (e *InputError) Error() string { return fmt.Sprintf("input %s: %v", e.Source, e.Err) }

// Unwrap returns the cause.
func (e *InputError) Unwrap() error { return e.Err }

// Is makes errors.Is(err, ErrInput) true.
func (e *InputError) Is(target error) bool { return target == ErrInput }

// NewJobSource builds the job source of GNU parallel's input rules: several
// sources give all combinations (the first varying slowest), linked sources
// are paired; with no spec at all, stdin is the one source. A single
// file or stdin source is streamed (constant memory); several sources are
// read up front. Files are opened at once, so an unreadable file is reported
// before any job runs.
func NewJobSource(specs []InputSpec, opt InputOptions) (JobSource, error) {
	var sep *regexp.Regexp
	if opt.ColSep != "" {
		re, err := regexp.Compile(opt.ColSep)
		if err != nil {
			return nil, &InputError{Source: "--colsep", Err: err}
		}
		sep = re
	}
	if opt.Stdin == nil {
		opt.Stdin = os.Stdin
	}
	if len(specs) == 0 {
		specs = []InputSpec{{Kind: FromStdin}}
	}
	specs = append([]InputSpec(nil), specs...)
	if err := ParseTrim(opt.Trim); err != nil {
		return nil, &InputError{Source: "--trim", Err: err}
	}
	trim := trimmer(opt.Trim, sep != nil)
	split := func(v string) []string {
		if sep == nil {
			if trim != nil {
				v = trim(v)
			}
			return []string{v}
		}
		cols := sep.Split(v, -1)
		if trim != nil {
			for i, c := range cols {
				cols[i] = trim(c)
			}
		}
		return cols
	}
	var names []string
	headerSep := sep
	if headerSep == nil {
		headerSep = regexp.MustCompile("\t")
	}
	if opt.Header == "0" {
		for _, s := range specs {
			if s.Kind == FromFile {
				names = append(names, s.Path)
			}
		}
	}
	// Open readers first so any unreadable file fails before work starts.
	readers := make([]*recordReader, len(specs))
	for i, s := range specs {
		switch s.Kind {
		case FromFile:
			if s.Path == "-" {
				readers[i] = newRecordReader("stdin", opt.Stdin, nil, opt.Null)
				continue
			}
			f, err := os.Open(s.Path)
			if err != nil {
				closeAll(readers)
				return nil, &InputError{Source: fmt.Sprintf("file %q", s.Path), Err: err}
			}
			readers[i] = newRecordReader(fmt.Sprintf("file %q", s.Path), f, f, opt.Null)
		case FromStdin:
			readers[i] = newRecordReader("stdin", opt.Stdin, nil, opt.Null)
		}
	}
	if opt.Header != "" && opt.Header != "0" {
		for i, s := range specs {
			var line string
			if readers[i] != nil {
				v, err := readers[i].next()
				if err != nil && err != io.EOF {
					closeAll(readers)
					return nil, err
				}
				line = v
			} else if len(s.Values) > 0 {
				line = s.Values[0]
				specs[i].Values = s.Values[1:]
			}
			line = strings.TrimSuffix(line, "\r")
			names = append(names, headerSep.Split(line, -1)...)
		}
	}
	if len(specs) == 1 && readers[0] != nil {
		return &streamSource{r: readers[0], split: split, skipEmpty: opt.NoRunIfEmpty, names: names}, nil
	}
	// Read everything; build groups of linked sources.
	var groups [][][]string
	for i, s := range specs {
		vals := s.Values
		if readers[i] != nil {
			var err error
			vals, err = readers[i].all()
			readers[i].Close()
			if err != nil {
				closeAll(readers)
				return nil, err
			}
		}
		if opt.NoRunIfEmpty {
			kept := vals[:0:0]
			for _, v := range vals {
				if strings.TrimSpace(v) != "" {
					kept = append(kept, v)
				}
			}
			vals = kept
		}
		if (s.Linked || opt.Link) && len(groups) > 0 {
			groups[len(groups)-1] = append(groups[len(groups)-1], vals)
		} else {
			groups = append(groups, [][]string{vals})
		}
	}
	// Each group becomes a list of tuples.
	tuples := make([][][]string, len(groups))
	total := 1
	for g, srcs := range groups {
		// Linked sources pair up to the shortest one, as GNU parallel's
		// :::+ does (it does not wrap around like --link).
		// With --link the longest sets the length and the others wrap.
		n := len(srcs[0])
		for _, v := range srcs[1:] {
			if opt.Link {
				n = max(n, len(v))
			} else {
				n = min(n, len(v))
			}
		}
		for _, v := range srcs {
			if len(v) == 0 {
				n = 0
			}
		}
		for k := 0; k < n; k++ {
			var tup []string
			for _, v := range srcs {
				tup = append(tup, split(v[k%len(v)])...)
			}
			tuples[g] = append(tuples[g], tup)
		}
		total *= n
	}
	return &productSource{tuples: tuples, total: total, idx: make([]int, len(tuples)), names: names}, nil
}

func closeAll(rs []*recordReader) {
	for _, r := range rs {
		if r != nil {
			r.Close()
		}
	}
}

// SliceSource returns a JobSource over a fixed list of jobs (for tests and
// for callers that build jobs themselves).
func SliceSource(jobs []Job) JobSource { return &sliceSource{jobs: jobs} }

type sliceSource struct {
	jobs []Job
	i    int
}

func (s *sliceSource) Next() (Job, error) {
	if s.i >= len(s.jobs) {
		return Job{}, io.EOF
	}
	s.i++
	return s.jobs[s.i-1], nil
}
func (s *sliceSource) Total() int   { return len(s.jobs) }
func (s *sliceSource) Close() error { return nil }

type recordReader struct {
	name   string
	br     *bufio.Reader
	closer io.Closer
	delim  byte
}

func newRecordReader(name string, r io.Reader, c io.Closer, null bool) *recordReader {
	d := byte('\n')
	if null {
		d = 0
	}
	return &recordReader{name: name, br: bufio.NewReaderSize(r, 64<<10), closer: c, delim: d}
}

// next returns the next record without its delimiter, or io.EOF.
func (r *recordReader) next() (string, error) {
	line, err := r.br.ReadString(r.delim)
	if err == io.EOF {
		if line == "" {
			return "", io.EOF
		}
		return line, nil
	}
	if err != nil {
		return "", &InputError{Source: r.name, Err: err}
	}
	return strings.TrimSuffix(line, string(r.delim)), nil
}

func (r *recordReader) all() ([]string, error) {
	var out []string
	for {
		v, err := r.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, v)
	}
}

func (r *recordReader) Close() error {
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		return c.Close()
	}
	return nil
}

type streamSource struct {
	r         *recordReader
	split     func(string) []string
	seq       int
	skipEmpty bool
	names     []string
}

func (s *streamSource) Names() []string { return s.names }

func (s *streamSource) Next() (Job, error) {
	v, err := s.r.next()
	for err == nil && s.skipEmpty && strings.TrimSpace(v) == "" {
		v, err = s.r.next()
	}
	if err != nil {
		if err == io.EOF {
			s.r.Close()
		}
		return Job{}, err
	}
	s.seq++
	return Job{Seq: s.seq, Args: s.split(v)}, nil
}
func (s *streamSource) Total() int   { return -1 }
func (s *streamSource) Close() error { return s.r.Close() }

type productSource struct {
	names  []string
	tuples [][][]string
	idx    []int
	total  int
	seq    int
}

func (s *productSource) Next() (Job, error) {
	if s.seq >= s.total {
		return Job{}, io.EOF
	}
	var args []string
	for g, i := range s.idx {
		args = append(args, s.tuples[g][i]...)
	}
	// Advance like an odometer, last group fastest.
	for g := len(s.idx) - 1; g >= 0; g-- {
		s.idx[g]++
		if s.idx[g] < len(s.tuples[g]) {
			break
		}
		s.idx[g] = 0
	}
	s.seq++
	return Job{Seq: s.seq, Args: args}, nil
}
func (s *productSource) Total() int      { return s.total }
func (s *productSource) Names() []string { return s.names }
func (s *productSource) Close() error    { return nil }
