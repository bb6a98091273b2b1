// Package targets finds and re-encrypts the Fernet tokens the platform keeps
// in its own data stores under SA01_CRYPTO_FERNET_KEY: fields of a Redis
// hash, Redis string keys matching a pattern, and a column of a PostgreSQL
// table. A targets file (YAML) declares them; connection strings are
// secrets in the store, never in the file.
//
// Status counts the tokens of every target by key ID, with plaintext found
// where a token belongs, tokens no loaded key opens, and the oldest token's
// age. Reencrypt moves every token under an older key to the primary, in
// batches, each write a compare-and-swap on the token it read, so a value
// the application changed meanwhile is left to it and counted.
package targets

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/somaagent01/sa01-secrets/internal/yamlfile"

	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// MaxFileSize bounds a targets file.
const MaxFileSize = 1 << 20

// Kinds of target.
const (
	KindRedisHash = "redis-hash" // every field of one hash
	KindRedisKeys = "redis-keys" // string keys matching a SCAN pattern
	KindPostgres  = "postgres"   // one column of one table, by key column
)

// Target is one place the platform keeps tokens.
type Target struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	// Secret names the secret in the store holding the connection string
	// (a redis:// URL or a PostgreSQL DSN).
	Secret string `json:"secret"`
	Hash   string `json:"hash,omitempty"`   // redis-hash
	Keys   string `json:"keys,omitempty"`   // redis-keys: SCAN MATCH pattern
	Table  string `json:"table,omitempty"`  // postgres: table or schema.table
	Column string `json:"column,omitempty"` // postgres: the token column
	KeyCol string `json:"key,omitempty"`    // postgres: the row's unique key column
	Line   int    `json:"line,omitempty"`   // where it is declared
	File   string `json:"-"`                // the file it comes from
	Where  string `json:"location"`         // a value-free description
}

// File is a parsed targets file.
type File struct {
	Path    string
	Targets []Target // in file order
}

// Get returns the target named name.
func (f *File) Get(name string) (Target, bool) {
	for _, t := range f.Targets {
		if t.Name == name {
			return t, true
		}
	}
	return Target{}, false
}

// Names returns the targets' names in file order.
func (f *File) Names() []string {
	out := make([]string, len(f.Targets))
	for i, t := range f.Targets {
		out[i] = t.Name
	}
	return out
}

// Error is a targets file error at a line. It never quotes a value that
// could be a secret: connection strings are not allowed in the file.
type Error = yamlfile.Error

var (
	targetName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	sqlIdent   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,62}$`)
)

// Load reads and parses the targets file at path.
func Load(path string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil, &Error{File: path, Msg: "does not exist"}
		}
		return nil, &Error{File: path, Msg: "cannot read the targets file"}
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, &Error{File: path, Msg: "cannot read the targets file"}
	}
	if buf.Len() > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	return Parse(path, buf.Bytes())
}

// Parse parses a targets file; file names the source in errors.
func Parse(file string, data []byte) (*File, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlfile.Invalid(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty targets file: want a top-level 'targets:' mapping"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "want a mapping with 'targets:' at the top"}
	}
	var list *yaml.Node
	err := eachPair(file, root, func(k, v *yaml.Node) error {
		if k.Value != "targets" {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q: want 'targets'", k.Value)}
		}
		list = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	out := &File{Path: file}
	if list == nil {
		return nil, &Error{File: file, Line: root.Line, Msg: "missing 'targets:'"}
	}
	if list.Kind == yaml.ScalarNode && list.Tag == "!!null" {
		return out, nil
	}
	if list.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: list.Line, Msg: "'targets' must be a mapping of target names"}
	}
	err = eachPair(file, list, func(k, v *yaml.Node) error {
		if !targetName.MatchString(k.Value) {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("target name %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64", trunc(k.Value))}
		}
		t, err := parseTarget(file, k.Value, k.Line, v)
		if err != nil {
			return err
		}
		out.Targets = append(out.Targets, t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func parseTarget(file, name string, line int, v *yaml.Node) (Target, error) {
	t := Target{Name: name, Line: line, File: file}
	if v.Kind != yaml.MappingNode || len(v.Content) != 2 {
		return t, &Error{File: file, Line: v.Line, Msg: fmt.Sprintf("target %s: want exactly one of 'redis:' or 'postgres:'", name)}
	}
	kind, body := v.Content[0], v.Content[1]
	if kind.Kind != yaml.ScalarNode || (kind.Value != "redis" && kind.Value != "postgres") {
		return t, &Error{File: file, Line: kind.Line, Msg: fmt.Sprintf("target %s: unknown kind %q: want 'redis' or 'postgres'", name, trunc(kind.Value))}
	}
	if body.Kind != yaml.MappingNode {
		return t, &Error{File: file, Line: body.Line, Msg: fmt.Sprintf("target %s: '%s' must be a mapping", name, kind.Value)}
	}
	allowed := map[string][]string{
		"redis":    {"url_secret", "hash", "keys"},
		"postgres": {"dsn_secret", "table", "column", "key"},
	}[kind.Value]
	fields := map[string]string{}
	lines := map[string]int{}
	err := eachPair(file, body, func(k, fv *yaml.Node) error {
		known := false
		for _, a := range allowed {
			known = known || a == k.Value
		}
		if !known {
			hint := ""
			switch k.Value {
			case "url", "dsn", "password":
				hint = "; a connection string belongs in the store: name the secret with " + allowed[0]
			}
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("target %s: unknown key %q: want one of %s%s", name, trunc(k.Value), strings.Join(allowed, ", "), hint)}
		}
		if fv.Kind != yaml.ScalarNode || fv.Tag == "!!null" || fv.Value == "" {
			return &Error{File: file, Line: fv.Line, Msg: fmt.Sprintf("target %s: %s must be a non-empty string", name, k.Value)}
		}
		fields[k.Value], lines[k.Value] = fv.Value, fv.Line
		return nil
	})
	if err != nil {
		return t, err
	}
	bad := func(key, msg string) error {
		l := lines[key]
		if l == 0 {
			l = body.Line
		}
		return &Error{File: file, Line: l, Msg: fmt.Sprintf("target %s: %s", name, msg)}
	}
	sec := allowed[0]
	t.Secret = fields[sec]
	if t.Secret == "" {
		return t, bad(sec, "missing "+sec+" (the secret in the store holding the connection string)")
	}
	if strings.Contains(t.Secret, "://") || strings.ContainsAny(t.Secret, "@= ") {
		return t, bad(sec, sec+" must name a secret in the store, not hold a connection string")
	}
	if secrets.ValidateName(t.Secret) != nil {
		return t, bad(sec, sec+": not a valid secret name")
	}
	switch kind.Value {
	case "redis":
		t.Hash, t.Keys = fields["hash"], fields["keys"]
		switch {
		case t.Hash != "" && t.Keys != "":
			return t, bad("keys", "give one of hash (every field of a hash) or keys (string keys by pattern), not both")
		case t.Hash != "":
			t.Kind = KindRedisHash
			if len(t.Hash) > 512 {
				return t, bad("hash", "hash: longer than 512 bytes")
			}
			t.Where = "redis hash " + t.Hash
		case t.Keys != "":
			t.Kind = KindRedisKeys
			if len(t.Keys) > 512 {
				return t, bad("keys", "keys: longer than 512 bytes")
			}
			t.Where = "redis keys " + t.Keys
		default:
			return t, bad("", "missing hash or keys")
		}
	case "postgres":
		t.Kind = KindPostgres
		t.Table, t.Column, t.KeyCol = fields["table"], fields["column"], fields["key"]
		for _, k := range []string{"table", "column", "key"} {
			if fields[k] == "" {
				return t, bad(k, "missing "+k)
			}
		}
		parts := strings.Split(t.Table, ".")
		if len(parts) > 2 {
			return t, bad("table", "table: want name or schema.name")
		}
		for _, p := range parts {
			if !sqlIdent.MatchString(p) {
				return t, bad("table", "table: want letters, digits and '_' (schema.name allowed)")
			}
		}
		if !sqlIdent.MatchString(t.Column) {
			return t, bad("column", "column: want letters, digits and '_'")
		}
		if !sqlIdent.MatchString(t.KeyCol) {
			return t, bad("key", "key: want letters, digits and '_'")
		}
		if t.Column == t.KeyCol {
			return t, bad("key", "key and column must differ")
		}
		t.Where = "postgres " + t.Table + "." + t.Column
	}
	return t, nil
}

// Select returns the targets named (all when names is empty), refusing an
// unknown name with the list of known ones.
func (f *File) Select(names ...string) ([]Target, error) {
	if len(names) == 0 {
		return f.Targets, nil
	}
	var out []Target
	for _, n := range names {
		t, ok := f.Get(n)
		if !ok {
			known := f.Names()
			sort.Strings(known)
			return nil, &Error{File: f.Path, Msg: fmt.Sprintf("no target %q (targets: %s)", trunc(n), strings.Join(known, ", "))}
		}
		out = append(out, t)
	}
	return out, nil
}

func trunc(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// eachPair walks a mapping, refusing duplicate and non-string keys.
func eachPair(file string, m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	return yamlfile.EachPair(file, "a targets file", m, fn)
}
