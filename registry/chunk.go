package registry

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/trident-go/trident/future"
)

// Chunks is one Map call seen from an executor that sends chunks: Len
// inputs of the function Name, which the executor cuts into ranges [lo, hi)
// of its choosing. Encode(lo, hi) gives the payload of one chunk (all its
// inputs as one encoded value); the worker runs it with InvokeBatch; the
// executor hands the worker's answer (or its own error) to Deliver. Every
// index must be delivered exactly once.
type Chunks interface {
	// Name is the registered function name.
	Name() string
	// Len is the number of inputs.
	Len() int
	// Encode encodes inputs lo..hi-1 as one payload. An error matches
	// ErrEncode; the executor delivers it for that range.
	Encode(lo, hi int) ([]byte, error)
	// Deliver completes the calls lo..hi-1 with the payload InvokeBatch
	// returned, or with err (a crash, a deadline, a shutdown) when err is
	// non-nil. It must not block.
	Deliver(lo, hi int, payload []byte, err error)
}

// BatchInvoker is the worker side of a chunk: implemented by every
// registered function.
type BatchInvoker interface {
	Invoker
	// InvokeBatch decodes a chunk of inputs, calls the function on each in
	// order (stopping early, with ctx's error for the rest, if ctx ends)
	// and encodes the results and per-call errors as one payload.
	InvokeBatch(ctx context.Context, c Codec, payload []byte) ([]byte, error)
}

// InvokeBatch runs a chunk for the function registered under name; see
// BatchInvoker.
func InvokeBatch(ctx context.Context, c Codec, name string, payload []byte) ([]byte, error) {
	f, ok := Lookup(name)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrUnknownFunction, describe(name))
	}
	b, ok := f.(BatchInvoker)
	if !ok {
		return nil, fmt.Errorf("registry: %q cannot run chunks", name)
	}
	return b.InvokeBatch(ctx, c, payload)
}

// A chunk's answer is the results slice encoded with the codec, then the
// failed calls: uvarint(len(results)) results uvarint(count) then, per
// failure, uvarint(index) uvarint(len) RemoteError.MarshalBinary.
type batchErr struct {
	index int
	err   []byte
}

func appendBatch(results []byte, errs []batchErr) []byte {
	n := len(results) + 16
	for _, e := range errs {
		n += len(e.err) + 8
	}
	b := binary.AppendUvarint(make([]byte, 0, n), uint64(len(results)))
	b = append(b, results...)
	b = binary.AppendUvarint(b, uint64(len(errs)))
	for _, e := range errs {
		b = binary.AppendUvarint(b, uint64(e.index))
		b = binary.AppendUvarint(b, uint64(len(e.err)))
		b = append(b, e.err...)
	}
	return b
}

func parseBatch(b []byte) (results []byte, errs []batchErr, ok bool) {
	if results, b, ok = readBytes(b); !ok {
		return nil, nil, false
	}
	cnt, k := binary.Uvarint(b)
	if k <= 0 || cnt > uint64(len(b)) {
		return nil, nil, false
	}
	b = b[k:]
	for i := uint64(0); i < cnt; i++ {
		idx, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, nil, false
		}
		var e []byte
		if e, b, ok = readBytes(b[k:]); !ok {
			return nil, nil, false
		}
		errs = append(errs, batchErr{index: int(idx), err: e})
	}
	return results, errs, len(b) == 0
}

func readBytes(b []byte) ([]byte, []byte, bool) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return nil, nil, false
	}
	b = b[k:]
	return b[:n:n], b[n:], true
}

// InvokeBatch implements BatchInvoker.
func (f *Func[A, R]) InvokeBatch(ctx context.Context, c Codec, payload []byte) ([]byte, error) {
	var args []A
	if err := c.Unmarshal(payload, &args); err != nil {
		return nil, fmt.Errorf("%w: chunk of arguments of %q as %T: %v", ErrDecode, f.name, args, err)
	}
	results := make([]R, len(args))
	var errs []batchErr
	fail := func(i int, err error) {
		b, _ := EncodeError(f.name, err).MarshalBinary()
		errs = append(errs, batchErr{index: i, err: b})
	}
	done := ctx.Done()
	for i, a := range args {
		if done != nil {
			select {
			case <-done:
				fail(i, ctx.Err())
				continue
			default:
			}
		}
		res, err := f.callRecover(ctx, a)
		if err != nil {
			fail(i, err)
			continue
		}
		results[i] = res
	}
	b, err := encode(c, results)
	if err == nil {
		return appendBatch(b, errs), nil
	}
	// Some result cannot be encoded: find which, fail those calls alone.
	var zero R
	for i := range results {
		if _, err := encode(c, results[i]); err != nil {
			results[i] = zero
			fail(i, fmt.Errorf("%w: result of %q (%T): %v", ErrEncode, f.name, zero, err))
		}
	}
	b, err = encode(c, results)
	if err != nil {
		return nil, fmt.Errorf("%w: results of %q: %v", ErrEncode, f.name, err)
	}
	return appendBatch(b, errs), nil
}

func (f *Func[A, R]) callRecover(ctx context.Context, a A) (res R, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = future.NewPanicError(r)
		}
	}()
	return f.fn(ctx, a)
}

// mapChunks adapts a typed Map to Chunks. Results go to futures (Map) or
// to a slice (MapAll).
type mapChunks[A, R any] struct {
	f      *Func[A, R]
	c      Codec
	inputs []A
	outs   []future.Resolver[R] // Map
	// MapAll:
	mu      sync.Mutex
	results []R
	errs    []error
	left    int
	done    chan struct{}
}

func (m *mapChunks[A, R]) Name() string { return m.f.name }
func (m *mapChunks[A, R]) Len() int     { return len(m.inputs) }

func (m *mapChunks[A, R]) Encode(lo, hi int) ([]byte, error) {
	b, err := encode(m.c, m.inputs[lo:hi])
	if err != nil {
		return nil, fmt.Errorf("%w: arguments %d..%d of %q (%T): %v", ErrEncode, lo, hi-1, m.f.name, m.inputs[lo], err)
	}
	return b, nil
}

func (m *mapChunks[A, R]) Deliver(lo, hi int, payload []byte, err error) {
	var results []R
	var errAt map[int]error
	if err == nil {
		enc, errs, ok := parseBatch(payload)
		if !ok {
			err = fmt.Errorf("%w: malformed answer for calls %d..%d of %q", ErrDecode, lo, hi-1, m.f.name)
		} else if derr := m.c.Unmarshal(enc, &results); derr != nil {
			err = fmt.Errorf("%w: results %d..%d of %q: %v", ErrDecode, lo, hi-1, m.f.name, derr)
		} else if len(results) != hi-lo {
			err = fmt.Errorf("%w: %d results of %q for %d calls", ErrDecode, len(results), m.f.name, hi-lo)
		} else if len(errs) > 0 {
			errAt = make(map[int]error, len(errs))
			for _, be := range errs {
				re := new(RemoteError)
				if uerr := re.UnmarshalBinary(be.err); uerr != nil {
					errAt[be.index] = uerr
				} else {
					errAt[be.index] = re
				}
			}
		}
	}
	var zero R
	if m.outs != nil {
		for i := lo; i < hi; i++ {
			switch {
			case err == future.ErrCancelled:
				m.outs[i].Future().Cancel()
			case errors.Is(err, future.ErrCancelled):
				m.outs[i].CompleteCancelled(err) // a cancellation with a cause
			case err != nil:
				m.outs[i].Complete(zero, err)
			case errAt[i-lo] != nil:
				m.outs[i].Complete(zero, errAt[i-lo])
			default:
				m.outs[i].Complete(results[i-lo], nil)
			}
		}
		return
	}
	m.mu.Lock()
	for i := lo; i < hi; i++ {
		switch {
		case err != nil:
			m.errs[i] = err
		case errAt[i-lo] != nil:
			m.errs[i] = errAt[i-lo]
		default:
			m.results[i] = results[i-lo]
		}
	}
	m.left -= hi - lo
	if m.left == 0 {
		close(m.done)
	}
	m.mu.Unlock()
}

// MapAll calls the function once per input on ex and returns all results
// in input order, or the error of the first input (in input order) that
// failed: Python's multiprocessing.Pool.map, which also blocks and raises
// the first exception. It creates no future per call, so it is the cheapest
// way to run many tiny calls. If ctx ends first, MapAll returns ctx.Err();
// calls already in workers finish there and are discarded.
func (f *Func[A, R]) MapAll(ex Executor, ctx context.Context, inputs []A, opts ...MapOption) ([]R, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	var cfg mapConfig
	for _, o := range opts {
		o(&cfg)
	}
	if len(inputs) == 0 {
		return nil, nil
	}
	be := ex.Backend()
	m := &mapChunks[A, R]{f: f, c: be.Codec(), inputs: inputs, results: make([]R, len(inputs)),
		errs: make([]error, len(inputs)), left: len(inputs), done: make(chan struct{})}
	be.SubmitChunks(ctx, m, cfg.chunk)
	select {
	case <-m.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for _, err := range m.errs {
		if err != nil {
			return nil, err
		}
	}
	return m.results, nil
}

// mapViaChunks is Map with chunks encoded as one value each.
func (f *Func[A, R]) mapViaChunks(be Backend, ctx context.Context, inputs []A, chunk int) []*future.Future[R] {
	outs := make([]*future.Future[R], len(inputs))
	rs := make([]future.Resolver[R], len(inputs))
	for i := range outs {
		outs[i], rs[i] = newOut[R](ctx, be)
	}
	if len(inputs) > 0 {
		be.SubmitChunks(ctx, &mapChunks[A, R]{f: f, c: be.Codec(), inputs: inputs, outs: rs}, chunk)
	}
	return outs
}
