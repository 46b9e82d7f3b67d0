package aio_test

import (
	"context"
	"testing"

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
