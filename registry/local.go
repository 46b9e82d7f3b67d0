package registry

import (
	"context"

	"github.com/trident-go/trident/future"
)

// Local is an Executor that runs each call in a new goroutine of the calling
// process, going through the codec and the error encoding exactly as a
// remote worker would. It exists for tests and for checking that a function
// and its types survive the trip before sending them to processes; it has no
// Python counterpart (the closest is running a pool's function inline).
// The zero value uses Gob.
type Local struct {
	// C is the codec; nil means Gob.
	C Codec
}

// Codec implements Executor.
func (l Local) Codec() Codec {
	if l.C == nil {
		return Gob
	}
	return l.C
}

// SubmitRaw implements Executor: it runs the call in a goroutine with the
// future's context and reports failures as *RemoteError, like a worker.
func (l Local) SubmitRaw(ctx context.Context, name string, payload []byte) future.Resolver[[]byte] {
	_, r := future.New[[]byte](ctx)
	c := l.Codec()
	go r.Run(func(ctx context.Context) ([]byte, error) {
		out, err := Invoke(ctx, c, name, payload)
		if err != nil {
			re := EncodeError(name, err)
			// Round-trip the error through its wire form, as a worker does.
			b, _ := re.MarshalBinary()
			var back RemoteError
			if uerr := back.UnmarshalBinary(b); uerr != nil {
				return nil, uerr
			}
			return nil, &back
		}
		return out, nil
	})
	return r
}

// SubmitChunks implements ChunkExecutor: each chunk (chunk calls; 0 means
// 16) runs in its own goroutine through Encode, InvokeBatch and Deliver.
func (l Local) SubmitChunks(ctx context.Context, job Chunks, chunk int) {
	if ctx == nil {
		ctx = context.Background()
	}
	if chunk <= 0 {
		chunk = 16
	}
	c := l.Codec()
	for lo := 0; lo < job.Len(); lo += chunk {
		hi := min(lo+chunk, job.Len())
		go func() {
			b, err := job.Encode(lo, hi)
			if err == nil {
				b, err = InvokeBatch(ctx, c, job.Name(), b)
				if err != nil {
					err = EncodeError(job.Name(), err)
				}
			}
			job.Deliver(lo, hi, b, err)
		}()
	}
}
