package main

import (
	"bytes"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// openPty returns a pseudo-terminal's master and slave ends.
func openPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminal: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		m.Close()
		t.Skipf("unlockpt: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		m.Close()
		t.Skipf("ptsname: %v", err)
	}
	s, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		m.Close()
		t.Skipf("open pts: %v", err)
	}
	return m, s
}

// With no ::: / :::: / -a and a terminal on stdin, trident run says it is
// reading values from the terminal (GNU parallel warns too) instead of
// waiting silently; Ctrl-D ends the input.
func TestRunWarnsWhenReadingTerminal(t *testing.T) {
	m, s := openPty(t)
	defer m.Close()
	cmd := exec.Command(tridentBin, "run", "--dry-run", "echo")
	cmd.Stdin = s
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s.Close()
	go func() { // drain the echo so the master never blocks
		buf := make([]byte, 1024)
		for {
			if _, err := m.Read(buf); err != nil {
				return
			}
		}
	}()
	m.Write([]byte("v1\n\x04"))
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || o.String() != "echo v1\n" || !strings.Contains(e.String(), "terminal") {
			t.Fatalf("err %v stdout %q stderr %q", err, o.String(), e.String())
		}
	case <-time.After(30 * time.Second): // hang guard only
		cmd.Process.Kill()
		<-done
		t.Fatalf("did not end after Ctrl-D; stderr %q", e.String())
	}
}
