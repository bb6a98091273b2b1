package main

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/cli"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// The outermost error that says its exit code decides it, a package's
// fault as a cliError; a fault whose message reads like one of cobra's is
// not taken for a usage mistake.
func TestExitCodeAndHint(t *testing.T) {
	unavailable := fault.New(fault.Unavailable, errors.New("opening the store /x: invalid argument"), "check the store")
	for _, c := range []struct {
		err  error
		code int
		hint string
	}{
		{unavailable, ExitUnavailable, "check the store"},
		{withCode(ExitUsage, unavailable, "outer"), ExitUsage, "outer"},
		{fault.New(fault.Denied, withCode(ExitUsage, errors.New("x"), "inner"), ""), ExitDenied, ""},
		{fmt.Errorf("put: %w", store.ErrConflict), ExitConflict, "see the current version with 'sa01-secrets history NAME' and retry with --cas set to it"},
		{fault.New(fault.CheckFailed, errors.New("2 targets failed"), "see them"), ExitCheckFailed, "see them"},
		{fault.New(fault.Failed, errors.New("disk full"), "retry"), ExitError, "retry"},
		{errors.New("other"), ExitError, ""},
	} {
		if got := exitCode(c.err); got != c.code {
			t.Errorf("exitCode(%v) = %d, want %d", c.err, got, c.code)
		}
		if got := hintFor(c.err); got != c.hint {
			t.Errorf("hintFor(%v) = %q, want %q", c.err, got, c.hint)
		}
	}
	if _, _, ok := coded(unavailable); !ok { // run leaves an error that says its code to it
		t.Error("a fault is taken for a cobra usage error")
	}
	var out bytes.Buffer
	printError(&out, unavailable)
	if want := "sa01-secrets: opening the store /x: invalid argument\nhint: check the store\n"; out.String() != want {
		t.Errorf("printError:\n%s\nwant:\n%s", out.String(), want)
	}
	if exitCode(cli.Usage(errors.New(`unknown flag: --bogus`))) != ExitUsage || strings.Contains(out.String(), "help") {
		t.Error("cobra's own error is not recognised")
	}
}
