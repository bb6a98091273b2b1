package version

import (
	"runtime/debug"
	"testing"
)

func TestFormat(t *testing.T) {
	bi := &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Path: "github.com/somaagent01/sa01-secrets", Version: "v0.4.0"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	for _, c := range []struct {
		ldflags string
		bi      *debug.BuildInfo
		want    string
	}{
		{"", bi, "v0.4.0 (revision 0123456789abcdef-dirty, 2026-12-01T10:00:00Z, go1.25.0)"},
		{"v9", bi, "v9 (revision 0123456789abcdef-dirty, 2026-12-01T10:00:00Z, go1.25.0)"},
		{"", &debug.BuildInfo{GoVersion: "go1.25.0", Main: debug.Module{Version: "(devel)"}}, "(devel) (revision unknown, go1.25.0)"},
		{"", nil, "(devel)"},
	} {
		if got := Format(c.ldflags, c.bi); got != c.want {
			t.Errorf("Format(%q) = %q, want %q", c.ldflags, got, c.want)
		}
	}
}
