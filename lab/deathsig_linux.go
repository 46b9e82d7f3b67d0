package lab

import "syscall"

// dieWithParent makes the kernel kill the child when the lab process dies
// (even by SIGKILL), so that the serving interpreter, which runs in its own
// process group, is never left behind.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
