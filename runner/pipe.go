package runner

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"sync"
)

// PipeOptions configure --pipe and --pipepart: the input is cut into chunks
// at record boundaries and each job gets one chunk on its stdin (GNU
// parallel's --pipe), instead of values on its command line.
type PipeOptions struct {
	// Input is read with --pipe; nil means os.Stdin.
	Input io.Reader
	// PartFile is --pipepart -a FILE: the chunks are byte ranges of the
	// file, found by seeking, and each job reads its range itself.
	PartFile string
	// Block is the chunk size (--block); 0 means DefaultBlock. A chunk
	// ends at the last record boundary within the block (--pipe) or at the
	// first one after it (--pipepart); a record longer than the block makes
	// it grow by 30%, with a warning, as in GNU parallel.
	Block int64
	// Records, when above 0, puts exactly this many records in each chunk
	// (-N with --pipe), the last one excepted.
	Records int
	// Lines, when above 0, makes a record this many lines (-L with
	// --pipe); without Records, each chunk holds whole such records up to
	// the block size.
	Lines int
	// RecStart and RecEnd mark record boundaries (--recstart, --recend):
	// a boundary is RecEnd followed by RecStart. Both "" means RecEnd
	// "\n" (GNU parallel's default).
	RecStart, RecEnd string
	// RoundRobin starts one job per slot and hands each the next chunk as
	// soon as it has read the last one (--roundrobin).
	RoundRobin bool
	// Warn receives warnings (a record longer than the block); nil means
	// none are shown.
	Warn func(msg string)
}

// DefaultBlock is --block's default, 1 MiB as in GNU parallel.
const DefaultBlock = 1 << 20

func (p *PipeOptions) seps() (recEnd, sep []byte) {
	if p.RecStart == "" && p.RecEnd == "" {
		return []byte("\n"), []byte("\n")
	}
	return []byte(p.RecEnd), []byte(p.RecEnd + p.RecStart)
}

// pipeSource cuts a stream into chunks exactly as GNU parallel's
// spreadstdin does: fill the buffer up to the next multiple of the block
// size, cut at the last boundary (or every Records-th one), keep the rest.
type pipeSource struct {
	o       PipeOptions
	r       io.Reader
	block   int
	buf     []byte
	eof     bool
	done    bool
	pending [][]byte
	seq     int
	recEnd  []byte
	sep     []byte
}

func newPipeSource(o PipeOptions) *pipeSource {
	s := &pipeSource{o: o, r: o.Input, block: int(o.Block)}
	if s.r == nil {
		s.r = os.Stdin
	}
	if s.block <= 0 {
		s.block = DefaultBlock
	}
	s.recEnd, s.sep = o.seps()
	return s
}

func (s *pipeSource) readBlock() error {
	want := s.block - len(s.buf)%s.block
	if cap(s.buf)-len(s.buf) < want {
		nb := make([]byte, len(s.buf), len(s.buf)+want)
		copy(nb, s.buf)
		s.buf = nb
	}
	for want > 0 {
		n, err := s.r.Read(s.buf[len(s.buf) : len(s.buf)+want])
		s.buf = s.buf[:len(s.buf)+n]
		want -= n
		if err == io.EOF || (n == 0 && err == nil) {
			s.eof = true
			return nil
		}
		if err != nil {
			return &InputError{Source: "--pipe input", Err: err}
		}
	}
	return nil
}

// cut moves buf[:i] to the pending chunks.
func (s *pipeSource) cut(ends []int) {
	prev := 0
	for _, e := range ends {
		if e > prev {
			s.pending = append(s.pending, append([]byte(nil), s.buf[prev:e]...))
		}
		prev = e
	}
	s.buf = s.buf[:copy(s.buf, s.buf[prev:])]
}

// pass finds the chunk ends in the buffer.
func (s *pipeSource) pass() []int {
	switch {
	case s.o.Lines > 0 && s.o.Records == 0:
		// Whole records of Lines lines.
		n := bytes.Count(s.buf, []byte("\n"))
		n -= n % s.o.Lines
		if n == 0 {
			return nil
		}
		end := 0
		for i := 0; i < n; i++ {
			end += bytes.IndexByte(s.buf[end:], '\n') + 1
		}
		return []int{end}
	case s.o.Records > 0:
		// GNU parallel's nindex: the per-th boundary, searching each from
		// one past the last (so one at the very start is not counted).
		per := s.o.Records * max(s.o.Lines, 1)
		var ends []int
		start := 0
		for start < len(s.buf) && len(s.sep) > 0 {
			i := start
			for k := 0; k < per && i >= 0; k++ {
				if i+1 > len(s.buf) {
					i = -1
					break
				}
				j := bytes.Index(s.buf[i+1:], s.sep)
				if j < 0 {
					i = -1
					break
				}
				i += 1 + j
			}
			if i < 0 {
				break
			}
			start = i + len(s.recEnd)
			ends = append(ends, start)
		}
		return ends
	default:
		if s.eof || len(s.sep) == 0 {
			return nil
		}
		i := bytes.LastIndex(s.buf, s.sep)
		if i < 0 {
			return nil
		}
		return []int{i + len(s.recEnd)}
	}
}

func (s *pipeSource) nextChunk() ([]byte, error) {
	for len(s.pending) == 0 {
		if s.done {
			return nil, io.EOF
		}
		if err := s.readBlock(); err != nil {
			return nil, err
		}
		ends := s.pass()
		s.cut(ends)
		if s.eof {
			s.done = true
			if len(s.buf) > 0 {
				s.pending = append(s.pending, s.buf)
				s.buf = nil
			}
			break
		}
		if len(ends) == 0 && s.block < 1<<31-1 {
			old := s.block
			s.block = min(int(math.Ceil(float64(s.block)*1.3+1)), 1<<31-1)
			if s.o.Warn != nil {
				s.o.Warn(fmt.Sprintf("a record was longer than %d: increasing --block to %d", old, s.block))
			}
		}
	}
	if len(s.pending) == 0 {
		return nil, io.EOF
	}
	c := s.pending[0]
	s.pending[0] = nil
	s.pending = s.pending[1:]
	return c, nil
}

func (s *pipeSource) Next() (Job, error) {
	c, err := s.nextChunk()
	if err != nil {
		return Job{}, err
	}
	s.seq++
	return Job{Seq: s.seq, Input: func() io.Reader { return bytes.NewReader(c) }}, nil
}
func (s *pipeSource) Total() int   { return -1 }
func (s *pipeSource) Close() error { return nil }

// roundRobinSource gives n jobs, each reading whole chunks from one shared
// pipeSource as it consumes them (--roundrobin).
type roundRobinSource struct {
	mu  sync.Mutex
	src *pipeSource
	n   int
	seq int
}

// Next starts a job only when there is a chunk for it, as GNU parallel
// does: short input starts fewer jobs.
func (s *roundRobinSource) Next() (Job, error) {
	if s.seq >= s.n {
		return Job{}, io.EOF
	}
	s.mu.Lock()
	c, err := s.src.nextChunk()
	s.mu.Unlock()
	if err != nil {
		return Job{}, err
	}
	s.seq++
	rd := &rrReader{s: s, cur: c}
	return Job{Seq: s.seq, Input: func() io.Reader { return rd }}, nil
}
func (s *roundRobinSource) Total() int   { return -1 }
func (s *roundRobinSource) Close() error { return nil }

type rrReader struct {
	s   *roundRobinSource
	cur []byte
}

func (r *rrReader) Read(p []byte) (int, error) {
	if len(r.cur) == 0 {
		r.s.mu.Lock()
		c, err := r.s.src.nextChunk()
		r.s.mu.Unlock()
		if err != nil {
			return 0, io.EOF
		}
		r.cur = c
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// partSource gives the byte ranges of a file split as GNU parallel's
// --pipepart splits it: at each block size from the last cut, moved on to
// the first record boundary after it.
type partSource struct {
	f   *os.File
	pos []int64
	seq int
}

func newPartSource(o PipeOptions) (*partSource, error) {
	f, err := os.Open(o.PartFile)
	if err != nil {
		return nil, &InputError{Source: fmt.Sprintf("--pipepart file %q", o.PartFile), Err: err}
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, &InputError{Source: fmt.Sprintf("--pipepart file %q", o.PartFile), Err: err}
	}
	size := st.Size()
	block := o.Block
	if block <= 0 {
		block = DefaultBlock
	}
	recEnd, sep := o.seps()
	pos := []int64{0}
	chunk := make([]byte, 128<<10)
	var buf []byte
	for p := block; p < size; p += block {
		if len(sep) == 0 {
			pos = append(pos, p)
			continue
		}
		buf = buf[:0]
		for off := p; ; {
			n, err := f.ReadAt(chunk, off)
			buf = append(buf, chunk[:n]...)
			off += int64(n)
			if i := bytes.Index(buf, sep); i >= 0 {
				p += int64(i + len(recEnd))
				pos = append(pos, p)
				break
			}
			if err != nil || n == 0 {
				break
			}
		}
	}
	if pos[len(pos)-1] != size {
		pos = append(pos, size)
	}
	return &partSource{f: f, pos: pos}, nil
}

func (s *partSource) Next() (Job, error) {
	for s.seq+1 < len(s.pos) {
		a, b := s.pos[s.seq], s.pos[s.seq+1]
		s.seq++
		if b <= a {
			continue
		}
		f := s.f
		return Job{Seq: s.seq, Input: func() io.Reader { return io.NewSectionReader(f, a, b-a) }}, nil
	}
	return Job{}, io.EOF
}
func (s *partSource) Total() int   { return len(s.pos) - 1 }
func (s *partSource) Close() error { return s.f.Close() }

// NewPipeSource returns the job source of --pipe (chunks of o.Input),
// --pipepart (ranges of o.PartFile) or --roundrobin (slots jobs sharing
// the chunks). Each job's Input gives its stdin.
func NewPipeSource(o PipeOptions, slots int) (JobSource, error) {
	if o.PartFile != "" {
		if o.Records > 0 || o.Lines > 0 || o.RoundRobin {
			return nil, fmt.Errorf("--pipepart cuts by --block only: -N, -L and --roundrobin need --pipe")
		}
		return newPartSource(o)
	}
	if o.RoundRobin {
		return &roundRobinSource{src: newPipeSource(o), n: max(1, slots)}, nil
	}
	return newPipeSource(o), nil
}
