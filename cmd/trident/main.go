// Command trident runs batches of commands with a measured concurrency
// (trident run), explains its choice of concurrency model (trident advise) and
// reruns the Python concurrency articles' experiments side by side with
// CPython (trident lab).
package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/trident-go/trident/procpool"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

var rootCmd = &cobra.Command{
	Use:           "trident",
	Short:         "Python's three concurrency models, and the rule for choosing between them, for Go and the shell",
	SilenceUsage:  true,
	SilenceErrors: true,
}

// printVersion prints the version GNU parallel's way: a first line naming
// the program and its version, then where it comes from.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "trident %s\n", version)
	fmt.Fprintln(w, "A Go implementation of Python's concurrency models; `trident run` speaks GNU parallel's options.")
	fmt.Fprintln(w, "Web site: https://github.com/trident-go/trident")
}

func init() {
	rootCmd.Version = version
	rootCmd.SetVersionTemplate("{{printVersion}}")
	cobra.AddTemplateFunc("printVersion", func() string {
		var b strings.Builder
		printVersion(&b)
		return b.String()
	})
	rootCmd.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print trident's version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			printVersion(cmd.OutOrStdout())
		},
	})
}

func main() {
	procpool.Main() // a pool worker serves calls here and never returns
	setupCompletion()
	if err := rootCmd.Execute(); err != nil {
		if msg := err.Error(); msg != "" { // "": the status says it all
			fmt.Fprintln(os.Stderr, "trident:", msg)
		}
		os.Exit(exitCodeFor(err))
	}
}

// exitCodeFor maps an error to the process exit status. Subcommands return
// an *exitError to choose their own status; anything else is a usage or
// setup error and exits 255, as GNU parallel does.
func exitCodeFor(err error) int {
	if e, ok := err.(*exitError); ok {
		return e.code
	}
	return 255
}

// exitError carries a chosen exit status out of a subcommand.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }
