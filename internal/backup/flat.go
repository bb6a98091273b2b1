package backup

import (
	"encoding/base64"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
)

// A restore decodes a row of each version and each audit event: most of
// its reading. The rows a backup writer emits are flat JSON objects of
// plain strings and integers, which flat decodes without reflection. It
// declines anything else (whitespace, escapes, non-ASCII bytes, nested
// values, literals, a key it does not know or meets twice, a value of
// another type) and the row is decoded by encoding/json, which then
// decides it, value or error. So flat accepts a row only where
// encoding/json decodes it to the same value (FuzzFlatRows).

// flatField is one field of a row type R: its JSON name, whether its value
// is a string, and how a value is stored (false: decline the row). A
// string's value is given with its quotes.
type flatField[R any] struct {
	name string
	str  bool
	set  func(r *R, v []byte) bool
}

// flat decodes the flat object p into r with fields (at most 64), or
// declines it.
func flat[R any](p []byte, fields []flatField[R], r *R) bool {
	if len(p) < 2 || p[0] != '{' || p[len(p)-1] != '}' {
		return false
	}
	var seen uint64
	next := 0 // fields come in their order: try the one after the last first
	i := 1
	if p[i] == '}' {
		return i == len(p)-1
	}
	for {
		// The key.
		if p[i] != '"' {
			return false
		}
		j := plainString(p, i+1)
		if j < 0 || j+1 >= len(p) || p[j+1] != ':' {
			return false
		}
		key := p[i+1 : j]
		f := -1
		for k := range fields {
			if n := (next + k) % len(fields); fields[n].name == string(key) {
				f = n
				break
			}
		}
		if f < 0 || seen&(1<<f) != 0 {
			return false
		}
		seen |= 1 << f
		next = f + 1
		// The value.
		i = j + 2
		if i >= len(p) {
			return false
		}
		var end int
		if p[i] == '"' {
			if !fields[f].str {
				return false
			}
			if end = plainString(p, i+1); end < 0 {
				return false
			}
			end++
		} else {
			if fields[f].str {
				return false
			}
			end = i
			for end < len(p) && (p[end] == '-' || p[end] >= '0' && p[end] <= '9') {
				end++
			}
		}
		if !fields[f].set(r, p[i:end]) {
			return false
		}
		// What follows it.
		if end >= len(p) {
			return false
		}
		switch p[end] {
		case ',':
			i = end + 1
			if i >= len(p) {
				return false
			}
		case '}':
			return end == len(p)-1
		default:
			return false
		}
	}
}

// plainString returns the index of the quote that ends the string whose
// bytes start at p[i], or -1 when it holds an escape, a control character
// or a byte outside ASCII before it.
func plainString(p []byte, i int) int {
	for ; i < len(p); i++ {
		switch c := p[i]; {
		case c == '"':
			return i
		case c == '\\' || c < 0x20 || c >= 0x80:
			return -1
		}
	}
	return -1
}

// flatInt parses an integer literal as encoding/json reads one into an
// integer field; ok is false for anything else, or one that may overflow.
func flatInt(v []byte) (n int64, ok bool) {
	neg := len(v) > 0 && v[0] == '-'
	if neg {
		v = v[1:]
	}
	if len(v) == 0 || len(v) > 18 || v[0] == '0' && len(v) > 1 {
		return 0, false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func unquote(v []byte) string { return string(v[1 : len(v)-1]) }

func flatString[R any](name string, at func(*R) *string) flatField[R] {
	return flatField[R]{name, true, func(r *R, v []byte) bool { *at(r) = unquote(v); return true }}
}

func flatInt64[R any](name string, at func(*R) *int64) flatField[R] {
	return flatField[R]{name, false, func(r *R, v []byte) (ok bool) { *at(r), ok = flatInt(v); return ok }}
}

func flatIntField[R any](name string, at func(*R) *int) flatField[R] {
	return flatField[R]{name, false, func(r *R, v []byte) bool {
		n, ok := flatInt(v)
		*at(r) = int(n)
		return ok
	}}
}

// flatTime decodes as encoding/json does: through time.Time's UnmarshalJSON.
func flatTime[R any](name string, at func(*R) *time.Time) flatField[R] {
	return flatField[R]{name, true, func(r *R, v []byte) bool { return at(r).UnmarshalJSON(v) == nil }}
}

// flatBytes decodes standard base64 as encoding/json does.
func flatBytes[R any](name string, at func(*R) *[]byte) flatField[R] {
	return flatField[R]{name, true, func(r *R, v []byte) bool {
		s := v[1 : len(v)-1]
		b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
		n, err := base64.StdEncoding.Decode(b, s)
		*at(r) = b[:n]
		return err == nil
	}}
}

var versionFields = []flatField[versionRow]{
	flatInt64("id", func(r *versionRow) *int64 { return &r.ID }),
	flatInt64("secret_id", func(r *versionRow) *int64 { return &r.SecretID }),
	flatIntField("version", func(r *versionRow) *int { return &r.Version }),
	flatString("token", func(r *versionRow) *string { return &r.Token }),
	flatString("key_id", func(r *versionRow) *string { return &r.KeyID }),
	flatBytes("binding", func(r *versionRow) *[]byte { return &r.Binding }),
	flatTime("created_at", func(r *versionRow) *time.Time { return &r.CreatedAt }),
	flatString("actor", func(r *versionRow) *string { return &r.Actor }),
	flatTime("destroyed_at", func(r *versionRow) *time.Time { return &r.DestroyedAt }),
	flatTime("compromised_at", func(r *versionRow) *time.Time { return &r.CompromisedAt }),
}

var entryFields = []flatField[audit.Entry]{
	flatInt64("seq", func(e *audit.Entry) *int64 { return &e.Seq }),
	flatString("prev", func(e *audit.Entry) *string { return &e.Prev }),
	flatString("hash", func(e *audit.Entry) *string { return &e.Hash }),
	flatTime("time", func(e *audit.Entry) *time.Time { return &e.Time }),
	flatString("service", func(e *audit.Entry) *string { return &e.Service }),
	flatString("actor", func(e *audit.Entry) *string { return &e.Actor }),
	flatString("action", func(e *audit.Entry) *string { return &e.Action }),
	flatString("secret", func(e *audit.Entry) *string { return &e.Secret }),
	flatIntField("version", func(e *audit.Entry) *int { return &e.Version }),
	flatString("outcome", func(e *audit.Entry) *string { return &e.Outcome }),
	flatString("reason", func(e *audit.Entry) *string { return &e.Reason }),
	flatString("request_id", func(e *audit.Entry) *string { return &e.RequestID }),
	flatString("source", func(e *audit.Entry) *string { return &e.Source }),
	flatString("detail", func(e *audit.Entry) *string { return &e.Detail }),
	flatString("decision_id", func(e *audit.Entry) *string { return &e.DecisionID }),
	// anchor, an object, is left to encoding/json.
}

func flatVersion(p []byte, r *versionRow) bool { return flat(p, versionFields, r) }
func flatEntry(p []byte, e *audit.Entry) bool  { return flat(p, entryFields, e) }
