// The child's side: Main and the serve loop a worker process runs, reading call frames and writing results.

package procpool

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/trident-go/trident/registry"
)

// Environment variables a pool sets for its workers.
const (
	// envWorker marks a process started by a pool; its value is the
	// protocol version the pool speaks.
	envWorker = "TRIDENT_PROCPOOL_WORKER"
)

// inWorker is true once Main has turned this process into a worker.
var inWorker bool

// exit ends the worker process; a variable so that tests of serve can run
// in-process.
var exit = os.Exit

// Main turns the process into a pool worker when it was started by a Pool,
// and returns at once otherwise. Call it first thing in main, before flag
// parsing and before any other work: it is Go's spelling of Python's
//
//	if __name__ == "__main__":
//
// guard, the other way round. Python's spawn start method re-imports the main
// module in the child and the guard keeps the child from running the
// program; trident re-executes the binary and Main keeps the child from
// running it. In a worker Main never returns: it serves calls until the pool
// closes the pipe (or dies), then exits the process.
//
// Tests that use a Pool call it from TestMain, before m.Run.
func Main() {
	v := os.Getenv(envWorker)
	if v == "" {
		return
	}
	inWorker = true
	if v != strconv.Itoa(protocolVersion) {
		fmt.Fprintf(os.Stderr, "procpool: worker speaks protocol %d, pool asked for %q\n", protocolVersion, v)
		os.Exit(exitProtocol)
	}
	in := os.NewFile(3, "procpool-in")
	out := os.NewFile(4, "procpool-out")
	if in == nil || out == nil {
		fmt.Fprintln(os.Stderr, "procpool: worker started without its pipes (fd 3 and 4)")
		os.Exit(exitProtocol)
	}
	os.Exit(serve(in, out))
}

// Exit codes of a worker that stops on its own.
const (
	exitOK       = 0
	exitProtocol = 97 // handshake or framing problem
	exitInit     = 98 // the initializer failed
)

// wtask is a call as the worker holds it.
type wtask struct {
	msg       callMsg
	cancelled bool
	cancel    context.CancelFunc // set while running
}

// serve runs the worker side of the protocol on the pipe pair.
func serve(in io.Reader, out io.Writer) int {
	r := bufio.NewReaderSize(in, 64<<10)
	// Results are written synchronously, before the next call starts, so
	// that a call that kills the process cannot take earlier results with
	// it.
	w := &syncWriter{w: out}

	w.send(newFrame(fHello, 32).str(protocolMagic).uint(protocolVersion).uint(uint64(os.Getpid())).finish())
	t, body, err := readFrame(r)
	if err != nil {
		return exitOnReadError(err)
	}
	if t != fSetup {
		fmt.Fprintf(os.Stderr, "procpool: worker expected a setup frame, got %s\n", t)
		return exitProtocol
	}
	setup, err := decodeSetup(body)
	if err != nil || setup.version != protocolVersion {
		fmt.Fprintf(os.Stderr, "procpool: worker: bad setup (%v, version %d)\n", err, setup.version)
		return exitProtocol
	}
	codec, ok := registry.LookupCodec(setup.codec)
	if !ok {
		re := registry.EncodeError("", fmt.Errorf("procpool: worker does not know codec %q (registry.RegisterCodec)", setup.codec))
		b, _ := re.MarshalBinary()
		w.send(newFrame(fReady, len(b)+4).byte1(1).bytes(b).finish())
		return exitInit
	}
	if setup.initName != "" {
		if _, err := registry.Invoke(context.Background(), codec, setup.initName, setup.initArg); err != nil {
			b, _ := registry.EncodeError(setup.initName, err).MarshalBinary()
			w.send(newFrame(fReady, len(b)+4).byte1(1).bytes(b).finish())
			return exitInit
		}
	}
	w.send(newFrame(fReady, 2).byte1(0).bytes(nil).finish())

	var (
		mu      sync.Mutex
		queue   []*wtask
		byID    = map[uint64]*wtask{}
		wake    = make(chan struct{}, 1)
		readErr = make(chan error, 1)
	)
	go func() {
		for {
			t, body, err := readFrame(r)
			if err != nil {
				// The pool closed the pipe (retirement, shutdown) or died:
				// stop at once, even in the middle of a task. This is also
				// the fallback when the parent-death signal did not fire.
				exit(exitOnReadError(err))
				readErr <- err
				return
			}
			switch t {
			case fCall:
				m, err := decodeCall(body)
				if err != nil {
					exit(exitOnReadError(err))
					readErr <- err
					return
				}
				wt := &wtask{msg: m}
				mu.Lock()
				queue = append(queue, wt)
				byID[m.id] = wt
				mu.Unlock()
				select {
				case wake <- struct{}{}:
				default:
				}
			case fCancel:
				id, err := decodeCancel(body)
				if err != nil {
					exit(exitOnReadError(err))
					readErr <- err
					return
				}
				mu.Lock()
				if wt := byID[id]; wt != nil {
					wt.cancelled = true
					if wt.cancel != nil {
						wt.cancel()
					}
				}
				mu.Unlock()
			default:
				err := malformed("unexpected %s frame", t)
				exit(exitOnReadError(err))
				readErr <- err
				return
			}
		}
	}()

	for {
		mu.Lock()
		var wt *wtask
		if len(queue) > 0 {
			wt = queue[0]
			queue[0] = nil
			queue = queue[1:]
		}
		mu.Unlock()
		if wt == nil {
			select {
			case err := <-readErr:
				// The pool closed the pipe (shutdown) or died: stop now.
				return exitOnReadError(err)
			case <-wake:
			}
			continue
		}
		w.send(run(wt, &mu, codec))
		mu.Lock()
		delete(byID, wt.msg.id)
		mu.Unlock()
	}
}

func exitOnReadError(err error) int {
	if err == io.EOF {
		return exitOK
	}
	fmt.Fprintf(os.Stderr, "procpool: worker: reading from the pool: %v\n", err)
	return exitProtocol
}

// run executes one call frame (one call, or a chunk of calls of the same
// function encoded as one value) and returns its result frame.
func run(wt *wtask, mu *sync.Mutex, codec registry.Codec) []byte {
	m := wt.msg
	ctx, cancel := context.WithCancel(context.Background())
	if dl, ok := m.deadlineTime(); ok {
		ctx, cancel = context.WithDeadline(context.Background(), dl)
	}
	defer cancel()
	mu.Lock()
	wt.cancel = cancel
	if wt.cancelled {
		cancel()
	}
	mu.Unlock()
	start := time.Now()
	res := resultMsg{id: m.id}
	err := ctx.Err()
	if err == nil {
		if m.flags&flagBatch != 0 {
			res.data, err = registry.InvokeBatch(ctx, codec, m.name, m.payload)
		} else {
			res.data, err = registry.Invoke(ctx, codec, m.name, m.payload)
		}
	}
	if err != nil {
		res.failed = true
		res.data, _ = registry.EncodeError(m.name, err).MarshalBinary()
	}
	res.elapsed = int64(time.Since(start))
	return res.encode()
}

// syncWriter writes each frame at once; a failed write (the pool is gone)
// is ignored: the reader notices the closed pipe and exits.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) send(frame []byte) {
	s.mu.Lock()
	s.w.Write(frame)
	s.mu.Unlock()
}
