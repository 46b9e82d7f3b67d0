package lab_test

import (
	"context"
	"fmt"
	"os"

	"github.com/trident-go/trident/internal/lab"
)

// Selecting workloads the way the CLI's --workload flag does.
func ExampleParseList() {
	ws, err := lab.ParseList("workload", "slow-io, cpu-bound", lab.WorkloadNames)
	fmt.Println(ws, err)
	_, err = lab.ParseList("workload", "gpu-bound", lab.WorkloadNames)
	fmt.Println(err)
	// Output:
	// [slow-io cpu-bound] <nil>
	// lab: unknown workload "gpu-bound"; valid workloads: cpu-bound, fast-io, slow-io, mixed (or all)
}

// A short run of the CPU-bound experiment, Go only: sequential against
// threads under the emulated GIL and free goroutines. (Not run as a test: its
// figures depend on the machine.)
func ExampleRun() {
	res, err := lab.Run(context.Background(), lab.Config{
		Quick:     true,
		NoPython:  true,
		Workloads: []string{lab.CPUBound},
		Models:    []string{"threads-gil", "goroutines"},
	})
	if err != nil {
		panic(err)
	}
	_ = res.WriteTable(os.Stdout)
	for _, v := range res.Verdicts {
		fmt.Println(v.Workload, v.BestModel, v.Reason)
	}
}
