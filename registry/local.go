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

// Backend implements Executor: Local is its own Backend.
func (l Local) Backend() Backend { return l }

// Codec implements Backend.
func (l Local) Codec() Codec {
	if l.C == nil {
		return Gob
	}
	return l.C
}

// SubmitRaw implements Backend: it runs the call in a goroutine with the
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

// SubmitChunks implements Backend: each chunk (chunk calls; 0 means
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

// CancelRaw implements Backend. It has nothing to do: the call runs in this
// process with the raw future's task context, which Future.Cancel cancels.
func (Local) CancelRaw(*future.Future[[]byte]) {}

// ReportsDeadlines implements Backend: Local leaves a call's deadline to
// the call's context, so it reports false.
func (Local) ReportsDeadlines() bool { return false }
