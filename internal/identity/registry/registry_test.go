package registry

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/client"
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
