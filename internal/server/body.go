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
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return errInvalid("request body: want JSON " + want)
	}
	return nil
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
