package prompt

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadLine(t *testing.T) {
	for _, tc := range []struct {
		in    string
		limit int
		want  string
		rest  string
		err   error
	}{
		{"value\nrest", 64, "value", "rest", nil},
		{"value\r\n", 64, "value", "", nil},
		{"no newline", 64, "no newline", "", nil},
		{"\n", 64, "", "", nil},
		{"", 64, "", "", io.EOF},
		{"12345\n", 5, "12345", "", nil},
		{"123456\n", 5, "", "\n", ErrTooLong},
	} {
		r := strings.NewReader(tc.in)
		got, err := readLine(r, tc.limit)
		rest, _ := io.ReadAll(r)
		if !errors.Is(err, tc.err) || string(got) != tc.want || string(rest) != tc.rest {
			t.Errorf("readLine(%q, %d) = %q, %v, rest %q; want %q, %v, rest %q", tc.in, tc.limit, got, err, rest, tc.want, tc.err, tc.rest)
		}
	}
}
