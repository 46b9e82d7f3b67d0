package main

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/trident-go/trident/internal/lab"
)

// setupCompletion teaches cobra's shell completion (trident completion
// bash|zsh|fish|powershell) what it cannot see by itself: run parses its own
// flags (GNU parallel's syntax), so its flags and their values are offered
// here, and lab's --model and --workload take comma-separated names.
func setupCompletion() {
	runCmd.ValidArgsFunction = completeRun
	for _, c := range rootCmd.Commands() {
		if c.Name() != "lab" {
			continue
		}
		c.RegisterFlagCompletionFunc("model", completeList(lab.ModelNames()))
		c.RegisterFlagCompletionFunc("workload", completeList(lab.WorkloadNames))
	}
}

// completeList completes the last element of a comma-separated list.
func completeList(names []string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		done, last := "", toComplete
		if i := strings.LastIndexByte(toComplete, ','); i >= 0 {
			done, last = toComplete[:i+1], toComplete[i+1:]
		}
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, last) && !strings.Contains(","+done, ","+n+",") {
				out = append(out, done+n)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp | cobra.ShellCompDirectiveNoSpace
	}
}

// runFlagValues are the fixed values some of run's flags take.
var runFlagValues = map[string][]string{
	"halt":   {"never", "soon,fail=1", "now,fail=1", "soon,success=1", "now,success=1", "soon,fail=10%", "now,fail=10%"},
	"jobs":   {"auto", "0", "1", "2", "4", "8", "100%", "+1", "-1"},
	"trim":   {"n", "l", "r", "lr"},
	"header": {":", "0", "1"},
}

// runFileFlags take a file or directory name.
var runFileFlags = map[string]bool{"joblog": true, "arg-file": true, "results": true, "shell": true}

// completeRun completes run's command line: its flags (with their help as
// the description), the values of the flags that have fixed ones, file
// names after the ones that take files, and commands or files otherwise.
func completeRun(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	fs := newRunFlags().fs
	if len(args) > 0 {
		prev := args[len(args)-1]
		if fl := lookupRunFlag(fs, prev); fl != nil && fl.Value.Type() != "bool" && !strings.Contains(prev, "=") {
			if vals, ok := runFlagValues[fl.Name]; ok {
				return prefixed(vals, toComplete), cobra.ShellCompDirectiveNoFileComp
			}
			if runFileFlags[fl.Name] {
				return nil, cobra.ShellCompDirectiveDefault
			}
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		// After the command starts, everything is the command's or input.
		for _, a := range args {
			if !strings.HasPrefix(a, "-") {
				return nil, cobra.ShellCompDirectiveDefault
			}
		}
	}
	if !strings.HasPrefix(toComplete, "-") {
		return nil, cobra.ShellCompDirectiveDefault
	}
	var out []string
	fs.VisitAll(func(fl *pflag.Flag) {
		usage := fl.Usage
		if i := strings.IndexAny(usage, "(;"); i > 0 {
			usage = strings.TrimSpace(usage[:i])
		}
		for _, name := range []string{"--" + fl.Name, "-" + fl.Shorthand} {
			if name == "-" || (len(fl.Name) == 1 && name == "--"+fl.Name) {
				continue
			}
			if strings.HasPrefix(name, toComplete) {
				out = append(out, name+"\t"+usage)
			}
		}
	})
	return out, cobra.ShellCompDirectiveNoFileComp
}

func lookupRunFlag(fs *pflag.FlagSet, word string) *pflag.Flag {
	switch {
	case strings.HasPrefix(word, "--"):
		return fs.Lookup(strings.SplitN(word[2:], "=", 2)[0])
	case strings.HasPrefix(word, "-") && len(word) == 2:
		return fs.ShorthandLookup(word[1:])
	}
	return nil
}

func prefixed(vals []string, p string) []string {
	var out []string
	for _, v := range vals {
		if strings.HasPrefix(v, p) {
			out = append(out, v)
		}
	}
	return out
}
