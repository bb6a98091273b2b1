// Package sensitive holds secret values in a type that cannot print itself.
//
// A [String] formats as "[REDACTED]" under every fmt verb, in JSON and in
// log/slog. The only way to the value is [String.Reveal], so every place that
// handles a secret in the clear can be found with grep.
package sensitive

import (
	"fmt"
	"io"
	"log/slog"
)

const redacted = "[REDACTED]"

// String is a secret value. The zero value is the empty secret.
//
// The value sits behind a pointer so that reflection-based printers show an
// address, not the bytes.
type String struct {
	v *string
}

// New wraps s.
func New(s string) String { return String{v: &s} }

// FromBytes wraps a copy of b.
func FromBytes(b []byte) String { return New(string(b)) }

// Reveal returns the secret value. It is the one way out: callers that use it
// are responsible for where the value goes.
func (s String) Reveal() string {
	if s.v == nil {
		return ""
	}
	return *s.v
}

// IsZero reports whether s holds the empty string.
func (s String) IsZero() bool { return s.v == nil || *s.v == "" }

// Len returns the length of the value in bytes; the length is not secret.
func (s String) Len() int {
	if s.v == nil {
		return 0
	}
	return len(*s.v)
}

// Format implements fmt.Formatter: every verb prints [REDACTED].
func (s String) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// String implements fmt.Stringer.
func (s String) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (s String) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s String) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s String) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler.
func (s String) MarshalText() ([]byte, error) { return []byte(redacted), nil }
