package procpool_test

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/procpool"
	"github.com/trident-go/trident/registry"
)

func benchPool(b *testing.B) *procpool.Pool {
	p, err := procpool.New(procpool.WithWorkers(2))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Shutdown(context.Background()) })
	square.MapAll(p, context.Background(), make([]int, 1000)) // start the workers
	return p
}

func BenchmarkRoundTripChunk1(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	in := make([]int, b.N)
	b.ResetTimer()
	if _, err := future.Results(ctx, square.Map(p, ctx, in, registry.ChunkSize(1))); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkMapAllAuto(b *testing.B) {
	p := benchPool(b)
	ctx := context.Background()
	in := make([]int, 100_000)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := square.MapAll(p, ctx, in); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(in)), "ns/call")
}

// BenchmarkSubmitWithDeadline is one typed call at a time under a context
// with a deadline (which the typed future and the pool both watch).
func BenchmarkSubmitWithDeadline(b *testing.B) {
	p := benchPool(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := square.Submit(p, ctx, i).Result(ctx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMapWithDeadline is BenchmarkRoundTripChunk1's Map with automatic
// chunks under a context with a deadline.
func BenchmarkMapWithDeadline(b *testing.B) {
	p := benchPool(b)
	ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	in := make([]int, b.N)
	b.ResetTimer()
	if _, err := future.Results(ctx, square.Map(p, ctx, in)); err != nil {
		b.Fatal(err)
	}
}
