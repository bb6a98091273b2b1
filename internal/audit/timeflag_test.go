package audit

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// TestParseTimeFlag: an empty flag is the zero time, a good one parses,
// and a bad one is a usage fault naming the flag, with examples.
func TestParseTimeFlag(t *testing.T) {
	now := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	if got, err := ParseTimeFlag("since", "", now); err != nil || !got.IsZero() {
		t.Errorf("empty: %v, %v", got, err)
	}
	if got, err := ParseTimeFlag("since", "4h", now); err != nil || !got.Equal(now.Add(-4*time.Hour)) {
		t.Errorf("4h: %v, %v", got, err)
	}
	var fe *fault.Error
	_, err := ParseTimeFlag("until", "yesterday-ish", now)
	if !errors.As(err, &fe) || fe.Class != fault.Usage || !strings.HasPrefix(err.Error(), "--until: ") || !strings.Contains(fe.Hint, "--until 4h") {
		t.Errorf("a bad value: %v (%+v)", err, fe)
	}
}
