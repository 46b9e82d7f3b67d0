//go:build !linux

package lab

import "syscall"

// dieWithParent is a no-op where the kernel has no parent-death signal;
// the interpreter ends when its stdin closes.
func dieWithParent(*syscall.SysProcAttr) {}
