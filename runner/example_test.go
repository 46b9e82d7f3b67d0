package runner_test

import (
	"context"
	"fmt"
	"os"

	"github.com/trident-go/trident/runner"
)

// Render a command the way GNU parallel would.
func ExampleTemplate_Render() {
	t := runner.ParseTemplate([]string{"convert", "{}", "{/.}.png"})
	fmt.Println(t.Render([]string{"photos/my cat.jpg"}, 1, 1))
	// Output: convert 'photos/my cat.jpg' 'my cat'.png
}

// Run three jobs, two at a time, printing their output in input order.
func ExampleRun() {
	src, _ := runner.NewJobSource([]runner.InputSpec{{Values: []string{"a", "b", "c"}}}, runner.InputOptions{})
	sum, err := runner.Run(context.Background(), runner.Options{
		Template:  runner.ParseTemplate([]string{"echo", "job {#}: {}"}),
		Slots:     2,
		KeepOrder: true,
		Stdout:    os.Stdout,
	}, src)
	fmt.Println(sum.Finished, sum.ExitCode, err)
	// Output:
	// job 1: a
	// job 2: b
	// job 3: c
	// 3 0 <nil>
}
