package lab

import (
	"context"
	"os/exec"
	"syscall"
	"testing"
)

// TestPythonDiesWithLab checks that the serving interpreter is started with
// a parent-death signal: it runs in its own process group, so without one a
// killed lab left it running (seen when a lab process was SIGKILLed).
func TestPythonDiesWithLab(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 not found")
	}
	py, err := startPython(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	defer py.close()
	if a := py.cmd.SysProcAttr; a == nil || a.Pdeathsig != syscall.SIGKILL || !a.Setpgid {
		t.Fatalf("interpreter started with %+v, want its own process group and Pdeathsig SIGKILL", a)
	}
}
