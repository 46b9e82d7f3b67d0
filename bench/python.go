package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

//go:embed python/*.py
var pyScripts embed.FS

func findPython() string {
	p, err := exec.LookPath("python3")
	if err != nil {
		return ""
	}
	return p
}

// runPython runs one of the embedded stdlib-only scripts with args and
// decodes the single JSON object it prints on stdout into out. The script is
// written to a temp dir first so that multiprocessing's spawn can re-import it.
func runPython(cfg Config, script string, out any, args ...string) error {
	if cfg.Python == "" {
		return fmt.Errorf("python3 not found on PATH")
	}
	src, err := pyScripts.ReadFile("python/" + script)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "trident-bench-py")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, script)
	if err := os.WriteFile(path, src, 0o644); err != nil {
		return err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(cfg.Python, append([]string{path}, args...)...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %v: %s", script, err, stderr.String())
	}
	if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
		return fmt.Errorf("%s: bad output %q: %v", script, stdout.String(), err)
	}
	return nil
}
