package server

import (
	"encoding/json"
	"strings"
	"testing"
)

// FuzzCheckJSON holds checkJSON, the first reader of every request body, to
// two properties: it accepts nothing encoding/json calls invalid, and it
// accepts every canonical body (encoding/json's own encoding of what it
// decoded) that has no key twice under case folding and is no deeper than
// maxJSONDepth.
func FuzzCheckJSON(f *testing.F) {
	f.Add([]byte(`{"value":"v","cas":0}`))
	f.Add([]byte(`{"identity":"admin","identity":"gateway"}`))
	f.Add([]byte(`{"a":[{"b":1},{"b":2}]}`))
	f.Add([]byte(`{"K":1,"\u212a":2}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]`))
	f.Add([]byte(`{"a":1}]`))
	f.Add([]byte(`"x" "y"`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<16 {
			return
		}
		if checkJSON(b) == nil && !json.Valid(b) {
			t.Fatalf("accepted invalid JSON %q", b)
		}
		var v any
		if json.Unmarshal(b, &v) != nil {
			return
		}
		c, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		if depth(v) <= maxJSONDepth && !foldCollides(v) {
			if err := checkJSON(c); err != nil {
				t.Fatalf("refused canonical %q: %v", c, err)
			}
		}
	})
}

// depth is the nesting of a decoded value: 0 for a scalar.
func depth(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			d = max(d, depth(e))
		}
	case []any:
		for _, e := range x {
			d = max(d, depth(e))
		}
	default:
		return 0
	}
	return d + 1
}

// foldCollides reports whether some object in v has two keys equal under
// strings.EqualFold.
func foldCollides(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k, e := range x {
			for _, o := range keys {
				if strings.EqualFold(k, o) {
					return true
				}
			}
			keys = append(keys, k)
			if foldCollides(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if foldCollides(e) {
				return true
			}
		}
	}
	return false
}
