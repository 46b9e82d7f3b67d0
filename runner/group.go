package runner

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
)

// Grouping says how many input values make one job (GNU parallel's -n, -N,
// -X, -m, --xargs, -L and -s). The zero value gives one value (one tuple of
// the sources) per job.
type Grouping struct {
	// MaxArgs is the most values per job (-n N, -N N, -L N); 0 means no
	// count limit (then Multi fills jobs up to MaxChars).
	MaxArgs int
	// Zero reads one value per job and inserts none (-N 0, -n 0, -L 0).
	Zero bool
	// Multi fills each command line with as many values as MaxChars allows
	// (-X, -m, --xargs).
	Multi bool
	// MaxChars bounds a command line's length in bytes (-s); 0 means
	// DefaultMaxChars. A single value too long for it is an error, as in
	// GNU parallel.
	MaxChars int
	// Spread, when above 1, spreads the values evenly over that many jobs
	// once the input has ended while the first command lines were filled
	// (-X and -m; --xargs does not spread): GNU parallel's "distribute the
	// arguments evenly among the jobs".
	Spread int
}

// DefaultMaxChars is the command line length -X, -m and --xargs fill up to,
// GNU parallel's usable length on Linux (its --max-line-length-allowed,
// 128 KiB minus the environment).
var DefaultMaxChars = func() int {
	n := 128 << 10
	for _, e := range os.Environ() {
		n -= len(e) + 1
	}
	return max(n, 4096)
}()

// ErrLineTooLong is wrapped by the error of a value that does not fit in
// one command line of Grouping.MaxChars.
var ErrLineTooLong = fmt.Errorf("command line too long")

func (g Grouping) active() bool { return g.MaxArgs > 0 || g.Zero || g.Multi || g.MaxChars > 0 }

// Prepare applies the job-stream options of o to src: column names from a
// --header source bound into the templates, --shuf, the grouping of values
// into jobs, and buffering when {##} needs the total. Run calls it; a
// backend that takes jobs from a JobSource itself calls it first and uses
// the returned Options.
func Prepare(o Options, src JobSource) (Options, JobSource) {
	if n, ok := src.(Namer); ok {
		names := n.Names()
		o.Template = o.Template.WithNames(names)
		if o.TagString != nil {
			ts := o.TagString.WithNames(names)
			o.TagString = &ts
		}
	}
	if o.Piped {
		o.Template.HasRepl = true // nothing is appended: the chunk is on stdin
		return o, src
	}
	if o.Shuf {
		src = newBufferedSource(src, true)
	}
	if o.Group.active() {
		src = &groupSource{src: src, g: o.Group, t: o.Template, total: src.Total()}
	}
	if src.Total() < 0 && (o.Template.uses(Total) || (o.TagString != nil && o.TagString.uses(Total))) {
		src = newBufferedSource(src, false)
	}
	return o, src
}

// bufferedSource reads its whole source up front (for --shuf and {##}).
type bufferedSource struct {
	inner JobSource
	jobs  []Job
	err   error
	i     int
}

func newBufferedSource(src JobSource, shuffle bool) *bufferedSource {
	b := &bufferedSource{inner: src}
	for {
		j, err := src.Next()
		if err != nil {
			if err != io.EOF {
				b.err = err
			}
			break
		}
		b.jobs = append(b.jobs, j)
	}
	if shuffle {
		rand.Shuffle(len(b.jobs), func(i, k int) { b.jobs[i], b.jobs[k] = b.jobs[k], b.jobs[i] })
	}
	return b
}

func (b *bufferedSource) Next() (Job, error) {
	if b.i >= len(b.jobs) {
		if b.err != nil {
			return Job{}, b.err
		}
		return Job{}, io.EOF
	}
	b.i++
	return b.jobs[b.i-1], nil
}
func (b *bufferedSource) Total() int   { return len(b.jobs) }
func (b *bufferedSource) Close() error { return b.inner.Close() }

// groupSource gathers the values of several input jobs into one job.
type groupSource struct {
	src     JobSource
	g       Grouping
	t       Template
	total   int
	back    []Job // values read ahead and put back, in order
	eof     bool
	spread  bool
	seq     int
	nvalues int // values taken so far, for error messages
}

func (s *groupSource) next() (Job, error) {
	if len(s.back) > 0 {
		j := s.back[0]
		s.back = s.back[1:]
		return j, nil
	}
	if s.eof {
		return Job{}, io.EOF
	}
	j, err := s.src.Next()
	if err == io.EOF {
		s.eof = true
	}
	return j, err
}

func (s *groupSource) unget(js []Job) { s.back = append(append([]Job(nil), js...), s.back...) }

func (s *groupSource) Next() (Job, error) {
	if s.g.Zero {
		_, err := s.next()
		if err != nil {
			return Job{}, err
		}
		s.seq++
		return Job{Seq: s.seq, Args: nil}, nil
	}
	maxChars := s.g.MaxChars
	if maxChars <= 0 {
		maxChars = DefaultMaxChars
	}
	var taken []Job
	var args []string
	est := 0
	base := len(s.t.RenderTotal(nil, s.seq+1, 1, s.total))
	for s.g.MaxArgs == 0 || len(taken) < s.g.MaxArgs {
		j, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Job{}, err
		}
		taken = append(taken, j)
		args = append(args, j.Args...)
		s.nvalues++
		// An upper bound of the line's length, checked exactly when it
		// reaches the limit.
		if len(taken) == 1 {
			est = len(s.t.RenderTotal(args, s.seq+1, 1, s.total))
		} else {
			est += len(s.t.RenderTotal(j.Args, s.seq+1, 1, s.total)) - base + 1 + len(s.t.Segments)
		}
		if est >= maxChars {
			est = len(s.t.RenderTotal(args, s.seq+1, 1, s.total))
		}
		if est >= maxChars {
			if len(taken) > 1 {
				s.unget(taken[len(taken)-1:])
				taken = taken[:len(taken)-1]
				s.nvalues--
				break
			}
			v := strings.Join(j.Args, " ")
			if len(v) > 50 {
				v = v[:50] + "..."
			}
			return Job{}, &InputError{Source: "-s/--max-chars", Err: fmt.Errorf("%w (%d >= %d) at input %d: %s", ErrLineTooLong, est, maxChars, s.nvalues, v)}
		}
	}
	if len(taken) == 0 {
		return Job{}, io.EOF
	}
	if s.g.Multi && s.g.Spread > 1 && !s.spread && s.eof && len(s.back) == 0 {
		s.spread = true
		if len(taken) > 1 {
			per := (len(taken) + s.g.Spread - 1) / s.g.Spread
			s.g.MaxArgs = per
			s.unget(taken[per:])
			taken = taken[:per]
		}
	}
	s.seq++
	job := Job{Seq: s.seq}
	for _, j := range taken {
		job.Args = append(job.Args, j.Args...)
	}
	return job, nil
}

// Total is known only when every job holds a fixed count of values.
func (s *groupSource) Total() int {
	if s.total < 0 {
		return -1
	}
	if s.g.Zero {
		return s.total
	}
	if s.g.MaxArgs > 0 && !s.g.Multi {
		return (s.total + s.g.MaxArgs - 1) / s.g.MaxArgs
	}
	return -1
}

func (s *groupSource) Close() error { return s.src.Close() }
