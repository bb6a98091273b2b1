package targets

import (
	"bytes"
	"strings"
	"testing"
)

func TestAllOK(t *testing.T) {
	if !AllOK(nil) || !AllOK([]Report{{Target: "a"}}) {
		t.Fatal("clean targets are not OK")
	}
	for _, bad := range []Report{{Error: "unreachable"}, {Plaintext: 1}, {Unreadable: 1}} {
		if AllOK([]Report{{Target: "a"}, bad}) {
			t.Errorf("%+v counted OK", bad)
		}
	}
}

// Off a terminal the progress line is written at most once a second.
func TestProgressLine(t *testing.T) {
	var b bytes.Buffer
	p := ProgressLine(&b)
	p(Progress{Target: "gw", Scanned: 10, Moved: 7, Skipped: 1})
	p(Progress{Target: "gw", Scanned: 20, Moved: 14, Skipped: 1})
	if got := b.String(); got != "reencrypt: target gw: 10 scanned, 7 moved, 1 skipped\n" || strings.Contains(got, "\r") {
		t.Fatalf("progress %q", got)
	}
}
