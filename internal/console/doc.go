// Package console is the operators' web console of sa01-secrets: an
// http.Handler serving /ui/ that `serve` mounts on a listener of its own.
//
// Pages are rendered on the server with html/template; htmx (vendored,
// pinned and embedded: see htmx.go) only makes some of them quicker, and
// every page that reads works without JavaScript. No page makes a request
// to another origin, and every answer carries a strict
// Content-Security-Policy (default-src 'self', no inline script or style,
// frame-ancestors 'none') and Cache-Control: no-store.
//
// # Sessions
//
// An operator signs in with their credential; the session cookie is
// HttpOnly, SameSite=Strict, Secure (and __Host-) under TLS, and ends 15
// minutes after the last request or 8 hours after sign-in. Every form
// carries a CSRF token, checked in constant time; the sign-in form's is an
// HMAC of a nonce cookie. Sign-in, its failures and sign-out are audited.
//
// # Values
//
// No page holds a secret's value except the answer to "Reveal", a POST
// that the backend records as a reveal by the operator before it returns
// the value, and the answer to "Copy", which a script puts on the
// clipboard without showing it. An edit is reviewed as a masked diff
// (changed or not, lengths, keyed fingerprints) and the value waits in the
// session, never in the confirmation page.
//
// # The backend
//
// The console decides nothing about access: [Backend] authorizes every
// action by the operator's role and records every access. Package
// storebackend implements it over the store and the rest of sa01-secrets
// (what serve mounts on SA01_SECRETS_UI_LISTEN); package consoletest wraps
// that on a SQLite store, for the tests.
//
// docs/console.md describes the pages, roles, sessions and what is audited.
package console
