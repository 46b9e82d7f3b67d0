package registry_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/trident-go/trident/future"
	"github.com/trident-go/trident/registry"
)

// Functions are registered at package level, so that every process running
// this binary knows them by the same name.
var square = registry.Register("example.square", func(ctx context.Context, n int) (int, error) {
	if n < 0 {
		return 0, errNegative
	}
	return n * n, nil
})

var errNegative = registry.RegisterError("example.errNegative", errors.New("negative input"))

func Example() {
	ctx := context.Background()
	// Any Executor works: procpool.Pool, a cluster executor, or Local.
	var ex registry.Executor = registry.Local{}

	v, _ := square.Submit(ex, ctx, 12).Result(ctx)
	fmt.Println(v)

	all, _ := future.Results(ctx, square.Map(ex, ctx, []int{1, 2, 3}))
	fmt.Println(all)

	_, err := square.Submit(ex, ctx, -1).Result(ctx)
	fmt.Println(errors.Is(err, errNegative), err)
	// Output:
	// 144
	// [1 4 9]
	// true remote example.square: negative input
}
