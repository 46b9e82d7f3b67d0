package zz

import (
	"context"
	"testing"
	"time"

	"github.com/trident-go/trident/aio"
)

func TestSleepers(t *testing.T) {
	t0 := time.Now()
	var tStart, tParked, tWoke time.Duration
	aio.Run(context.Background(), func(tt *aio.T) (int, error) {
		tStart = time.Since(t0)
		n := 100000
		ts := make([]*aio.Task[int], n)
		for i := range ts {
			ts[i] = aio.Go(tt, func(t *aio.T) (int, error) { return 0, aio.Sleep(t, time.Second) })
		}
		aio.Yield(tt)
		tParked = time.Since(t0)
		_, err := aio.Gather(tt, ts...)
		tWoke = time.Since(t0)
		return 0, err
	})
	t.Logf("start %v parked %v woke %v end %v", tStart, tParked, tWoke, time.Since(t0))
}
