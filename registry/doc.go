// Package registry is the shared vocabulary of trident's out-of-process
// executors: a table of functions registered by name, typed handles to call
// them, the codec that turns arguments and results into bytes, and the typed
// error that carries a worker's failure back across the process boundary.
//
// Python's multiprocessing pickles a reference to a module-level function and
// the worker re-imports it. Go cannot send code, so trident does the same
// thing explicitly: every binary that may act as a worker registers its
// functions under stable names at package level, and the caller sends only
// the name and the encoded argument.
//
// # API at a glance
//
//	// Registration (package level, so a re-executed worker has it too):
//	var Fib = registry.Register("fib", func(ctx context.Context, n int) (int, error) { ... })
//	var ErrOdd = registry.RegisterError("example.ErrOdd", errors.New("odd"))
//
//	// Calling, with any Executor (procpool.Pool, cluster.Executor, Local):
//	f := Fib.Submit(ex, ctx, 30)                         // *future.Future[int]
//	fs := Fib.Map(ex, ctx, []int{1, 2, 3}, registry.ChunkSize(0)) // []*future.Future[int]
//	v, err := f.Result(ctx)
//
//	// Executors implement one contract, with no optional parts:
//	type Executor interface { Backend() Backend } // what typed handles take
//	type Backend interface {
//		Codec() Codec
//		SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] // one call
//		SubmitChunks(ctx context.Context, job Chunks, chunk int) // Map: job.Encode(lo, hi) -> worker:
//		                                                         // InvokeBatch -> job.Deliver(lo, hi, out, err)
//		CancelRaw(raw *future.Future[[]byte]) // pass a Cancel on to a running call (may do nothing)
//		ReportsDeadlines() bool               // the executor fails a running call at its deadline
//	}
//
//	// Python's Pool.map: all results or the first error, no future per call:
//	vs, err := Fib.MapAll(ex, ctx, inputs)
//
//	// Worker side: run a call by name (decode, call, recover panics, encode):
//	out, err := registry.Invoke(ctx, codec, name, payload)
//	out, err = registry.InvokeBatch(ctx, codec, name, chunkPayload) // a chunk
//	re := registry.EncodeError(name, err)     // *RemoteError, for any error
//	b, _ := re.MarshalBinary()                // codec-independent bytes
//	var back registry.RemoteError; back.UnmarshalBinary(b) // caller's side
//
//	// Codecs: registry.Gob (the default) and registry.JSON; or your own Codec,
//	// made known to workers with RegisterCodec and found with LookupCodec.
//	// Errors: ErrUnknownFunction, ErrEncode, ErrDecode, *RemoteError (errors.Is
//	// sees registered sentinels through it; errors.As finds *future.PanicError
//	// for a task that panicked, with the worker-side stack).
//
// # Rules
//
//   - Register and RegisterError panic on a duplicate name, like
//     net/http.Handle: names are part of the wire protocol and must be unique.
//   - Register at package level (a var or init), never inside main after the
//     worker hook: a worker is a fresh process and only knows what its own
//     initialisation registered.
//   - A typed handle's Submit never blocks and never returns nil: an argument
//     that cannot be encoded gives a future that has already failed with an
//     error matching ErrEncode.
package registry
