// Package yamlfile holds what the line-numbered YAML files of
// sa01-secrets (the policy, the targets file) share: their error, which
// names the file and the line, a mapping walk that refuses duplicate and
// non-string keys and aliases, and the decoder's own errors made short
// and line-numbered.
package yamlfile

import (
	"fmt"
	"regexp"
	"strconv"

	"go.yaml.in/yaml/v3"
)

// Error is a file's error at a line (0: the whole file).
type Error struct {
	File string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// EachPair walks the mapping m of file, refusing duplicate and non-string
// keys and aliases (what names the file's kind in that refusal: "a
// policy"), and calls fn with each key and value.
func EachPair(file, what string, m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return &Error{File: file, Line: k.Line, Msg: "a key must be a plain string"}
		}
		if line, dup := seen[k.Value]; dup {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("duplicate key %q (first at line %d)", Trunc(k.Value), line)}
		}
		seen[k.Value] = k.Line
		if v.Kind == yaml.AliasNode {
			return &Error{File: file, Line: v.Line, Msg: "aliases are not allowed in " + what}
		}
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// Invalid is the error of a file the YAML decoder refused: the decoder's
// line when it gives one, its message without its prefix, bounded.
func Invalid(file string, err error) *Error {
	return &Error{File: file, Line: errLine(err), Msg: "not valid YAML: " + errMsg(err)}
}

// Trunc bounds a key or value quoted in an error to 64 bytes.
func Trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

var (
	yamlLine   = regexp.MustCompile(`line (\d+)`)
	yamlPrefix = regexp.MustCompile(`^yaml: (line \d+: )?`)
)

func errLine(err error) int {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n > 1<<24 {
		return 0
	}
	return n
}

func errMsg(err error) string {
	s := yamlPrefix.ReplaceAllString(err.Error(), "")
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}
