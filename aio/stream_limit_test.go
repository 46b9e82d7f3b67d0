package aio_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"

	"github.com/trident-go/trident/aio"
)

// pipeStream returns a reader on one end of a net.Pipe whose other end
// writes, one Write each, the chunks sent on the returned channel (close it
// to end the stream). A chunk sent after a read returned arrives as one
// piece, which makes what the reader has buffered deterministic.
func pipeStream(t *aio.T, limit int) (*aio.StreamReader, chan<- string, error) {
	a, b := net.Pipe()
	chunks := make(chan string, 16)
	go func() {
		defer b.Close()
		for c := range chunks {
			if _, err := b.Write([]byte(c)); err != nil {
				return
			}
		}
	}()
	r, _, err := aio.NewStream(t, a)
	if err != nil {
		close(chunks)
		return nil, nil, err
	}
	r.Limit = limit
	return r, chunks, nil
}

// The stream limit, against CPython 3.11's asyncio/streams.py (unchanged
// in 3.12 and 3.13 for one separator):
//   - readuntil compares the limit with the data before the separator, so
//     with limit 8 an 8-byte line plus "\n" is accepted; with a separator
//     of n bytes it waits on as long as at most limit+n-1 bytes hold no
//     separator. Over the limit it raises LimitOverrunError (consumed: the
//     separator's offset, or how far it searched) and leaves the data
//     buffered.
//   - readline turns that into ValueError and drops the line: through its
//     newline when that is buffered, else the whole buffer, so what arrives
//     later is read as a line of its own.
//
// Before the fix trident counted the separator in the limit (the 8-byte
// line failed) and ReadLine kept the long line buffered, failing on every
// later call.
func TestStreamLimitExcludesSeparatorAndReadLineDiscards(t *testing.T) {
	t.Parallel() // python3 starts slowly through pyenv's shim
	var trace traceLog
	say := trace.say
	runReal(t, func(t *aio.T) error {
		r, feed, err := pipeStream(t, 8)
		if err != nil {
			return err
		}
		defer func() {
			if feed != nil {
				close(feed)
			}
		}()
		overrun := func(what string, err error) error {
			var le *aio.LimitOverrunError
			if !errors.Is(err, aio.ErrLimitOverrun) || !errors.As(err, &le) {
				return fmt.Errorf("%s: %v, want a *LimitOverrunError", what, err)
			}
			if what == "readline" {
				say("readline error: %s", le.Msg)
			} else {
				say("readuntil error: %s consumed %d", le.Msg, le.Consumed)
			}
			return nil
		}
		readLine := func() error {
			b, err := r.ReadLine(t)
			if err != nil {
				return err
			}
			say("readline %s", pyBytes(b))
			return nil
		}

		feed <- "12345678\nthis line is too long\nnext\n"
		if err := readLine(); err != nil {
			return err
		}
		_, err = r.ReadLine(t)
		if err := overrun("readline", err); err != nil {
			return err
		}
		if err := readLine(); err != nil {
			return err
		}

		feed <- "0123456789"
		_, err = r.ReadLine(t)
		if err := overrun("readline", err); err != nil {
			return err
		}
		feed <- "ab\nc\n"
		if err := readLine(); err != nil {
			return err
		}
		if err := readLine(); err != nil {
			return err
		}

		feed <- "abcdefgh-"
		feed <- "-"
		b, err := r.ReadUntil(t, []byte("--"))
		if err != nil {
			return fmt.Errorf("ReadUntil: %v", err)
		}
		say("readuntil %s", pyBytes(b))
		feed <- "ijklmnopq--"
		_, err = r.ReadUntil(t, []byte("--"))
		if err := overrun("readuntil", err); err != nil {
			return err
		}
		b, err = r.ReadN(t, 11)
		if err != nil {
			return err
		}
		say("readexactly %s", pyBytes(b))
		close(feed)
		feed = nil
		b, err = r.ReadLine(t)
		if len(b) != 0 || err == nil {
			return fmt.Errorf("ReadLine at the end = %q, %v; want io.EOF", b, err)
		}
		say("readline b''") // Python returns b"" at the end, trident io.EOF
		return nil
	})
	compareTraces(t, "stream_limit", trace)
}

// pyBytes formats b as Python's repr of bytes does for printable ASCII
// and "\n".
func pyBytes(b []byte) string {
	out := []byte("b'")
	for _, c := range b {
		if c == '\n' {
			out = append(out, `\n`...)
		} else {
			out = append(out, c)
		}
	}
	return string(append(out, '\''))
}

// runReal runs main on a new loop on the real clock and fails tb with its
// error.
func runReal(tb testing.TB, main func(t *aio.T) error) {
	tb.Helper()
	if _, err := aio.Run(context.Background(), func(t *aio.T) (struct{}, error) {
		return struct{}{}, main(t)
	}); err != nil {
		tb.Fatal(err)
	}
}
