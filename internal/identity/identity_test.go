package identity_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/identity"
	"github.com/somaagent01/sa01-secrets/internal/policy"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newManager(t *testing.T) (*identity.Manager, *clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	return identity.NewManager(db, identity.Options{Now: clk.now}), clk
}

func TestCredentialForm(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t)
	is, err := m.Add(context.Background(), "gateway", identity.AddOptions{Kind: identity.Service})
	if err != nil {
		t.Fatal(err)
	}
	c := is.Credential.Reveal()
	if len(c) != 6+43 || !strings.HasPrefix(c, "sa01c_") || identity.ParseCredential(c) != nil {
		t.Fatalf("credential form: %d chars", len(c))
	}
	if is.Record.Hash != identity.HashCredential(c) || !strings.HasPrefix(is.Record.ID, "cred_") || len(is.Record.ID) != 21 {
		t.Fatalf("record %+v", is.Record)
	}
	if got := is.Record.ExpiresAt.Sub(is.Record.CreatedAt); got != 180*24*time.Hour {
		t.Fatalf("lifetime %v", got)
	}
	// the credential prints as nothing
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		if strings.Contains(fmt.Sprintf(f, is), c[6:]) {
			t.Fatalf("%s prints the credential", f)
		}
	}
	for _, bad := range []string{"", "sa01c_", "sa01s_" + c[6:], c + "x", c[:48] + "!", " " + c} {
		if _, _, err := m.Authenticate(context.Background(), sensitive.New(bad)); !errors.Is(err, identity.ErrBadCredential) {
			t.Errorf("Authenticate(%.10q...) = %v", bad, err)
		}
	}
}

func TestAddValidates(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		o    identity.AddOptions
	}{
		{"Gateway", identity.AddOptions{Kind: identity.Service}},
		{"", identity.AddOptions{Kind: identity.Service}},
		{"-x", identity.AddOptions{Kind: identity.Service}},
		{strings.Repeat("a", 65), identity.AddOptions{Kind: identity.Service}},
		{"svc", identity.AddOptions{Kind: identity.Service, Role: identity.Admin}},
		{"op", identity.AddOptions{Kind: identity.Operator}},
		{"op", identity.AddOptions{Kind: identity.Operator, Role: "root"}},
		{"x", identity.AddOptions{Kind: "robot"}},
		{"x", identity.AddOptions{Kind: identity.Service, Lifetime: -time.Hour}},
		{"x", identity.AddOptions{Kind: identity.Service, Lifetime: 3 * 365 * 24 * time.Hour}},
	} {
		if _, err := m.Add(ctx, c.name, c.o); !errors.Is(err, identity.ErrInvalid) {
			t.Errorf("Add(%q, %+v) = %v; want ErrInvalid", c.name, c.o, err)
		}
	}
	if ids, _ := m.List(ctx); len(ids) != 0 {
		t.Fatalf("invalid adds stored %v", ids)
	}
	if _, err := m.Add(ctx, "alice", identity.AddOptions{Kind: identity.Operator, Role: identity.Auditor}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Add(ctx, "alice", identity.AddOptions{Kind: identity.Service}); !errors.Is(err, identity.ErrExists) {
		t.Fatalf("second alice: %v", err)
	}
}

// TestCredentialLifecycle: live, rotated in grace, rotated after grace,
// expired and revoked credentials.
func TestCredentialLifecycle(t *testing.T) {
	t.Parallel()
	m, clk := newManager(t)
	ctx := context.Background()
	auth := func(c sensitive.String) (identity.Identity, error) {
		id, _, err := m.Authenticate(ctx, c)
		return id, err
	}
	a, err := m.Add(ctx, "gateway", identity.AddOptions{Kind: identity.Service})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := auth(a.Credential); err != nil || id.Name != "gateway" || id.Kind != identity.Service {
		t.Fatalf("live: %+v, %v", id, err)
	}
	b, err := m.Rotate(ctx, "gateway", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	clk.add(2*time.Hour - time.Second)
	for _, c := range []sensitive.String{a.Credential, b.Credential} {
		if _, err := auth(c); err != nil {
			t.Fatalf("in grace: %v", err)
		}
	}
	clk.add(time.Second)
	if _, err := auth(a.Credential); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("rotated after grace: %v", err)
	}
	if _, err := auth(b.Credential); err != nil {
		t.Fatalf("new credential: %v", err)
	}
	// a rotation with no grace ends the previous credential at once
	c, err := m.Rotate(ctx, "gateway", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := auth(b.Credential); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("rotated without grace: %v", err)
	}
	// due: within 14 days of expiry; only the newest credential counts
	if due, _ := m.Due(ctx, identity.DueWindow); len(due) != 0 {
		t.Fatalf("due too early: %+v", due)
	}
	clk.add(identity.DefaultLifetime - identity.DueWindow + time.Minute)
	due, err := m.Due(ctx, identity.DueWindow)
	if err != nil || len(due) != 1 || due[0].ID != c.Record.ID {
		t.Fatalf("due: %+v, %v", due, err)
	}
	clk.add(identity.DueWindow)
	if _, err := auth(c.Credential); !errors.Is(err, identity.ErrExpired) {
		t.Fatalf("expired: %v", err)
	}
	if due, _ := m.Due(ctx, identity.DueWindow); len(due) != 1 {
		t.Fatalf("an expired credential is not listed as due: %+v", due)
	}
	d, err := m.Rotate(ctx, "gateway", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if n, err := m.Revoke(ctx, "gateway"); err != nil || n != 0 {
		t.Fatalf("revoke: %d, %v", n, err)
	}
	if _, err := auth(d.Credential); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("revoked: %v", err)
	}
	if _, err := m.Rotate(ctx, "gateway", 0); !errors.Is(err, identity.ErrRevoked) {
		t.Fatalf("rotate a revoked identity: %v", err)
	}
	if due, _ := m.Due(ctx, identity.DueWindow); len(due) != 0 {
		t.Fatalf("a revoked identity is due: %+v", due)
	}
	if _, err := m.Revoke(ctx, "nobody"); !errors.Is(err, identity.ErrNotFound) {
		t.Fatalf("revoke nobody: %v", err)
	}
}

const tablePolicy = `services:
  gateway:  {read: ["llm/*", "db/gateway/*"]}
  deployer: {list: ["**"], write: ["app/**"]}
`

// TestDecideTable: each identity × each action × each secret.
func TestDecideTable(t *testing.T) {
	t.Parallel()
	p, err := policy.Parse("p.yaml", []byte(tablePolicy))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]identity.Identity{
		"gateway":   {Name: "gateway", Kind: identity.Service},
		"deployer":  {Name: "deployer", Kind: identity.Service},
		"stranger":  {Name: "stranger", Kind: identity.Service}, // not in the policy
		"admin":     {Name: "admin", Kind: identity.Operator, Role: identity.Admin},
		"auditor":   {Name: "alice", Kind: identity.Operator, Role: identity.Auditor},
		"responder": {Name: "rita", Kind: identity.Operator, Role: identity.Responder},
		"revoked":   {Name: "old", Kind: identity.Operator, Role: identity.Admin, RevokedAt: time.Unix(1, 0)},
	}
	secrets := []string{"llm/openai_api_key", "db/gateway/password", "app/web/token"}
	// want[identity] is the set of "action secret" allowed; "action *"
	// allows every secret; "~action" means only under incident.
	want := map[string][]string{
		"gateway": {"read llm/openai_api_key", "read db/gateway/password", "list llm/openai_api_key", "list db/gateway/password",
			"history llm/openai_api_key", "history db/gateway/password"},
		"deployer":  {"list *", "write app/web/token", "delete app/web/token", "destroy app/web/token"}, // destroy needs what a write needs
		"admin":     {"* *"},
		"auditor":   {"list *", "history *", "audit *", "status *", "keys *", "incident-read *", "explain *"},
		"responder": {"list *", "history *", "status *", "incident-open *", "incident-read *", "~rotate *"},
	}
	for who, id := range ids {
		for _, a := range identity.Actions {
			for _, sec := range secrets {
				allowed, under := false, false
				for _, w := range want[who] {
					wa, ws, _ := strings.Cut(w, " ")
					cond := strings.HasPrefix(wa, "~")
					wa = strings.TrimPrefix(wa, "~")
					if (wa == "*" || wa == string(a)) && (ws == "*" || ws == sec) {
						allowed, under = true, cond
					}
				}
				d := identity.Decide(id, a, sec, p)
				if d.Allowed != allowed || d.UnderIncident != under || d.Rule == "" {
					t.Errorf("%s %s %s: %+v; want allowed %v, under incident %v", who, a, sec, d, allowed, under)
				}
			}
		}
	}
	// no operator but admin ever reads a value, whatever secret
	for _, r := range []identity.Role{identity.Auditor, identity.Responder} {
		d := identity.Decide(identity.Identity{Name: "x", Kind: identity.Operator, Role: r}, identity.Read, "llm/openai_api_key", p)
		if d.Allowed || !strings.Contains(d.Rule, "never a value") {
			t.Errorf("%s read: %+v", r, d)
		}
	}
}
