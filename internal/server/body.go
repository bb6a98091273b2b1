package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxJSONDepth bounds the nesting of a request body: no route takes more
// than an object holding an array of objects.
const maxJSONDepth = 16

// decodeJSON reads a small JSON body into v. The body must be one JSON
// value, nothing after it, valid UTF-8 (encoding/json would silently turn
// invalid bytes into U+FFFD, storing a value other than the one sent), with
// no key twice in an object (encoding/json keeps the last, matched ignoring
// case, where another reader of the same body may keep the first) and no
// unknown key. Its errors never quote the body.
func decodeJSON(r *http.Request, v any, want string) error {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError: 413
	}
	return decodeJSONBytes(b, v, want)
}

// decodeOptionalJSON is decodeJSON for a body that may be empty.
func decodeOptionalJSON(r *http.Request, v any, want string) error {
	if r.Body == nil {
		return nil
	}
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	return decodeJSONBytes(b, v, want)
}

func decodeJSONBytes(b []byte, v any, want string) error {
	if !utf8.Valid(b) {
		return errInvalid("request body: not valid UTF-8 (JSON is UTF-8; send binary values encoded, e.g. base64)")
	}
	if err := checkJSON(b); err != nil {
		return errInvalid("request body: " + err.Error() + "; want " + want)
	}
	if loneSurrogate(b) {
		return errInvalid(`request body: a string escapes half of a UTF-16 surrogate pair (\ud800 alone), which is no character (send text; binary values encoded, e.g. base64)`)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalid("request body: want JSON " + want)
	}
	return nil
}

// loneSurrogate reports whether a JSON text (checked by checkJSON) has
// a string escaping a UTF-16 surrogate that is not half of a pair, such
// as "\ud800" alone: encoding/json reads it as U+FFFD, and another reader
// (a Python json.loads) as a lone surrogate, so the value would be stored
// changed.
func loneSurrogate(b []byte) bool {
	in := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		if !in {
			in = c == '"'
			continue
		}
		switch {
		case c == '"':
			in = false
		case c == '\\' && i+1 < len(b) && b[i+1] == 'u':
			r := escapedRune(b[i:])
			switch {
			case r >= 0xdc00 && r <= 0xdfff:
				return true // a second half first
			case r >= 0xd800 && r <= 0xdbff:
				if low := escapedRune(b[i+6:]); low < 0xdc00 || low > 0xdfff {
					return true
				}
				i += 11
			default:
				i += 5
			}
		case c == '\\':
			i++
		}
	}
	return false
}

// escapedRune returns the code unit of a \uXXXX escape at the start of b,
// or -1.
func escapedRune(b []byte) rune {
	if len(b) < 6 || b[0] != '\\' || b[1] != 'u' {
		return -1
	}
	var r rune
	for _, c := range b[2:6] {
		switch {
		case c >= '0' && c <= '9':
			r = r<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			r = r<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			r = r<<4 | rune(c-'A'+10)
		default:
			return -1
		}
	}
	return r
}

// checkJSON walks a body's tokens: one value and nothing after it, nested
// at most maxJSONDepth deep, no key twice in one object as encoding/json
// matches keys (Unicode case folding, as strings.EqualFold).
func checkJSON(b []byte) error {
	errNotJSON := errors.New("not valid JSON")
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	type frame struct {
		keys      map[string]bool // nil: an array
		expectKey bool
	}
	var stack []*frame
	for {
		t, err := dec.Token()
		if err != nil {
			return errNotJSON
		}
		if n := len(stack); n > 0 && stack[n-1].expectKey {
			f := stack[n-1]
			if t == json.Delim('}') {
				stack = stack[:n-1]
			} else {
				k, ok := t.(string)
				if !ok {
					return errNotJSON
				}
				if f.keys[foldKey(k)] {
					return errors.New("a key appears twice in one object (keys match ignoring case)")
				}
				f.keys[foldKey(k)] = true
				f.expectKey = false
				continue
			}
		} else {
			switch t {
			case json.Delim('{'), json.Delim('['):
				if len(stack) >= maxJSONDepth {
					return errors.New("nested too deep")
				}
				f := &frame{}
				if t == json.Delim('{') {
					f.keys, f.expectKey = map[string]bool{}, true
				}
				stack = append(stack, f)
				continue
			case json.Delim(']'):
				stack = stack[:len(stack)-1]
			}
		}
		// A value ended.
		if len(stack) == 0 {
			if _, err := dec.Token(); !errors.Is(err, io.EOF) {
				return errors.New("want one JSON value, found more after it")
			}
			return nil
		}
		if f := stack[len(stack)-1]; f.keys != nil {
			f.expectKey = true
		}
	}
}

// foldKey maps a key to one representative of its case-folding class, so
// that two keys encoding/json would match to one field map to one string.
func foldKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}
