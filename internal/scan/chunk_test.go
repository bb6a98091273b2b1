package scan

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// TestChunksKeepValuesWhole: scan cuts streams into units; a PEM key is
// not cut in two (the unit ends before its BEGIN line), and a value whose
// name is on the line before (a YAML env entry) is found in the next unit,
// which carries the end of the previous one as its lead.
func TestChunksKeepValuesWhole(t *testing.T) {
	t.Parallel()
	pw := "Zq8!" + rnd(alnumSet, 12, 90)
	const size = 256 << 10
	for shift := -8; shift <= 8; shift++ {
		var b strings.Builder
		for b.Len() < size-400+shift*40 {
			fmt.Fprintf(&b, "level=info msg=request n=%d\n", b.Len())
		}
		b.WriteString("    - name: DB_PASSWORD\n      value: \"" + pw + "\"\n")
		b.WriteString(pemKey(9, 8) + "\n")
		for b.Len() < 2*size {
			fmt.Fprintf(&b, "level=info msg=request n=%d\n", b.Len())
		}
		in := b.String()
		var rules []string
		var units int
		_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
			return Chunks(strings.NewReader(in), "log", size, func(u Unit) bool { units++; return send(u) })
		}, nil, func(f Finding) error {
			rules = append(rules, fmt.Sprintf("%s@%d", f.Rule, f.Line))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		nameLine := strings.Count(in[:strings.Index(in, "- name: DB_PASSWORD")], "\n") + 1
		keyLine := strings.Count(in[:strings.Index(in, "-----BEGIN")], "\n") + 1
		want := fmt.Sprintf("[%s@%d private-key@%d]", RuleGeneric, nameLine+1, keyLine)
		if got := fmt.Sprint(rules); got != want || units < 2 {
			t.Fatalf("shift %d: %d units, findings %s, want %s", shift, units, got, want)
		}
	}
}
