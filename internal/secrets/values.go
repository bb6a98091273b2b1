package secrets

import (
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// Values are text. A value is 1 byte to MaxValueSize of UTF-8 text: JSON
// (the API, the clients, get and export --format json) carries nothing
// else unchanged, and encoding/json would turn other bytes into U+FFFD
// without a word. Every write refuses anything else (CheckValue), naming
// the secret; binary data is stored encoded (base64) and decoded where it
// is used.
//
// Every reader that hands a value on in a form that cannot carry it byte
// for byte refuses it by the secret's name instead of changing it:
// JSON refuses a stored value that is not UTF-8 text (written by an older
// version; CheckText), and an environment variable or an env file (run,
// export --format env|dotenv) a value holding a NUL byte (CheckEnv). A
// local 'get --format raw' returns every stored value byte for byte.

// ErrNotCarried is matched by the error of a read whose form cannot carry
// the stored value byte for byte (CheckText, CheckEnv). Nothing was
// handed on.
var ErrNotCarried = errors.New("the value cannot be carried unchanged")

// ValueError refuses a value by its secret's name, never the value: a
// write of a value that is not 1 byte to 64 KiB of UTF-8 text (it matches
// ErrInvalid), or a read whose form cannot carry the stored value (it
// matches ErrNotCarried).
type ValueError struct {
	Name    string // the secret; "" when not known
	Version int    // a read's version; 0 when not known
	Env     string // the variable a read is for; "" for none
	Problem string // what is wrong with the value, never the value
	read    bool
	hint    string
}

func (e *ValueError) Error() string {
	who := "value"
	if e.Name != "" {
		who = "secret " + e.Name
		if e.Version > 0 {
			who += fmt.Sprintf(" version %d", e.Version)
		}
		if e.Env != "" {
			who += " (" + e.Env + ")"
		}
		who += ": value"
	}
	if e.read {
		return who + " " + e.Problem
	}
	return ErrInvalid.Error() + ": " + who + ": " + e.Problem
}

// Unwrap makes errors.Is(err, ErrInvalid) hold for a write,
// errors.Is(err, ErrNotCarried) for a read.
func (e *ValueError) Unwrap() error {
	if e.read {
		return ErrNotCarried
	}
	return ErrInvalid
}

// Hint says what to do about it; "" when the message says it.
func (e *ValueError) Hint() string { return e.hint }

// The hints of values refused.
const (
	hintEncode = "values are UTF-8 text: encode binary data first, e.g. base64 -w0 FILE | sa01-secrets put NAME, and decode it where it is used"
	// HintNotText is the hint of a read refused because the stored value
	// is not UTF-8 text, on this side of the API and the other.
	HintNotText = "a version stored by an older sa01-secrets: a local 'sa01-secrets get NAME' beside the store (SA01_SECRETS_ADDR unset) returns it byte for byte; put it back as text, encoded (e.g. base64)"
	hintNUL     = "put the value without NUL bytes (encode binary data, e.g. base64), or leave the secret out (run --only, export --prefix)"
)

// CheckValue checks a value a write stores: 1 byte to MaxValueSize of
// UTF-8 text. The error (a *ValueError matching ErrInvalid) names the
// secret, when name is not "", and never the value.
func CheckValue(name string, v []byte) error {
	switch {
	case len(v) == 0:
		return &ValueError{Name: name, Problem: "empty"}
	case len(v) > MaxValueSize:
		return &ValueError{Name: name, Problem: fmt.Sprintf("%d bytes; at most %d (64 KiB)", len(v), MaxValueSize)}
	case !utf8.Valid(v):
		return &ValueError{Name: name, Problem: "not UTF-8 text", hint: hintEncode}
	}
	return nil
}

// CheckText checks that JSON (the API, get and export --format json)
// carries the stored value of name (version, when not 0) unchanged: UTF-8
// text. The error matches ErrNotCarried and fault.Usage.
func CheckText(name string, version int, value string) error {
	if utf8.ValidString(value) {
		return nil
	}
	return notCarried(&ValueError{Name: name, Version: version, Problem: "is not UTF-8 text, which JSON cannot carry unchanged", read: true, hint: HintNotText})
}

// CheckEnv checks that an environment variable or an env file (run,
// export --format env|dotenv) carries the stored value of name, as env,
// unchanged: any bytes but NUL (exec refuses a whole environment holding
// one, naming nothing; a shell ends the value there). The error matches
// ErrNotCarried and fault.Usage.
func CheckEnv(name, env, value string) error {
	if strings.IndexByte(value, 0) < 0 {
		return nil
	}
	return notCarried(&ValueError{Name: name, Env: env, Problem: "holds a NUL byte, which no environment variable or env file can carry", read: true, hint: hintNUL})
}

func notCarried(e *ValueError) error { return fault.New(fault.Usage, e, e.hint) }
