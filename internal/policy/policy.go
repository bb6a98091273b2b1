// Package policy is the least-privilege policy: which secrets each service
// may read, list and write. Everything it does not grant is denied.
//
// # File format
//
// The policy is a YAML file (SA01_SECRETS_POLICY_FILE):
//
//	services:
//	  gateway: {read: ["llm/*", "db/gateway/*"]}
//	  worker:  {read: ["llm/openai_api_key"]}
//	  deployer:
//	    read:  ["**"]
//	    write: ["app/**"]
//
// Each service maps actions to lists of globs over secret names. The actions
// are:
//
//   - read: fetch values and history. Read implies list.
//   - list: see names, versions and env names without values.
//   - write: put new versions and delete. Write does not imply read.
//
// Two more keys say what run passes the service, not what it may access:
//
//   - env: a mapping of variable names to secrets it may read, as
//     {HTTPS_PROXY: net/proxy}: run injects each under that variable. Only
//     so does a variable that changes how a program runs (PATH, LD_*,
//     *_PROXY, ...) enter the service's process: the reader decides.
//   - platform_key: true: run also passes the store's Fernet keys
//     (SA01_CRYPTO_FERNET_KEY, SA01_CRYPTO_FERNET_PREVIOUS_KEYS), audited.
//
// Unknown keys, unknown actions, bad service names, bad globs and duplicate
// keys are errors that name the file and line. See [glob] semantics in the
// package's glob.go: '*' stays inside a path segment, "**" spans segments.
//
// # Reload
//
// A [Holder] holds the policy in force and swaps it atomically on
// [Holder.Reload]: requests in flight keep the policy they started with, and
// a file that does not load leaves the old policy in force.
package policy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"sort"
	"sync/atomic"

	"go.yaml.in/yaml/v3"

	"github.com/somaagent01/sa01-secrets/internal/yamlfile"
)

// Action is what a service does to a secret.
type Action string

// Actions.
const (
	Read  Action = "read"
	List  Action = "list"
	Write Action = "write"
)

// ErrDenied is returned when the policy does not grant an action.
var ErrDenied = errors.New("policy: denied")

// MaxFileSize bounds a policy file.
const MaxFileSize = 1 << 20

// Error is a policy file error at a line.
type Error = yamlfile.Error

// Policy is a parsed, compiled policy. It is immutable and safe for
// concurrent use. The zero Policy (and a nil *Policy) denies everything.
type Policy struct {
	file     string // the file it was parsed from, for Grant
	services map[string]*grants
}

type grants struct {
	byAction    [3]rules          // read, list, write: for Allowed
	src         [3][]grantAt      // the same globs in file order: for Explain and Globs
	env         map[string]string // env: variable → secret the reader maps explicitly
	platformKey bool              // platform_key: run passes it the store's Fernet keys
}

// grantAt is one glob as written, with its line.
type grantAt struct {
	glob string
	line int
	g    *glob
}

// rules is one action's globs, precompiled: literal names in a map, the
// rest in order.
type rules struct {
	exact map[string]struct{}
	globs []*glob
}

func (r *rules) match(name string) bool {
	if _, ok := r.exact[name]; ok {
		return true
	}
	for _, g := range r.globs {
		if g.match(name) {
			return true
		}
	}
	return false
}

func actionIndex(a Action) int {
	switch a {
	case Read:
		return 0
	case List:
		return 1
	case Write:
		return 2
	}
	return -1
}

// Allowed reports whether service may perform action on the secret name.
// Read implies list.
func (p *Policy) Allowed(service string, action Action, name string) bool {
	if p == nil {
		return false
	}
	g := p.services[service]
	if g == nil {
		return false
	}
	i := actionIndex(action)
	if i < 0 {
		return false
	}
	if g.byAction[i].match(name) {
		return true
	}
	return action == List && g.byAction[0].match(name)
}

// Check is Allowed as an error: nil, or ErrDenied.
func (p *Policy) Check(service string, action Action, name string) error {
	if p.Allowed(service, action, name) {
		return nil
	}
	return ErrDenied
}

// HasService reports whether the policy names service.
func (p *Policy) HasService(service string) bool {
	if p == nil {
		return false
	}
	_, ok := p.services[service]
	return ok
}

// Services returns the service names, sorted.
func (p *Policy) Services() []string {
	if p == nil {
		return nil
	}
	out := make([]string, 0, len(p.services))
	for s := range p.services {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// Globs returns the globs granting action to service, as written.
func (p *Policy) Globs(service string, action Action) []string {
	i := actionIndex(action)
	if p == nil || p.services[service] == nil || i < 0 {
		return nil
	}
	var out []string
	for _, r := range p.services[service].src[i] {
		out = append(out, r.glob)
	}
	return out
}

// Grant is one glob of a policy file that grants an action to a service:
// what `policy explain` shows as the rule that allowed an access.
type Grant struct {
	Service string
	Action  Action // the action the glob is written under: a read grant allows list too
	Glob    string
	File    string // as given to Parse or Load
	Line    int
}

// String renders the grant as "FILE:LINE: SERVICE ACTION GLOB".
func (g Grant) String() string {
	return fmt.Sprintf("%s:%d: %s %s %s", g.File, g.Line, g.Service, g.Action, g.Glob)
}

// Explain returns the grant that allows service to perform action on the
// secret name: the first of the action's globs in file order, then, for
// list, the first of read's. ok is false exactly when Allowed is false.
func (p *Policy) Explain(service string, action Action, name string) (g Grant, ok bool) {
	if p == nil || p.services[service] == nil {
		return Grant{}, false
	}
	i := actionIndex(action)
	if i < 0 {
		return Grant{}, false
	}
	order := []Action{action}
	if action == List {
		order = append(order, Read)
	}
	for _, a := range order {
		for _, r := range p.services[service].src[actionIndex(a)] {
			if r.g.match(name) {
				return Grant{Service: service, Action: a, Glob: r.glob, File: p.file, Line: r.line}, true
			}
		}
	}
	return Grant{}, false
}

var serviceName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)

// Load reads and parses the policy file at path.
func Load(path string) (*Policy, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &Error{File: path, Msg: "cannot read the policy file: it does not exist"}
	case errors.Is(err, fs.ErrPermission):
		return nil, &Error{File: path, Msg: "cannot read the policy file: permission denied"}
	case err != nil:
		return nil, &Error{File: path, Msg: "cannot read the policy file"}
	}
	defer f.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(io.LimitReader(f, MaxFileSize+1)); err != nil {
		return nil, &Error{File: path, Msg: "cannot read the policy file"}
	}
	if buf.Len() > MaxFileSize {
		return nil, &Error{File: path, Msg: fmt.Sprintf("larger than %d bytes", MaxFileSize)}
	}
	return Parse(path, buf.Bytes())
}

// Parse parses a policy; file names the source in errors.
func Parse(file string, data []byte) (*Policy, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlfile.Invalid(file, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: file, Msg: "empty policy: want a top-level 'services:' mapping"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: root.Line, Msg: "want a mapping with 'services:' at the top"}
	}
	p := &Policy{file: file, services: map[string]*grants{}}
	var services *yaml.Node
	err := eachPair(file, root, func(k, v *yaml.Node) error {
		if k.Value != "services" {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("unknown key %q: want 'services'", k.Value)}
		}
		services = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	if services == nil {
		return nil, &Error{File: file, Line: root.Line, Msg: "missing 'services:'"}
	}
	if services.Kind == yaml.ScalarNode && services.Tag == "!!null" {
		return p, nil // no service: everything denied
	}
	if services.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: services.Line, Msg: "'services' must be a mapping of service names"}
	}
	err = eachPair(file, services, func(k, v *yaml.Node) error {
		if !serviceName.MatchString(k.Value) {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("service name %q: want lowercase letters, digits, '.', '_' or '-', starting with a letter or digit, at most 64", k.Value)}
		}
		g, err := parseGrants(file, k.Value, v)
		if err != nil {
			return err
		}
		p.services[k.Value] = g
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

func parseGrants(file, service string, v *yaml.Node) (*grants, error) {
	g := &grants{}
	for i := range g.byAction {
		g.byAction[i].exact = map[string]struct{}{}
	}
	if v.Kind == yaml.ScalarNode && v.Tag == "!!null" {
		return g, nil // a service with no grants
	}
	if v.Kind != yaml.MappingNode {
		return nil, &Error{File: file, Line: v.Line, Msg: fmt.Sprintf("service %q: want a mapping of read/list/write to lists of globs", service)}
	}
	type envAt struct {
		name string
		line int
	}
	var envs []envAt
	err := eachPair(file, v, func(k, list *yaml.Node) error {
		switch k.Value {
		case "platform_key":
			if list.Kind != yaml.ScalarNode || list.Tag != "!!bool" {
				return &Error{File: file, Line: list.Line, Msg: fmt.Sprintf("service %q: platform_key: want true or false", service)}
			}
			g.platformKey = list.Value == "true"
			return nil
		case "env":
			if list.Kind != yaml.MappingNode {
				return &Error{File: file, Line: list.Line, Msg: fmt.Sprintf("service %q: env: want a mapping of variable names to secret names, as {HTTPS_PROXY: net/proxy}", service)}
			}
			g.env = map[string]string{}
			return eachPair(file, list, func(ek, ev *yaml.Node) error {
				if !envVarName.MatchString(ek.Value) {
					return &Error{File: file, Line: ek.Line, Msg: fmt.Sprintf("service %q: env: %q is not an environment variable name (letters, digits, '_', not starting with a digit)", service, ek.Value)}
				}
				if ev.Kind != yaml.ScalarNode || (ev.Tag != "!!str" && ev.Tag != "") {
					return &Error{File: file, Line: ev.Line, Msg: fmt.Sprintf("service %q: env: %s: want a secret name", service, ek.Value)}
				}
				gl, err := compileGlob(ev.Value)
				if err != nil || !gl.literal() {
					return &Error{File: file, Line: ev.Line, Msg: fmt.Sprintf("service %q: env: %s: want one secret's name, not a glob", service, ek.Value)}
				}
				for other, name := range g.env {
					if name == ev.Value {
						return &Error{File: file, Line: ev.Line, Msg: fmt.Sprintf("service %q: env: %s maps both %s and %s", service, ev.Value, other, ek.Value)}
					}
				}
				g.env[ek.Value] = ev.Value
				envs = append(envs, envAt{ev.Value, ev.Line})
				return nil
			})
		}
		a := Action(k.Value)
		i := actionIndex(a)
		if i < 0 {
			return &Error{File: file, Line: k.Line, Msg: fmt.Sprintf("service %q: unknown key %q: want read, list, write, env or platform_key", service, k.Value)}
		}
		if list.Kind != yaml.SequenceNode {
			return &Error{File: file, Line: list.Line, Msg: fmt.Sprintf("service %q: %s: want a list of globs, as [\"llm/*\"]", service, a)}
		}
		for _, item := range list.Content {
			if item.Kind != yaml.ScalarNode || (item.Tag != "!!str" && item.Tag != "") {
				return &Error{File: file, Line: item.Line, Msg: fmt.Sprintf("service %q: %s: each glob is a string", service, a)}
			}
			gl, err := compileGlob(item.Value)
			if err != nil {
				return &Error{File: file, Line: item.Line, Msg: fmt.Sprintf("service %q: %s: glob %q: %v", service, a, item.Value, err)}
			}
			if gl.literal() {
				g.byAction[i].exact[item.Value] = struct{}{}
			} else {
				g.byAction[i].globs = append(g.byAction[i].globs, gl)
			}
			g.src[i] = append(g.src[i], grantAt{glob: item.Value, line: item.Line, g: gl})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, e := range envs {
		if !g.byAction[0].match(e.name) {
			return nil, &Error{File: file, Line: e.line, Msg: fmt.Sprintf("service %q: env: %s is not among the secrets it may read", service, e.name)}
		}
	}
	return g, nil
}

// envVarName is a portable environment variable name.
var envVarName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,255}$`)

// EnvMap returns the variables the service's entry maps explicitly to
// secrets (env: {HTTPS_PROXY: net/proxy}): variable → secret name. run
// injects each mapped secret under that variable, and only there a
// variable that changes how a program runs.
func (p *Policy) EnvMap(service string) map[string]string {
	if p == nil || p.services[service] == nil || len(p.services[service].env) == 0 {
		return nil
	}
	out := make(map[string]string, len(p.services[service].env))
	for k, v := range p.services[service].env {
		out[k] = v
	}
	return out
}

// PlatformKey reports whether the service's entry says platform_key: true:
// run passes it the store's Fernet keys as SA01_CRYPTO_FERNET_KEY and
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS.
func (p *Policy) PlatformKey(service string) bool {
	return p != nil && p.services[service] != nil && p.services[service].platformKey
}

// eachPair walks a mapping, refusing duplicate and non-string keys.
func eachPair(file string, m *yaml.Node, fn func(k, v *yaml.Node) error) error {
	return yamlfile.EachPair(file, "a policy", m, fn)
}

// Holder holds the policy in force; it is safe for concurrent use.
type Holder struct {
	path string
	none bool // no policy file: NewHolder("")
	cur  atomic.Pointer[Policy]
}

// NewHolder loads the file at path and holds it. An empty path holds the
// empty policy, which denies everything.
func NewHolder(path string) (*Holder, error) {
	h := &Holder{path: path}
	if path == "" {
		h.none = true
		h.cur.Store(&Policy{})
		return h, nil
	}
	p, err := Load(path)
	if err != nil {
		return nil, err
	}
	h.cur.Store(p)
	return h, nil
}

// Static returns a Holder of p that never reloads.
func Static(p *Policy) *Holder {
	h := &Holder{}
	h.cur.Store(p)
	return h
}

// None reports whether no policy file is configured (NewHolder("")): the
// empty policy is held, and the platform's OPA, when configured, decides
// services' accesses alone.
func (h *Holder) None() bool { return h.none }

// Current returns the policy in force.
func (h *Holder) Current() *Policy { return h.cur.Load() }

// Path returns the file the holder reloads from, or "".
func (h *Holder) Path() string { return h.path }

// Reload reads the file again. On error the policy in force stays and the
// error says why.
func (h *Holder) Reload() error {
	if h.path == "" {
		return nil
	}
	p, err := Load(h.path)
	if err != nil {
		return err
	}
	h.cur.Store(p)
	return nil
}
