package console_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/targets"
	"github.com/somaagent01/sa01-secrets/internal/targets/targetstest"
)

// TestConsoleKeysPageTargets: the keys page shows, from the background
// check's last reading, how many tokens a real Redis target holds under
// each key, refuses "may be retired" while a target holds a token under
// the key (the rule of `key retire`), says so again once the target is
// re-encrypted, and never shows a token, a stored value or a connection
// string's password.
func TestConsoleKeysPageTargets(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	redisURL, rc, prefix := targetstest.Redis(t)

	// An old key, decrypt-only and past its retention, that no stored
	// version uses: the store alone would let it be retired.
	old := fernet.GenerateKey()
	past := h.clock.now().Add(-time.Hour)
	if err := h.b.DB.PutKey(ctx, store.KeyInfo{ID: old.ID(), State: store.KeyDecryptOnly, CreatedAt: past.Add(-100 * 24 * time.Hour),
		ActivatedAt: past.Add(-100 * 24 * time.Hour), DeactivatedAt: past.Add(-31 * 24 * time.Hour), RetainUntil: past}); err != nil {
		t.Fatal(err)
	}
	hash := prefix + "gateway:secrets"
	tokens := []string{string(old.Encrypt([]byte("sk-target-CANARY-1"))), string(old.Encrypt([]byte("sk-target-CANARY-2")))}
	if err := rc.HSet(ctx, hash, "provider:a", tokens[0], "provider:b", tokens[1]).Err(); err != nil {
		t.Fatal(err)
	}
	ring, err := fernet.NewRing(h.b.Ring.Primary(), old)
	if err != nil {
		t.Fatal(err)
	}
	const dsnPassword = "pg-CANARY-dsn-password-5e1f"
	conns := map[string]string{
		"platform/redis_url": redisURL,
		// unreachable: its error must not carry the password
		"platform/pg_dsn": "postgres://gateway:" + dsnPassword + "@127.0.0.1:1/gateway?sslmode=disable&connect_timeout=2",
	}
	w := &targets.Watch{Every: time.Hour, Runner: &targets.Runner{Ring: ring, Now: h.clock.now,
		Resolve: func(_ context.Context, name string) (sensitive.String, error) { return sensitive.New(conns[name]), nil }},
		List: []targets.Target{
			{Name: "gateway-hash", Kind: targets.KindRedisHash, Secret: "platform/redis_url", Hash: hash, Where: "redis hash " + hash},
			{Name: "gateway-db", Kind: targets.KindPostgres, Secret: "platform/pg_dsn", Table: "provider_keys", Column: "token", KeyCol: "id", Where: "postgres provider_keys.token"},
		}}
	h.b.SetTargets(w.Last)

	u := h.as(responder)
	body := u.get("/ui/keys").body
	if !strings.Contains(body, "The targets have not been checked yet") || !strings.HasSuffix(keyRow(body, old.ID()), "<td>no: the targets have not been checked yet</td>") {
		t.Errorf("before the first check the page does not say so:\n%s", section(body, "keyring"))
	}

	// A target that cannot be read blocks the retirement, as `key retire`
	// refuses; its error names it without the DSN's password.
	w.Read(ctx)
	body = u.get("/ui/keys").body
	if !strings.Contains(section(body, "targets"), "<strong>target gateway-db: reading the table&#39;s columns: failed to connect") ||
		!strings.Contains(keyRow(body, old.ID()), "<td>no: cannot check the targets: target gateway-db") {
		t.Errorf("the unreadable target does not block:\n%s\n%s", keyRow(body, old.ID()), section(body, "targets"))
	}
	noSecrets(t, h, body, append(tokens, dsnPassword, "sk-target-CANARY"))

	w.List = w.List[:1]
	w.Read(ctx)
	body = u.get("/ui/keys").body
	for _, want := range []string{"gateway-hash", "redis hash " + hash, "<code>" + old.ID() + "</code>: 2", "Checked at 2026-11-02",
		"<td>no: target gateway-hash holds 2 tokens under it; run &#39;reencrypt --targets&#39; first</td>"} {
		if !strings.Contains(body, want) {
			t.Errorf("keys page lacks %q:\n%s", want, body)
		}
	}
	if row := keyRow(body, old.ID()); !strings.Contains(row, `<td class="num">2</td>`) {
		t.Errorf("the key's row does not count the targets' tokens: %s", row)
	}
	noSecrets(t, h, body, append(tokens, dsnPassword, "sk-target-CANARY"))

	// With the hash re-encrypted, the key
	// may be retired.
	w.List = w.List[:1]
	if err := rc.HSet(ctx, hash, "provider:a", h.b.Ring.Primary().Encrypt([]byte("a")), "provider:b", h.b.Ring.Primary().Encrypt([]byte("b"))).Err(); err != nil {
		t.Fatal(err)
	}
	w.Read(ctx)
	body = u.get("/ui/keys").body
	if row := keyRow(body, old.ID()); !strings.HasSuffix(row, "<td>yes</td>") || !strings.Contains(row, `<td class="num">0</td>`) {
		t.Errorf("the re-encrypted key is still refused:\n%s", body)
	}
}

// keyRow returns the key ring's row of key id, up to its last cell.
func keyRow(body, id string) string {
	i := strings.Index(body, "<td><code>"+id+"</code>")
	if i < 0 {
		return ""
	}
	j := strings.Index(body[i:], "</tr>")
	return strings.TrimSpace(body[i : i+j])
}

// section returns the element of the page with the given id, roughly.
func section(body, id string) string {
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		return body
	}
	return body[i:min(len(body), i+3000)]
}

// noSecrets fails if body holds a stored value or any of extra.
func noSecrets(t *testing.T, h *harness, body string, extra []string) {
	t.Helper()
	for _, v := range append(h.allValues(), extra...) {
		if strings.Contains(body, v) {
			t.Errorf("the keys page contains a secret (%d bytes)", len(v))
		}
	}
}
