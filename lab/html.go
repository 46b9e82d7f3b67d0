package lab

import "io"

// WriteHTML writes a self-contained page (placeholder until charts land).
func (r *Result) WriteHTML(w io.Writer) error {
	_, err := io.WriteString(w, "<!doctype html><title>trident lab</title>")
	return err
}
