package rotate_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/rotate"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// TestStatusListsCredentials: status lists credentials expiring within 14
// days as due, and expired ones as overdue (not compliant); a rotated or
// revoked identity's old credentials are not listed.
func TestStatusListsCredentials(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	now := time.Now().UTC()
	m := identity.NewManager(db, identity.Options{Now: func() time.Time { return now }})
	for name, life := range map[string]time.Duration{"soon": 10 * 24 * time.Hour, "later": 100 * 24 * time.Hour, "gone": time.Hour, "revoked": time.Hour} {
		if _, err := m.Add(ctx, name, identity.AddOptions{Kind: identity.Service, Lifetime: life}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := m.Revoke(ctx, "revoked"); err != nil {
		t.Fatal(err)
	}
	rep, err := rotate.Status(ctx, db, nil, now.Add(2*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Credentials) != 2 || rep.Credentials[0].Identity != "gone" || !rep.Credentials[0].Expired ||
		rep.Credentials[1].Identity != "soon" || rep.Credentials[1].Expired {
		t.Fatalf("credentials %+v", rep.Credentials)
	}
	if rep.Compliant || len(rep.Overdue) != 1 || !strings.Contains(rep.Overdue[0], "identity gone: credential cred_") {
		t.Fatalf("overdue %v", rep.Overdue)
	}
	if _, err := m.Rotate(ctx, "gone", 0); err != nil {
		t.Fatal(err)
	}
	rep, _ = rotate.Status(ctx, db, nil, now.Add(2*time.Hour))
	if !rep.Compliant || len(rep.Credentials) != 1 {
		t.Fatalf("after rotating gone: %+v %v", rep.Credentials, rep.Overdue)
	}
}
