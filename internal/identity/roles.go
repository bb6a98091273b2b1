package identity

import (
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// Action is what an identity asks to do. The server, the console and the
// CLI decide every request with [Decide], over this one table.
type Action string

// Actions.
const (
	Read             Action = "read"          // a value: get, export, run, reveal
	List             Action = "list"          // names and metadata
	History          Action = "history"       // a secret's versions, without values
	Write            Action = "write"         // put, import, rollback, undelete
	Delete           Action = "delete"        // soft-delete
	Destroy          Action = "destroy"       // destroy a version for good
	Rotate           Action = "rotate"        // a new version of a secret, generated or given
	Audit            Action = "audit"         // audit query, tail, verify, head
	Status           Action = "status"        // rotation and compliance status
	Keys             Action = "keys"          // the key ring (IDs and ages, never a key)
	IncidentOpen     Action = "incident-open" // open or close an incident
	IncidentRead     Action = "incident-read" // incident status and report
	Explain          Action = "explain"       // policy explain: who may do what
	ManageIdentities Action = "identities"    // add, rotate, revoke identities
)

// Actions lists every action, in the table's order.
var Actions = []Action{Read, List, History, Write, Delete, Destroy, Rotate, Audit, Status, Keys, IncidentOpen, IncidentRead, Explain, ManageIdentities}

// grant is one cell of the table.
type grant uint8

const (
	deny          grant = iota
	allow               // always
	underIncident       // only a secret with an open incident or a compromised current version
)

// roleTable is the operators' part of the table. Admin may do everything;
// no other role ever reads a value.
var roleTable = map[Role]map[Action]grant{
	Auditor: {
		List: allow, History: allow, Audit: allow, Status: allow, Keys: allow, IncidentRead: allow, Explain: allow,
	},
	Responder: {
		List: allow, History: allow, Status: allow, IncidentOpen: allow, IncidentRead: allow, Rotate: underIncident,
	},
}

// serviceActions maps a service's actions to the YAML policy's: a service
// may do only what the policy grants it, on the secrets it names.
var serviceActions = map[Action]policy.Action{
	Read:    policy.Read,
	List:    policy.List,
	History: policy.Read, // a service's history needs the read grant, as before identities
	Write:   policy.Write,
	Delete:  policy.Write,
	Destroy: policy.Write, // destroy, rollback and undelete need what a write needs
}

// Decision is the table's answer.
type Decision struct {
	Allowed bool
	// UnderIncident: allowed only for a secret with an open incident or a
	// compromised current version; the caller checks that.
	UnderIncident bool
	// Rule says in one line why.
	Rule string
}

// Decide is the permission table: may id do a on the secret name ("" for
// an action on no secret)? p is the YAML policy (services only). A revoked
// identity may do nothing.
func Decide(id Identity, a Action, name string, p *policy.Policy) Decision {
	if id.Revoked() {
		return Decision{Rule: "identity " + id.Name + " is revoked"}
	}
	switch id.Kind {
	case Service:
		pa, ok := serviceActions[a]
		if !ok {
			return Decision{Rule: "service " + id.Name + ": " + string(a) + " is for operators"}
		}
		if name == "" {
			// listing: the policy filters each secret
			return Decision{Allowed: a == List, Rule: "service " + id.Name + ": by the policy, secret by secret"}
		}
		if g, ok := p.Explain(id.Name, pa, name); ok {
			return Decision{Allowed: true, Rule: g.String()}
		}
		return Decision{Rule: "service " + id.Name + ": the policy grants no " + string(pa) + " of " + name}
	case Operator:
		if id.Role == Admin {
			return Decision{Allowed: true, Rule: "role admin: everything"}
		}
		t, ok := roleTable[id.Role]
		if !ok {
			return Decision{Rule: "unknown role " + string(id.Role)}
		}
		switch t[a] {
		case allow:
			return Decision{Allowed: true, Rule: "role " + string(id.Role) + ": " + string(a)}
		case underIncident:
			return Decision{Allowed: true, UnderIncident: true, Rule: "role " + string(id.Role) + ": " + string(a) + " of a secret under incident"}
		}
		if a == Read {
			return Decision{Rule: "role " + string(id.Role) + ": never a value"}
		}
		return Decision{Rule: "role " + string(id.Role) + " does not grant " + string(a)}
	}
	return Decision{Rule: "unknown kind " + string(id.Kind)}
}

// ServiceAction maps a service's action to the YAML policy's, and reports
// whether a service may do a at all (the rest are for operators).
func ServiceAction(a Action) (policy.Action, bool) {
	pa, ok := serviceActions[a]
	return pa, ok
}
