package lab

import (
	"context"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/threadpool"
)

func init() {
	extraRunners = append(extraRunners, goRunner{
		name: "threadpool", family: FamilyThreads,
		about: "trident's threadpool with Python's default size, min(32, cores+4): free-threaded threads, like ThreadPoolExecutor on CPython 3.13t",
		run:   runThreadpool,
	})
}

func runThreadpool(ctx context.Context, e *env) error {
	e.workers = defaultThreadWorkers()
	p, err := threadpool.New(threadpool.WithWorkers(e.workers))
	if err != nil {
		return err
	}
	var ln lanes
	fs := make([]*future.Future[struct{}], e.w.Tasks)
	for i := range fs {
		fs[i] = threadpool.Submit(p, ctx, func(ctx context.Context) (struct{}, error) {
			lane := ln.get()
			defer ln.put(lane)
			res, err := runPlain(ctx, e.spec(i, e.parts()), e.fetch)
			for j := range res.Spans {
				res.Spans[j].Lane = lane
			}
			e.rec.add(res.Spans...)
			return struct{}{}, err
		})
	}
	_, rerr := future.Results(ctx, fs)
	serr := p.Shutdown(context.WithoutCancel(ctx))
	if rerr != nil {
		return rerr
	}
	return serr
}
