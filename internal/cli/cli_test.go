package cli

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// TestLine: a line is escaped as scan.Printable escapes it and cut at
// MaxLine bytes on a character's boundary, saying how much was cut.
func TestLine(t *testing.T) {
	if got := Line("a\x1b[2Jb\u202ec"); got != `a\x1b[2Jb\u202ec` {
		t.Errorf("Line = %q", got)
	}
	long := strings.Repeat("é", MaxLine) // 2 bytes each: the cut falls inside one
	got := Line(long)
	head, tail, ok := strings.Cut(got, "… (")
	if !ok || len(head) > MaxLine || !utf8.ValidString(head) || tail != "2048 more bytes)" {
		t.Errorf("Line of %d bytes = %d bytes, tail %q", len(long), len(got), tail)
	}
}

// TestUsage: cobra's own errors become usage errors with a hint; any
// other error is left as it is.
func TestUsage(t *testing.T) {
	var fe *fault.Error
	err := Usage(errors.New("unknown command \"lst\" for \"sa01-secrets\"\n\nDid you mean this?\n\tlist\n"))
	if !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint != "did you mean 'sa01-secrets list'?" || strings.Contains(err.Error(), "\n") {
		t.Errorf("unknown command: %#v", err)
	}
	err = Usage(errors.New(`invalid argument "1h" for "--ttl" flag: strconv.ParseInt: parsing "1h": invalid syntax`))
	if !errors.As(err, &fe) || err.Error() != `invalid argument "1h" for "--ttl" flag: want a whole number` {
		t.Errorf("number flag: %v", err)
	}
	other := errors.New("disk full")
	if Usage(other) != other {
		t.Error("an error of its own is turned into a usage error")
	}
}
