package aio_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

// FuzzStreamReadLine feeds arbitrary bytes, in arbitrary chunks, through a
// StreamReader and checks that ReadLine and ReadUntil give them back
// unchanged, split where they should be.
func FuzzStreamReadLine(f *testing.F) {
	f.Add([]byte("hello\nworld\n"), uint8(3), []byte("\n"))
	f.Add([]byte("no newline at all"), uint8(1), []byte("ab"))
	f.Add([]byte("\n\n\nxyzabcab"), uint8(7), []byte("ab"))
	f.Add([]byte{}, uint8(0), []byte("x"))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, sep []byte) {
		if len(sep) == 0 {
			sep = []byte{'\n'}
		}
		step := int(chunk)%16 + 1
		err := runOnFedStream(data, step, func(t *aio.T, r *aio.StreamReader) (int, error) {
			r.Limit = 0
			var got []byte
			for {
				part, err := r.ReadUntil(t, sep)
				got = append(got, part...)
				if err == io.EOF {
					break
				}
				if err == io.ErrUnexpectedEOF {
					if bytes.HasSuffix(part, sep) {
						return 0, fmt.Errorf("partial read %q ends with the separator", part)
					}
					continue
				}
				if err != nil {
					return 0, err
				}
				if !bytes.HasSuffix(part, sep) || bytes.Contains(part[:len(part)-len(sep)], sep) {
					return 0, fmt.Errorf("part %q not cut at the first %q", part, sep)
				}
			}
			if !bytes.Equal(got, data) {
				return 0, fmt.Errorf("got %q, want %q", got, data)
			}
			return 0, nil
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzTimers schedules and cancels callbacks from a byte script on the
// virtual clock and checks that the live ones fire in (time, scheduling)
// order at their time, and the cancelled ones never.
func FuzzTimers(f *testing.F) {
	f.Add([]byte{1, 2, 3, 200, 4, 5, 201, 0, 0, 7})
	f.Add([]byte{9, 9, 9, 9, 255, 254, 253})
	f.Fuzz(func(t *testing.T, script []byte) {
		type fired struct {
			id   int
			when time.Duration
			at   time.Duration
		}
		var got []fired
		type sched struct {
			h     *aio.Handle
			when  time.Duration
			dead  bool
			fired bool
		}
		var hs []*sched
		_, err := aio.Run(context.Background(), func(tt *aio.T) (int, error) {
			l := tt.Loop()
			start := tt.Now()
			for i, b := range script {
				if b >= 200 && len(hs) > 0 { // cancel one
					s := hs[int(b)%len(hs)]
					s.h.Cancel()
					if !s.fired { // cancelling a callback that ran is a no-op
						s.dead = true
					}
					continue
				}
				d := time.Duration(b%50) * time.Second
				id := len(hs)
				s := &sched{when: d}
				s.h = l.CallLater(d, func() {
					s.fired = true
					got = append(got, fired{id: id, when: d, at: tt.Now().Sub(start)})
				})
				hs = append(hs, s)
				if i%7 == 6 {
					if err := aio.Sleep(tt, time.Second); err != nil {
						return 0, err
					}
				}
			}
			return 0, aio.Sleep(tt, time.Hour)
		}, aio.WithVirtualTime())
		if err != nil {
			t.Fatal(err)
		}
		live := 0
		for _, s := range hs {
			if !s.dead {
				live++
			}
		}
		if len(got) != live {
			t.Fatalf("%d callbacks fired, %d were live", len(got), live)
		}
		for _, g := range got {
			if hs[g.id].dead {
				t.Fatalf("cancelled callback %d fired", g.id)
			}
		}
		for i := 1; i < len(got); i++ {
			if got[i].at < got[i-1].at {
				t.Fatalf("fired out of time order: %+v then %+v", got[i-1], got[i])
			}
		}
	})
}

// FuzzStreamReadLineLimit reads arbitrary bytes, in arbitrary chunks, line
// by line under a small Limit, skipping the over-long lines as a loop that
// ignores ErrLimitOverrun does. Which bytes an over-long line takes with
// it depends on the chunks (as in asyncio, see
// TestStreamLimitExcludesSeparatorAndReadLineDiscards), but every call
// makes progress, every line returned fits the limit (the "\n" not
// counted), and the lines come back in order, each a piece of the input
// after the previous one.
func FuzzStreamReadLineLimit(f *testing.F) {
	f.Add([]byte("12345678\nthis line is too long\nnext\n"), uint8(3), uint8(8))
	f.Add([]byte("aaaaaaaaaaaaaaaaaaaaaaaa"), uint8(5), uint8(4))
	f.Add([]byte("\n\n\nab\n"), uint8(0), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, chunk, limit uint8) {
		step := int(chunk)%16 + 1
		lim := int(limit)%12 + 1
		err := runOnFedStream(data, step, func(t *aio.T, r *aio.StreamReader) (int, error) {
			r.Limit = lim
			rest := data // the input not yet matched
			for calls := 0; ; calls++ {
				if calls > len(data)+1 {
					return 0, fmt.Errorf("%d ReadLine calls for %d bytes: no progress", calls, len(data))
				}
				line, err := r.ReadLine(t)
				if err == io.EOF {
					return 0, nil
				}
				if errors.Is(err, aio.ErrLimitOverrun) {
					continue
				}
				if err != nil {
					return 0, err
				}
				if n := len(bytes.TrimSuffix(line, []byte("\n"))); n > lim {
					return 0, fmt.Errorf("line %q longer than the limit %d", line, lim)
				}
				i := bytes.Index(rest, line)
				if i < 0 || len(line) == 0 {
					return 0, fmt.Errorf("line %q is not in what is left of the input, %q", line, rest)
				}
				rest = rest[i+len(line):]
			}
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// feedPipe returns one end of a net.Pipe whose other end writes data in
// chunks of step bytes from a goroutine, then closes.
func feedPipe(data []byte, step int) net.Conn {
	a, b := net.Pipe()
	go func() {
		for i := 0; i < len(data); i += step {
			if _, err := a.Write(data[i:min(len(data), i+step)]); err != nil {
				break
			}
		}
		a.Close()
	}()
	return b
}

// runOnFedStream runs main on a new loop with a stream reading data fed
// step bytes at a time (feedPipe), and returns main's error.
func runOnFedStream(data []byte, step int, main func(t *aio.T, r *aio.StreamReader) (int, error)) error {
	b := feedPipe(data, step)
	_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
		r, w, err := aio.NewStream(t, b)
		if err != nil {
			return 0, err
		}
		defer w.Close(t)
		return main(t, r)
	})
	return err
}
