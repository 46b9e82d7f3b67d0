package main

import (
	"strings"
	"testing"
)

// Bad usage of advise (no command, unknown flag, bad -n) says what is wrong,
// shows the usage line on stderr and exits 255.
func TestAdviseUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"advise"}, "missing command"},
		{[]string{"advise", "--"}, "missing command"},
		{[]string{"advise", "--bogus", "--", "true"}, "--bogus"},
		{[]string{"advise", "-n", "x", "--", "true"}, `"x"`},
		{[]string{"advise", "-n", "0", "--", "true"}, "-n 0"},
	} {
		_, errOut, code := runTrident(t, "", c.args...)
		if code != 255 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "usage: trident advise") {
			t.Errorf("%q: code %d, stderr %q; want 255, %q and the usage line", c.args, code, errOut, c.want)
		}
	}
}
