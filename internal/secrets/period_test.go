package secrets

import (
	"errors"
	"testing"
	"time"
)

func TestParsePeriod(t *testing.T) {
	for _, c := range []struct {
		in   string
		want time.Duration
	}{
		{"90d", 90 * 24 * time.Hour},
		{"0d", 0},
		{"720h", 720 * time.Hour},
		{"0", 0},
		{"1h30m", 90 * time.Minute},
	} {
		if got, err := ParsePeriod(c.in); err != nil || got != c.want {
			t.Errorf("ParsePeriod(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "soon", "-1d", "-5h", "d", "1.5d", "90 d"} {
		if _, err := ParsePeriod(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParsePeriod(%q): err = %v, want ErrInvalid", bad, err)
		}
	}
}
