package inject

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

func TestFlagsOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    Flags
		msg  string
	}{
		{"bad glob", Flags{Only: []string{"a/***"}}, "--only: "},
		{"short interval", Flags{Watch: true, Interval: time.Millisecond}, "--watch-interval: want at least 1s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Options(Options{})
			var fe *fault.Error
			if !errors.As(err, &fe) || fe.Class != fault.Usage || !strings.HasPrefix(err.Error(), tc.msg) {
				t.Fatalf("err = %v, want a usage fault starting %q", err, tc.msg)
			}
		})
	}
	o, err := Flags{Service: "gw", Only: []string{"db/*"}, Pristine: true, Watch: true, Interval: 2 * time.Second}.Options(Options{Environ: []string{"A=1"}})
	if err != nil || o.Service != "gw" || len(o.Only) != 1 || !o.Pristine || o.Watch != 2*time.Second || len(o.Environ) != 1 {
		t.Fatalf("Options = %+v, %v", o, err)
	}
	if o, _ := (Flags{Interval: time.Millisecond}).Options(Options{}); o.Watch != 0 {
		t.Fatalf("without Watch the interval is not checked or used: %v", o.Watch)
	}
}

func TestLaunchNotFound(t *testing.T) {
	opened := false
	_, err := Launch(context.Background(), func() (Session, error) { opened = true; return nil, nil }, []string{"sa01-no-such-command"}, Options{}, false)
	var se *StartError
	if !errors.As(err, &se) || se.Code() != 127 || err.Error() != "sa01-no-such-command: command not found" || opened {
		t.Fatalf("err = %v (opened %v), want a StartError with code 127 before the source is opened", err, opened)
	}
}
