package opa

import (
	"fmt"
	"strconv"
	"strings"
)

// Identity kinds in the input document.
const (
	KindService  = "service"
	KindOperator = "operator"
)

// MaxFieldLen bounds each string of an [Input]. An input with a longer
// field is denied ([ReasonBadInput]) without asking OPA.
const MaxFieldLen = 1024

// Input is the input document of one decision: who does what to which
// secret, and the request it came in. It holds names and labels, never a
// secret value.
type Input struct {
	Identity Identity `json:"identity"`
	// Action is the policy action: read, list or write (a delete is a
	// write, a history is a read, as in the YAML policy).
	Action  string  `json:"action"`
	Secret  Secret  `json:"secret"`
	Request Request `json:"request"`
}

// Identity is the caller.
type Identity struct {
	Name string `json:"name"`
	Kind string `json:"kind"` // KindService or KindOperator
	Role string `json:"role"` // an operator's role (admin, auditor, responder); "" for a service
}

// Secret is the secret accessed.
type Secret struct {
	Name  string `json:"name"`
	Class string `json:"class"`
	Owner string `json:"owner"`
}

// Request is the request the access came in. It is sent to OPA, so that
// its decision log joins the audit trail, and left out of the cache key.
type Request struct {
	ID     string `json:"id"`
	Source string `json:"source"`
}

// check bounds every field.
func (in *Input) check() error {
	for _, f := range []struct{ name, v string }{
		{"identity.name", in.Identity.Name}, {"identity.kind", in.Identity.Kind}, {"identity.role", in.Identity.Role},
		{"action", in.Action},
		{"secret.name", in.Secret.Name}, {"secret.class", in.Secret.Class}, {"secret.owner", in.Secret.Owner},
		{"request.id", in.Request.ID}, {"request.source", in.Request.Source},
	} {
		if len(f.v) > MaxFieldLen {
			return fmt.Errorf("opa: input %s: %d bytes; at most %d", f.name, len(f.v), MaxFieldLen)
		}
	}
	return nil
}

// cacheKey is the input without its request fields, each field
// length-prefixed so that no two inputs share a key.
func (in *Input) cacheKey() string {
	var b strings.Builder
	for _, s := range []string{in.Identity.Name, in.Identity.Kind, in.Identity.Role, in.Action, in.Secret.Name, in.Secret.Class, in.Secret.Owner} {
		b.WriteString(strconv.Itoa(len(s)))
		b.WriteByte(':')
		b.WriteString(s)
	}
	return b.String()
}
