package rotate

import (
	"bytes"
	"strings"
	"testing"
)

func TestProgressOutput(t *testing.T) {
	var tty bytes.Buffer
	p := &ProgressBar{w: &tty, tty: true}
	p.Update("reencrypt", Progress{Total: 10, Done: 5})
	p.Update("reencrypt", Progress{Total: 10, Done: 10})
	out := tty.String()
	if !strings.HasPrefix(out, "\rreencrypt [###############...............] 5/10 versions  50%") || !strings.HasSuffix(out, "100%\n") {
		t.Errorf("terminal progress: %q", out)
	}
	var plain bytes.Buffer
	p = NewProgressBar(&plain) // a buffer is not a terminal
	if p.tty {
		t.Fatal("a buffer taken for a terminal")
	}
	for i := int64(1); i <= 100; i++ {
		p.Update("reencrypt", Progress{Total: 100, Done: i})
	}
	lines := strings.Split(strings.TrimSpace(plain.String()), "\n")
	if len(lines) > 3 || lines[len(lines)-1] != "reencrypt: 100/100 versions (100%), 0 skipped, 0 failed" || strings.Contains(plain.String(), "\r") {
		t.Errorf("plain progress (at most one line a second, and the last): %q", plain.String())
	}
}
