package aio_test

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

func BenchmarkCreateAwait(b *testing.B) {
	b.ReportAllocs()
	n := b.N
	aio.Run(context.Background(), func(t *aio.T) (int, error) {
		ts := make([]*aio.Task[int], n)
		for i := range ts {
			ts[i] = aio.Go(t, func(*aio.T) (int, error) { return 1, nil })
		}
		for _, task := range ts {
			aio.Await(t, task)
		}
		return 0, nil
	})
}

func BenchmarkYield(b *testing.B) {
	n := b.N
	aio.Run(context.Background(), func(t *aio.T) (int, error) {
		for range n {
			aio.Yield(t)
		}
		return 0, nil
	})
}

func BenchmarkSleepVirtual(b *testing.B) {
	n := b.N
	aio.Run(context.Background(), func(t *aio.T) (int, error) {
		for range n {
			aio.Sleep(t, 1)
		}
		return 0, nil
	}, aio.WithVirtualTime())
}

// BenchmarkSleepers100k runs 100,000 tasks that each sleep 10 ms on the real
// clock (one op = all of them); what it measures beyond the 10 ms is the
// cost of starting, parking and waking that many coroutines.
func BenchmarkSleepers100k(b *testing.B) {
	const n = 100_000
	for range b.N {
		aio.Run(context.Background(), func(t *aio.T) (int, error) {
			ts := make([]*aio.Task[int], n)
			for i := range ts {
				ts[i] = aio.Go(t, func(t *aio.T) (int, error) { return 0, aio.Sleep(t, 10*time.Millisecond) })
			}
			_, err := aio.Gather(t, ts...)
			return 0, err
		})
	}
}
