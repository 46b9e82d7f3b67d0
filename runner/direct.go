package runner

import (
	"os/exec"
	"strings"
	"sync"
)

// Running a job without a shell: a command made only of plain words (no
// quotes, no $, no globbing, redirection or other shell syntax) means the
// same to sh as its words split on spaces, so the runner starts it directly
// and saves a shell start per job (about half the cost of a trivial job).
// Shell builtins (except true and false, whose programs behave the same)
// and names not found on PATH still go through the shell, which reports
// "not found" itself.

var shBuiltins = map[string]bool{
	"alias": true, "bg": true, "break": true, "cd": true, "chdir": true, "command": true, "continue": true,
	"echo": true, "eval": true, "exec": true, "exit": true, "export": true, "fc": true, "fg": true,
	"getopts": true, "hash": true, "jobs": true, "kill": true, "local": true, "printf": true, "pwd": true,
	"read": true, "readonly": true, "return": true, "set": true, "shift": true, "test": true, "times": true,
	"trap": true, "type": true, "ulimit": true, "umask": true, "unalias": true, "unset": true, "wait": true,
	"[": true, "if": true, "then": true, "else": true, "elif": true, "fi": true, "for": true, "while": true,
	"until": true, "do": true, "done": true, "case": true, "esac": true, "in": true, "function": true,
	"time": true, "source": true, ".": true, ":": true, "!": true, "{": true, "}": true,
}

var lookCache sync.Map // name -> string path ("" when not found)

// directArgv returns the argv to exec for cmdline, or nil when the shell is
// needed.
func directArgv(cmdline string) []string {
	if cmdline == "" {
		return nil
	}
	for i := 0; i < len(cmdline); i++ {
		c := cmdline[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '+' || c == '/' || c == ',' || c == ':' || c == '@' || c == '%' || c == ' ') {
			return nil
		}
	}
	argv := strings.Fields(cmdline)
	if len(argv) == 0 || shBuiltins[argv[0]] || strings.Contains(argv[0], "=") {
		return nil
	}
	p, ok := lookCache.Load(argv[0])
	if !ok {
		path, err := exec.LookPath(argv[0])
		if err != nil {
			path = ""
		}
		lookCache.Store(argv[0], path)
		p = path
	}
	if p.(string) == "" {
		return nil
	}
	argv[0] = p.(string)
	return argv
}
