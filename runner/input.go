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
	split := func(v string) []string {
		if sep == nil {
			return []string{v}
		}
		cols := sep.Split(v, -1)
		for i, c := range cols {
			cols[i] = strings.Trim(c, " \t\r\n\f\v")
		}
		return cols
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
	if len(specs) == 1 && readers[0] != nil {
		return &streamSource{r: readers[0], split: split}, nil
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
		if s.Linked && len(groups) > 0 {
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
		n := len(srcs[0])
		for _, v := range srcs[1:] {
			n = min(n, len(v))
		}
		for k := 0; k < n; k++ {
			var tup []string
			for _, v := range srcs {
				tup = append(tup, split(v[k])...)
			}
			tuples[g] = append(tuples[g], tup)
		}
		total *= n
	}
	return &productSource{tuples: tuples, total: total, idx: make([]int, len(tuples))}, nil
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
	r     *recordReader
	split func(string) []string
	seq   int
}

func (s *streamSource) Next() (Job, error) {
	v, err := s.r.next()
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
func (s *productSource) Total() int   { return s.total }
func (s *productSource) Close() error { return nil }
