package audit

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Bounds of an event's fields, in bytes. Every field may come from a
// request (a login's service name, a secret name, a request ID), so each is
// cut to its bound, with a marker, before any sink sees it: no request can
// make a line of the audit file, a Kafka record or a row larger than a few
// KiB, and every reader (a restart resuming the file's chain, audit
// verify --file) can read every line.
const (
	MaxField  = 256  // service, actor, action, secret, outcome, reason, request ID, source
	MaxDetail = 1024 // detail
)

// Bound returns ev with every field valid UTF-8 (each invalid byte becomes
// U+FFFD, which JSON keeps as it is, so a line reads back to the bytes that
// were hashed) and cut to its bound, the cut marked "…[+N bytes]" with N
// the bytes left out. Link applies it (through Normalize) to every event
// of every chain.
func Bound(ev Event) Event {
	for _, f := range [...]*string{&ev.Service, &ev.Actor, &ev.Action, &ev.Secret, &ev.Outcome, &ev.Reason, &ev.RequestID, &ev.Source} {
		*f = boundField(*f, MaxField)
	}
	ev.Detail = boundField(ev.Detail, MaxDetail)
	return ev
}

func boundField(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	cut := max - 24 // room for the marker
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("…[+%d bytes]", len(s)-cut)
}
