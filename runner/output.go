package runner

import (
	"bytes"
	"io"
	"os"
	"sync"
)

// capture is one finished job's stdout or stderr: a spillBuffer (filled
// from a pipe) or a fileCapture (the file the child wrote).
type capture interface {
	Size() int64
	WriteTo(w io.Writer) (int64, error)
	Bytes() []byte
	Close()
}

func captureBytes(c capture) []byte {
	var out bytes.Buffer
	out.Grow(int(c.Size()))
	c.WriteTo(&out)
	return out.Bytes()
}

// spillBuffer keeps up to limit bytes in memory and the rest in a temp
// file, so a job that prints megabytes does not grow the runner's memory.
type spillBuffer struct {
	limit int
	dir   string
	mem   bytes.Buffer
	file  *os.File
	n     int64
	err   error
}

func (b *spillBuffer) Write(p []byte) (int, error) {
	b.n += int64(len(p))
	if b.file == nil && b.mem.Len()+len(p) <= b.limit {
		return b.mem.Write(p)
	}
	if b.file == nil && b.err == nil {
		f, err := os.CreateTemp(b.dir, "trident-run-*.out")
		if err != nil {
			b.err = err
		} else {
			os.Remove(f.Name()) // unlinked: vanishes with the descriptor
			b.file = f
		}
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.file.Write(p)
}

// Size is the number of bytes written.
func (b *spillBuffer) Size() int64 { return b.n }

// WriteTo copies everything written so far to w.
func (b *spillBuffer) WriteTo(w io.Writer) (int64, error) {
	n, err := w.Write(b.mem.Bytes())
	total := int64(n)
	if err != nil || b.file == nil {
		return total, err
	}
	if _, err := b.file.Seek(0, io.SeekStart); err != nil {
		return total, err
	}
	m, err := io.Copy(w, b.file)
	return total + m, err
}

// Bytes returns the whole content (reading back a spilled file).
func (b *spillBuffer) Bytes() []byte { return captureBytes(b) }

func (b *spillBuffer) Close() {
	if b.file != nil {
		b.file.Close()
		b.file = nil
	}
	b.mem = bytes.Buffer{}
}

// lockedWriter serializes writes of whole chunks to one output.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// lineWriter passes complete lines to out as they come (--line-buffer),
// prefixing each with tag; a partial last line waits for its newline or for
// flush.
type lineWriter struct {
	out     *lockedWriter
	tag     string
	pending []byte
	n       int64
	raw     bool // -u: pass everything through at once
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.n += int64(len(p))
	if l.raw && l.tag == "" {
		return l.out.Write(p)
	}
	l.pending = append(l.pending, p...)
	i := bytes.LastIndexByte(l.pending, '\n')
	if i < 0 {
		return len(p), nil
	}
	chunk := l.pending[:i+1]
	if _, err := l.out.Write(tagLines(l.tag, chunk)); err != nil {
		return 0, err
	}
	l.pending = append(l.pending[:0], l.pending[i+1:]...)
	return len(p), nil
}

func (l *lineWriter) flush() {
	if len(l.pending) > 0 {
		l.out.Write(tagLines(l.tag, l.pending))
		l.pending = nil
	}
}

// tagLines prefixes every line of p with tag (p is returned unchanged when
// tag is empty).
func tagLines(tag string, p []byte) []byte {
	if tag == "" || len(p) == 0 {
		return p
	}
	var b bytes.Buffer
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		b.WriteString(tag)
		if i < 0 {
			b.Write(p)
			break
		}
		b.Write(p[:i+1])
		p = p[i+1:]
	}
	return b.Bytes()
}

// tagWriter prefixes lines written to w with tag, keeping track of line
// starts across writes (for grouped output streamed from a spill file).
type tagWriter struct {
	w       io.Writer
	tag     string
	midLine bool
}

func (t *tagWriter) Write(p []byte) (int, error) {
	n := len(p)
	var b bytes.Buffer
	for len(p) > 0 {
		if !t.midLine {
			b.WriteString(t.tag)
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			b.Write(p)
			t.midLine = true
			break
		}
		b.Write(p[:i+1])
		t.midLine = false
		p = p[i+1:]
	}
	_, err := t.w.Write(b.Bytes())
	return n, err
}
