package aio_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"testing"

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
		a, b := net.Pipe()
		go func() {
			for i := 0; i < len(data); i += step {
				if _, err := a.Write(data[i:min(len(data), i+step)]); err != nil {
					break
				}
			}
			a.Close()
		}()
		_, err := aio.Run(context.Background(), func(t *aio.T) (int, error) {
			r, w, err := aio.NewStream(t, b)
			if err != nil {
				return 0, err
			}
			defer w.Close(t)
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
