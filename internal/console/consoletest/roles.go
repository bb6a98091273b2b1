package consoletest

import (
	"github.com/somaagent01/sa01-secrets/internal/console"
)

// roleGrants is the operators' part of the role table of
// docs/identities.md, as the console asks it: admin everything; auditor
// metadata, audit, reports and status, no values and no changes;
// responder the same plus incidents and the rotation of a secret under
// incident. Rotation by a responder also needs the secret to have an open
// incident or a compromised current version (Backend.underIncident).
var roleGrants = map[string]map[console.Action]bool{
	console.RoleAuditor: {
		console.ActList: true, console.ActIncidentReport: true, console.ActAudit: true,
		console.ActKeys: true, console.ActExplain: true,
	},
	console.RoleResponder: {
		console.ActList: true, console.ActIncidentReport: true, console.ActAudit: true,
		console.ActKeys: true, console.ActExplain: true, console.ActIncidentRespond: true, console.ActRotate: true,
	},
}

// roleAllows reports whether an operator's role grants a, before any
// condition on the secret.
func roleAllows(role string, a console.Action) bool {
	if role == console.RoleAdmin {
		return true
	}
	return roleGrants[role][a]
}

// simulated maps the simulator's operator actions to the console's.
var simulated = map[string]console.Action{
	"read":          console.ActReveal,
	"list":          console.ActList,
	"write":         console.ActWrite,
	"rotate":        console.ActRotate,
	"incident-open": console.ActIncidentRespond,
	"audit":         console.ActAudit,
}

// roleRule says in one line why a role allows or denies an action.
func roleRule(role, action string, allowed bool) string {
	switch {
	case role == console.RoleAdmin:
		return "role admin: everything"
	case action == "destroy":
		return "role " + role + ": destroy is for admins only"
	case allowed && action == "rotate":
		return "role responder: rotation of a secret with an open incident or a compromised version"
	case allowed:
		return "role " + role + ": " + action
	case action == "read":
		return "role " + role + ": no values"
	case action == "rotate" && role == console.RoleResponder:
		return "role responder: rotation only of a secret with an open incident or a compromised current version"
	}
	return "role " + role + " does not grant " + action
}
