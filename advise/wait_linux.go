//go:build linux

package advise

import "golang.org/x/sys/unix"

// waitExited blocks until process pid has exited, without reaping it, so
// that its /proc entries can still be read.
func waitExited(pid int) {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return
		}
	}
}
