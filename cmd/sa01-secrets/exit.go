package main

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/backup"
	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Exit codes, documented in README.md.
const (
	ExitOK           = 0 // success
	ExitCheckFailed  = 1 // a check found something: scan findings, overdue rotation, failed verification, missed deadline
	ExitUsage        = 2 // bad flags or arguments
	ExitInvalidToken = 3 // a token does not decrypt under the loaded keys (wrong key, corrupted, expired)
	ExitNotFound     = 4 // no such secret, version, key or incident
	ExitConflict     = 5 // a check-and-set write lost, or another operation holds the lock
	ExitDenied       = 6 // not authenticated, or the policy denies it
	ExitUnavailable  = 7 // the store, the server or the audit sink cannot be reached
	ExitError        = 8 // any other error
	ExitTampered     = 9 // a secret's state does not match its state MAC: changed outside sa01-secrets
)

// classCodes are the exit codes of the fault classes.
var classCodes = map[fault.Class]int{fault.Usage: ExitUsage, fault.InvalidToken: ExitInvalidToken, fault.Denied: ExitDenied,
	fault.NotFound: ExitNotFound, fault.Conflict: ExitConflict, fault.Unavailable: ExitUnavailable, fault.CheckFailed: ExitCheckFailed,
	fault.Failed: ExitError}

// cliError carries an exit code and an optional hint to the edge.
type cliError struct {
	code int
	err  error
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

// usageError is a usage mistake with a hint.
func usageError(hint string, format string, a ...any) error {
	return &cliError{code: ExitUsage, err: fmt.Errorf(format, a...), hint: hint}
}

// withCode wraps err with an exit code and hint.
func withCode(code int, err error, hint string) error {
	if err == nil {
		return nil
	}
	return &cliError{code: code, err: err, hint: hint}
}

// checkFailed is returned by checks (status, verify, scan) that ran well and
// found something; their report is already printed, so the message may be "".
type checkFailed struct{ msg string }

func (e checkFailed) Error() string { return e.msg }

// coded finds the outermost error of err's chain that says its exit code
// and hint: a cliError, or a fault.Error of the packages.
func coded(err error) (code int, hint string, ok bool) {
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch c := e.(type) {
		case *cliError:
			return c.code, c.hint, true
		case *fault.Error:
			return classCodes[c.Class], c.Hint, true
		}
	}
	var ce *cliError
	var fe *fault.Error
	switch {
	case errors.As(err, &ce):
		return ce.code, ce.hint, true
	case errors.As(err, &fe):
		return classCodes[fe.Class], fe.Hint, true
	}
	return 0, "", false
}

// exitCodes map the packages' sentinels and error types to exit codes,
// the first match winning. Packages add theirs here and nowhere else.
var exitCodes = []struct {
	match func(error) bool
	code  int
}{
	{as[checkFailed], ExitCheckFailed},
	{is(fernet.ErrInvalidToken), ExitInvalidToken},
	{is(audit.ErrNotRecorded), ExitUnavailable},
	{as[*config.Error], ExitUsage},
	{is(secrets.ErrStateTampered), ExitTampered},
	{as[*backup.FormatError], ExitCheckFailed},
	{as[*backup.VersionError], ExitUnavailable},
	{is(store.ErrNotEmpty), ExitConflict},
	{is(backup.ErrNoKeys, fernet.ErrDuplicateKey), ExitUsage},
	{is(secrets.ErrKeyNotExpected), ExitInvalidToken},
	{is(secrets.ErrInvalid, secrets.ErrNoKeys), ExitUsage},
	{is(store.ErrNotFound, store.ErrDeleted, store.ErrDestroyed), ExitNotFound},
	{is(store.ErrConflict), ExitConflict},
	{is(store.ErrCompromised, policy.ErrDenied), ExitDenied},
	{is(store.ErrUnavailable, store.ErrNotWritable, store.ErrSchemaTooNew), ExitUnavailable},
}

func is(targets ...error) func(error) bool {
	return func(err error) bool {
		return slices.ContainsFunc(targets, func(t error) bool { return errors.Is(err, t) })
	}
}

func as[T error](err error) bool {
	var t T
	return errors.As(err, &t)
}

// exitCode maps an error to an exit code: its own (coded), else exitCodes'.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	if code, _, ok := coded(err); ok {
		return code
	}
	for _, c := range exitCodes {
		if c.match(err) {
			return c.code
		}
	}
	return ExitError
}

// hints are the hints of the packages' errors, the first match winning.
var hints = []struct {
	match func(error) bool
	hint  string
}{
	{is(secrets.ErrStateTampered), "the secret's row was changed in the database, not by sa01-secrets: run 'sa01-secrets verify', check the audit trail, and restore the row from a backup"},
	{is(store.ErrNotEmpty), "restore and migrate fill an empty store only: point SA01_SECRETS_DB_DSN (or the destination) at a new SQLite file or an empty database"},
	{as[*secrets.IntegrityError], "the stored row was altered or moved; restore it from a backup, or destroy the version and put a new one"},
	{is(fernet.ErrInvalidToken), "the data needs a key that is not loaded; check SA01_CRYPTO_FERNET_KEY and SA01_CRYPTO_FERNET_PREVIOUS_KEYS"},
	{is(secrets.ErrNoKeys, config.ErrNoKey), noKeyHint},
	{is(store.ErrDeleted), "restore it with 'sa01-secrets undelete NAME'"},
	{is(store.ErrConflict), "see the current version with 'sa01-secrets history NAME' and retry with --cas set to it"},
	{is(store.ErrCompromised), "this version is marked compromised and is never served; put a new value"},
}

// hintFor returns the hint of err, if any.
func hintFor(err error) string {
	if _, h, _ := coded(err); h != "" {
		return h
	}
	var h interface{ Hint() string } // the packages' errors that say their remedy
	if errors.As(err, &h) {
		return h.Hint()
	}
	for _, h := range hints {
		if h.match(err) {
			return h.hint
		}
	}
	return ""
}

// printError writes "sa01-secrets: msg" and a "hint:" line to w.
func printError(w io.Writer, err error) {
	var cf checkFailed
	if errors.As(err, &cf) && cf.msg == "" {
		return
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		// Errors from the public client already carry the program's name,
		// also when a verb wrapped one ("FILE: sa01-secrets: ...").
		line = strings.ReplaceAll(strings.TrimPrefix(line, "sa01-secrets: "), ": sa01-secrets: ", ": ")
		fmt.Fprintf(w, "sa01-secrets: %s\n", cli.Line(line))
	}
	if h := hintFor(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", cli.Line(h))
	}
}
