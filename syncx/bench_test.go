package syncx

import (
	"context"
	"testing"
)

// Producer/consumer throughput, one item per op; compare with the channel.
func BenchmarkQueuePutGet(b *testing.B) {
	q := NewQueue[int](1024)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		for range b.N {
			if _, err := q.Get(ctx); err != nil {
				panic(err)
			}
		}
		close(done)
	}()
	for i := range b.N {
		if err := q.Put(ctx, i); err != nil {
			panic(err)
		}
	}
	<-done
}

func BenchmarkChannelPutGet(b *testing.B) {
	ch := make(chan int, 1024)
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-ch
		}
		close(done)
	}()
	for i := range b.N {
		ch <- i
	}
	<-done
}

func BenchmarkBarrier2(b *testing.B) {
	bar, _ := NewBarrier(2, nil)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		for range b.N {
			_, _ = bar.Wait(ctx)
		}
		close(done)
	}()
	for range b.N {
		_, _ = bar.Wait(ctx)
	}
	<-done
}

func BenchmarkQueueCap1(b *testing.B) {
	q := NewQueue[int](1)
	ctx := context.Background()
	done := make(chan struct{})
	go func() {
		for range b.N {
			_, _ = q.Get(ctx)
		}
		close(done)
	}()
	for i := range b.N {
		_ = q.Put(ctx, i)
	}
	<-done
}

func BenchmarkChanCap1(b *testing.B) {
	ch := make(chan int, 1)
	done := make(chan struct{})
	go func() {
		for range b.N {
			<-ch
		}
		close(done)
	}()
	for i := range b.N {
		ch <- i
	}
	<-done
}
