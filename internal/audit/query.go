package audit

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// Query selects events. Zero fields match everything.
type Query struct {
	Secret   string
	Service  string
	Action   string
	Since    time.Time // inclusive
	Until    time.Time // exclusive
	Failed   bool      // only failures
	AfterSeq int64     // only events with a larger seq
	Limit    int       // at most this many (0: no limit)
	Newest   bool      // the newest Limit events (still returned oldest first)
}

// Match reports whether e satisfies q (all but AfterSeq/Limit).
func (q Query) Match(e Entry) bool {
	switch {
	case q.Secret != "" && e.Secret != q.Secret,
		q.Service != "" && e.Service != q.Service,
		q.Action != "" && e.Action != q.Action,
		!q.Since.IsZero() && e.Time.Before(q.Since),
		!q.Until.IsZero() && !e.Time.Before(q.Until),
		q.Failed && e.Outcome != Failure,
		e.Seq <= q.AfterSeq:
		return false
	}
	return true
}

// ParseTimeFlag is ParseTime of v, the value of --flag ("": the zero
// time); a value it cannot parse is a usage fault with examples.
func ParseTimeFlag(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := ParseTime(v, now)
	if err != nil {
		return time.Time{}, fault.New(fault.Usage, fmt.Errorf("--%s: %v", flag, err), "for example --"+flag+" 4h, --"+flag+" 2026-01-02 or --"+flag+" 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// ParseTime parses a time for --since and --until: RFC 3339 (with or
// without fractional seconds), a date (2006-01-02, UTC midnight), "now", or
// a duration before now such as 90s, 30m, 4h, 7d or 2w (also "4h ago").
func ParseTime(s string, now time.Time) (time.Time, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, errors.New("empty time")
	}
	if s == "now" {
		return now.UTC(), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse("2006-01-02", s); err == nil {
		return t.UTC(), nil
	}
	rel := strings.TrimSpace(strings.TrimSuffix(s, "ago"))
	if d, ok := parseRelative(rel); ok {
		return now.Add(-d).UTC(), nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-01-02T15:04:05Z), a date (2026-01-02) or a duration ago (30m, 4h, 7d, 2w)")
}

func parseRelative(s string) (time.Duration, bool) {
	if s == "" {
		return 0, false
	}
	unit := map[byte]time.Duration{'d': 24 * time.Hour, 'w': 7 * 24 * time.Hour}
	if u, ok := unit[s[len(s)-1]]; ok {
		n, err := strconv.ParseFloat(s[:len(s)-1], 64)
		if err != nil || n < 0 || n > 1e5 {
			return 0, false
		}
		return time.Duration(n * float64(u)), true
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, false
	}
	return d, true
}
