package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
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

// exitCode maps an error to an exit code. Packages add their sentinels here
// and nowhere else.
func exitCode(err error) int {
	var ce *cliError
	var cf checkFailed
	var cfgErr *config.Error
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ce):
		return ce.code
	case errors.As(err, &cf):
		return ExitCheckFailed
	case errors.Is(err, fernet.ErrInvalidToken):
		return ExitInvalidToken
	case errors.Is(err, audit.ErrNotRecorded):
		return ExitUnavailable
	case errors.As(err, &cfgErr):
		return ExitUsage
	}
	if c := extraExitCode(err); c != 0 {
		return c
	}
	return ExitError
}

// hintFor returns the hint of err, if any.
func hintFor(err error) string {
	var ce *cliError
	if errors.As(err, &ce) && ce.hint != "" {
		return ce.hint
	}
	return extraHint(err)
}

// printError writes "sa01-secrets: msg" and a "hint:" line to w.
func printError(w io.Writer, err error) {
	var cf checkFailed
	if errors.As(err, &cf) && cf.msg == "" {
		return
	}
	msg := err.Error()
	for _, line := range strings.Split(msg, "\n") {
		// Errors from the public client already carry the program's name.
		line = strings.TrimPrefix(line, "sa01-secrets: ")
		fmt.Fprintf(w, "sa01-secrets: %s\n", line)
	}
	if h := hintFor(err); h != "" {
		fmt.Fprintf(w, "hint: %s\n", h)
	}
}
