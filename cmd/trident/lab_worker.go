package main

import "github.com/trident-go/trident/procpool"

// The lab's procpool models re-execute this binary as worker processes. A
// worker must start serving before the CLI runs, so the hook runs at package
// initialisation. procpool.Main returns at once in an ordinary run; in a
// worker it serves calls and never returns. (If main() also calls
// procpool.Main first, this is redundant and harmless.)
func init() { procpool.Main() }
