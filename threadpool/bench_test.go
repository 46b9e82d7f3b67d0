package threadpool

import (
	"context"
	"sync"
	"testing"
)

// Benchmarks of the hot paths; the side-by-side comparison with peers is
// in the bench module (cd bench && go run . threadpool).

func BenchmarkSubmit(b *testing.B) {
	p, err := New(WithWorkers(4))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	const batch = 1000
	fs := make([]interface {
		Result(context.Context) (int, error)
	}, batch)
	for i := 0; i < b.N; i += batch {
		for j := range fs {
			fs[j] = Submit(p, ctx, func(context.Context) (int, error) { return j, nil })
		}
		for _, f := range fs {
			f.Result(ctx)
		}
	}
}

func BenchmarkGo(b *testing.B) {
	p, err := New(WithWorkers(4))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Shutdown(context.Background())
	ctx := context.Background()
	b.ReportAllocs()
	var wg sync.WaitGroup
	fn := func(context.Context) error { wg.Done(); return nil }
	const batch = 1000
	for i := 0; i < b.N; i += batch {
		wg.Add(batch)
		for range batch {
			p.Go(ctx, fn)
		}
		wg.Wait()
	}
}
