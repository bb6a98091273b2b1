package registry

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/identity"
)

func TestWriteTableShowsNewestUnrevokedCredential(t *testing.T) {
	exp := time.Date(2027, 3, 1, 0, 0, 0, 0, time.UTC)
	revoked := exp
	ids := []client.Identity{
		{Name: "gateway", Kind: "service", Credentials: []client.CredentialInfo{
			{ID: "cred_old", ExpiresAt: exp.AddDate(0, -1, 0), State: "live"},
			{ID: "cred_new", ExpiresAt: exp, State: "due"},
			{ID: "cred_gone", ExpiresAt: exp, State: "revoked"},
		}},
		{Name: "alice", Kind: "operator", Role: "admin", RevokedAt: &revoked},
	}
	var b bytes.Buffer
	if err := WriteTable(&b, ids); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table:\n%s", b.String())
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "gateway service - live cred_new (due) 2027-03-01" {
		t.Errorf("gateway row = %q", lines[1])
	}
	if f := strings.Fields(lines[2]); strings.Join(f, " ") != "alice operator admin revoked - -" {
		t.Errorf("alice row = %q", lines[2])
	}
}

func TestFaultClasses(t *testing.T) {
	for _, tc := range []struct {
		err   error
		class fault.Class
	}{
		{fmt.Errorf("%w: role", identity.ErrInvalid), fault.Usage},
		{identity.ErrExists, fault.Conflict},
		{identity.ErrNotFound, fault.NotFound},
		{identity.ErrRevoked, fault.Conflict},
		{audit.ErrNotRecorded, fault.Unavailable},
	} {
		var fe *fault.Error
		if err := Fault(tc.err); !errors.As(err, &fe) || fe.Class != tc.class || !errors.Is(err, tc.err) {
			t.Errorf("Fault(%v) = %#v, want class %d wrapping it", tc.err, err, tc.class)
		}
	}
	other := errors.New("other")
	if Fault(other) != other || Fault(nil) != nil {
		t.Error("Fault changed an error that is not the identity verbs'")
	}
}
