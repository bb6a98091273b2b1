// Package opa asks the platform's Open Policy Agent whether an access to a
// secret is allowed. OPA is never embedded: a [Decider] POSTs an input
// document to OPA's Data API over HTTP with the standard library, and a
// [Gate] combines OPA's answer with the YAML policy.
//
// # The question
//
// Each access is one POST to the decision path (for example
// /v1/data/sa01/secrets/allow) with
//
//	{"input": {
//	  "identity": {"name": "gateway", "kind": "service", "role": ""},
//	  "action": "read",
//	  "secret": {"name": "llm/openai_api_key", "class": "api-key", "owner": "platform"},
//	  "request": {"id": "7f3c…", "source": "10.0.0.7"}}}
//
// # The answer
//
// A result of true, or an object with "allow": true, allows. Anything else
// denies, each with its own [Reason]: false or "allow": false (denied), no
// result (undefined: OPA's answer for a rule that does not apply), a result
// of another shape, a status other than 200, a body larger than the bound,
// a body that is not JSON. When OPA gives no answer within the timeout (it
// is down, slow, or a proxy in front of it says 502, 503 or 504) the access
// is refused as unavailable: never allowed.
//
// # Cache
//
// Decisions OPA made (allowed, denied, undefined, a result of another
// shape) are cached for a short TTL, keyed by the input without its request
// fields; failures are never cached, so OPA back is OPA asked again.
// Concurrent identical accesses that miss share one call. A decision served
// from the cache, or from a call shared with a concurrent access, carries
// the decision_id of the OPA call that made it, and OPA's decision log holds
// that call's request id and source only.
//
// # Combining with the YAML policy
//
// The YAML policy is the first gate and deny wins: OPA can narrow access,
// never widen it. With no YAML policy file, OPA decides alone. See [Gate].
package opa
