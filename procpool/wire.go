// The wire format shared by both processes: frame types, encoding and decoding, and the parent's frame writer.

package procpool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// The wire protocol between a pool and its workers: frames on a dedicated
// pipe pair (fd 3: pool -> worker, fd 4: worker -> pool). A frame is a
// 4-byte big-endian length, then that many bytes: one type byte and a body
// made of uvarints, varints and length-prefixed byte strings.
const (
	// protocolVersion 2: a call frame carries one payload and a result
	// frame one item (version 1 carried n of each).
	protocolVersion = 2
	protocolMagic   = "trident-procpool"
	// maxFrame bounds a frame; a larger length is a malformed frame.
	maxFrame = 1 << 28
)

type frameType byte

const (
	fHello  frameType = 1 // worker -> pool: magic, version, pid
	fSetup  frameType = 2 // pool -> worker: version, worker id, codec, initializer name and argument
	fReady  frameType = 3 // worker -> pool: 0, or 1 and an encoded RemoteError (initializer failed)
	fCall   frameType = 4 // pool -> worker: id, name, deadline (unix ns, 0 none), flags, payload
	fCancel frameType = 5 // pool -> worker: id
	fResult frameType = 6 // worker -> pool: id, elapsed ns, status byte, bytes
)

func (t frameType) String() string {
	switch t {
	case fHello:
		return "hello"
	case fSetup:
		return "setup"
	case fReady:
		return "ready"
	case fCall:
		return "call"
	case fCancel:
		return "cancel"
	case fResult:
		return "result"
	}
	return fmt.Sprintf("frame(%d)", byte(t))
}

// errMalformed is wrapped by every decoding error of this file.
var errMalformed = errors.New("malformed frame")

// errTruncated is wrapped by the error of a frame cut short by the end of
// the stream: the writer died in the middle of it.
var errTruncated = errors.New("truncated frame")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// enc builds one frame. Start with newFrame, append fields, then finish.
type enc struct{ b []byte }

func newFrame(t frameType, sizeHint int) *enc {
	e := &enc{b: make([]byte, 5, 5+sizeHint)}
	e.b[4] = byte(t)
	return e
}

func (e *enc) uint(v uint64) *enc  { e.b = binary.AppendUvarint(e.b, v); return e }
func (e *enc) int(v int64) *enc    { e.b = binary.AppendVarint(e.b, v); return e }
func (e *enc) byte1(v byte) *enc   { e.b = append(e.b, v); return e }
func (e *enc) str(s string) *enc   { e.uint(uint64(len(s))); e.b = append(e.b, s...); return e }
func (e *enc) bytes(p []byte) *enc { e.uint(uint64(len(p))); e.b = append(e.b, p...); return e }

// finish writes the length header and returns the complete frame.
func (e *enc) finish() []byte {
	binary.BigEndian.PutUint32(e.b[:4], uint32(len(e.b)-4))
	return e.b
}

// dec reads the fields of one frame body; the first error sticks.
type dec struct {
	b   []byte
	err error
}

func (d *dec) fail(what string) {
	if d.err == nil {
		d.err = malformed("%s", what)
	}
}

func (d *dec) uint(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail("bad " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) int(what string) int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail("bad " + what)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *dec) byte1(what string) byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail("missing " + what)
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *dec) bytes(what string) []byte {
	n := d.uint(what + " length")
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(what + " longer than the frame")
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *dec) str(what string) string { return string(d.bytes(what)) }

// done reports the sticky error, or trailing bytes as malformed.
func (d *dec) done(t frameType) error {
	if d.err == nil && len(d.b) != 0 {
		d.fail(fmt.Sprintf("%d trailing bytes", len(d.b)))
	}
	if d.err != nil {
		return fmt.Errorf("%s frame: %w", t, d.err)
	}
	return nil
}

// readFrame reads one frame and returns its type and body. io.EOF means the
// other end closed the pipe cleanly between frames.
func readFrame(r *bufio.Reader) (frameType, []byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if err == io.ErrUnexpectedEOF {
			return 0, nil, fmt.Errorf("%w: %w: header", errMalformed, errTruncated)
		}
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n == 0 {
		return 0, nil, malformed("empty frame")
	}
	if n > maxFrame {
		return 0, nil, malformed("frame of %d bytes exceeds the limit of %d", n, maxFrame)
	}
	var body []byte
	if n <= 1<<20 {
		body = make([]byte, n)
		if _, err := io.ReadFull(r, body); err != nil {
			return 0, nil, fmt.Errorf("%w: %w: %v", errMalformed, errTruncated, err)
		}
	} else {
		// A large length is only believed as the bytes arrive, so a bogus
		// header cannot make us allocate hundreds of megabytes up front.
		var buf bytes.Buffer
		if _, err := io.CopyN(&buf, r, int64(n)); err != nil {
			return 0, nil, fmt.Errorf("%w: %w: %v", errMalformed, errTruncated, err)
		}
		body = buf.Bytes()
	}
	return frameType(body[0]), body[1:], nil
}

// Decoded frames.

type helloMsg struct {
	magic   string
	version uint64
	pid     uint64
}

func decodeHello(b []byte) (m helloMsg, err error) {
	d := dec{b: b}
	m.magic = d.str("magic")
	m.version = d.uint("version")
	m.pid = d.uint("pid")
	return m, d.done(fHello)
}

type setupMsg struct {
	version  uint64
	workerID uint64
	codec    string
	initName string
	initArg  []byte
}

func (m setupMsg) encode() []byte {
	return newFrame(fSetup, 32+len(m.initName)+len(m.initArg)).uint(m.version).uint(m.workerID).
		str(m.codec).str(m.initName).bytes(m.initArg).finish()
}

func decodeSetup(b []byte) (m setupMsg, err error) {
	d := dec{b: b}
	m.version = d.uint("version")
	m.workerID = d.uint("worker id")
	m.codec = d.str("codec")
	m.initName = d.str("initializer name")
	m.initArg = d.bytes("initializer argument")
	return m, d.done(fSetup)
}

// callMsg is one unit of work: the argument of one call, or the arguments
// of a chunk of a Map encoded as one value (flagBatch). Either way one
// payload travels and one item comes back.
type callMsg struct {
	id       uint64
	name     string
	deadline int64 // unix ns, 0 = none
	flags    uint64
	payload  []byte
}

// Call frame flags.
const flagBatch = 1 // the payload holds a chunk of calls: run with InvokeBatch

func (m callMsg) encode() []byte {
	return newFrame(fCall, 24+len(m.name)+len(m.payload)).uint(m.id).str(m.name).int(m.deadline).uint(m.flags).
		bytes(m.payload).finish()
}

func decodeCall(b []byte) (m callMsg, err error) {
	d := dec{b: b}
	m.id = d.uint("id")
	m.name = d.str("name")
	m.deadline = d.int("deadline")
	m.flags = d.uint("flags")
	if d.err == nil && m.flags&^flagBatch != 0 {
		d.fail(fmt.Sprintf("bad flags %#x", m.flags))
	}
	m.payload = d.bytes("payload")
	return m, d.done(fCall)
}

func (m callMsg) deadlineTime() (time.Time, bool) {
	if m.deadline == 0 {
		return time.Time{}, false
	}
	return time.Unix(0, m.deadline), true
}

func encodeCancel(id uint64) []byte { return newFrame(fCancel, 10).uint(id).finish() }

func decodeCancel(b []byte) (uint64, error) {
	d := dec{b: b}
	id := d.uint("id")
	return id, d.done(fCancel)
}

// resultMsg is the outcome of one call frame: the payload Invoke or
// InvokeBatch returned, or an encoded *registry.RemoteError when failed.
type resultMsg struct {
	id      uint64
	elapsed int64 // ns the worker spent running the calls
	failed  bool
	data    []byte
}

func (m resultMsg) encode() []byte {
	st := byte(0)
	if m.failed {
		st = 1
	}
	return newFrame(fResult, 24+len(m.data)).uint(m.id).int(m.elapsed).byte1(st).bytes(m.data).finish()
}

func decodeResult(b []byte) (m resultMsg, err error) {
	d := dec{b: b}
	m.id = d.uint("id")
	m.elapsed = d.int("elapsed")
	st := d.byte1("status")
	if d.err == nil && st > 1 {
		d.fail(fmt.Sprintf("bad status %d", st))
	}
	m.failed = st == 1
	m.data = d.bytes("result")
	return m, d.done(fResult)
}

// frameWriter sends frames from any goroutine; a single writer goroutine
// drains the queue, so frames queued while a write is in progress go out
// together in the next one.
type frameWriter struct {
	mu     sync.Mutex
	queue  [][]byte
	closed bool
	wake   chan struct{}
	done   chan struct{}
	err    error
	after  func() // called by the writer goroutine when it stops
}

func newFrameWriterAfter(out io.Writer, after func()) *frameWriter {
	fw := &frameWriter{wake: make(chan struct{}, 1), done: make(chan struct{}), after: after}
	go fw.loop(out)
	return fw
}

// send queues a frame; it never blocks on the pipe.
func (fw *frameWriter) send(frame []byte) {
	fw.mu.Lock()
	if fw.closed {
		fw.mu.Unlock()
		return
	}
	fw.queue = append(fw.queue, frame)
	fw.mu.Unlock()
	select {
	case fw.wake <- struct{}{}:
	default:
	}
}

// shutdown asks the writer to flush what is queued and stop, without
// waiting; later sends are dropped.
func (fw *frameWriter) shutdown() {
	fw.mu.Lock()
	fw.closed = true
	fw.mu.Unlock()
	select {
	case fw.wake <- struct{}{}:
	default:
	}
}

func (fw *frameWriter) loop(out io.Writer) {
	defer close(fw.done)
	if fw.after != nil {
		defer fw.after()
	}
	bw := bufio.NewWriterSize(out, 64<<10)
	var batch [][]byte
	for {
		fw.mu.Lock()
		batch, fw.queue = fw.queue, batch[:0]
		closed := fw.closed
		fw.mu.Unlock()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-fw.wake
			continue
		}
		for i, f := range batch {
			if fw.err == nil {
				_, fw.err = bw.Write(f)
			}
			batch[i] = nil
		}
		if fw.err == nil {
			fw.err = bw.Flush()
		}
	}
}
