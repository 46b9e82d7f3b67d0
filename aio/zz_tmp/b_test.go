package zz

import (
	"context"
	"iter"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

func BenchmarkParkMany(b *testing.B) {
	n := b.N
	aio.Run(context.Background(), func(tt *aio.T) (int, error) {
		for range n {
			aio.Go(tt, func(t *aio.T) (int, error) { return 0, aio.Sleep(t, time.Hour) })
		}
		aio.Yield(tt)
		b.StopTimer()
		return 0, nil
	}, aio.WithVirtualTime())
}

func BenchmarkGoroutinesBlock(b *testing.B) {
	ch := make(chan struct{})
	done := make(chan struct{}, b.N)
	for range b.N {
		go func() { done <- struct{}{}; <-ch }()
	}
	for range b.N {
		<-done
	}
	b.StopTimer()
	close(ch)
}

func BenchmarkPullCreate(b *testing.B) {
	stops := make([]func(), b.N)
	for i := range b.N {
		next, stop := iter.Pull(func(yield func(int) bool) { yield(1) })
		next()
		stops[i] = stop
	}
	b.StopTimer()
	for _, s := range stops {
		s()
	}
}
