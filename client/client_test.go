package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/server/servertest"
	"github.com/somaagent01/sa01-secrets/internal/token"
)

const testPolicy = `services:
  gateway: {read: ["llm/*"], write: ["llm/*"]}
`

func start(t *testing.T) *servertest.Server {
	t.Helper()
	srv, err := servertest.Start(testPolicy, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-1"}); err != nil {
		t.Fatal(err)
	}
	return srv
}

func TestGetCacheAndPut(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	c, _ := New(srv.URL, WithCacheTTL(time.Hour))
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	s, err := c.Get(ctx, "llm/openai_api_key")
	if err != nil || s.Value() != "sk-1" {
		t.Fatalf("%v %v", s, err)
	}
	// a write elsewhere is not seen while cached
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-2"}); err != nil {
		t.Fatal(err)
	}
	if s, _ := c.Get(ctx, "llm/openai_api_key"); s.Value() != "sk-1" {
		t.Fatal("cache not used")
	}
	if s, _ := c.GetVersion(ctx, "llm/openai_api_key", 0); s.Value() != "sk-2" {
		t.Fatal("GetVersion used the cache")
	}
	// a write through the client drops the entry
	two := 2
	m, err := c.Put(ctx, "llm/openai_api_key", "sk-3", &two)
	if err != nil || m.Version != 3 {
		t.Fatalf("Put = %v, %v", m, err)
	}
	if s, _ := c.Get(ctx, "llm/openai_api_key"); s.Value() != "sk-3" {
		t.Fatal("stale after Put")
	}
	if _, err := c.Put(ctx, "llm/openai_api_key", "sk-4", &two); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale cas: %v", err)
	}
	h, err := c.History(ctx, "llm/openai_api_key")
	if err != nil || len(h) != 3 {
		t.Fatalf("History = %v, %v", h, err)
	}
	if s, _ := c.GetVersion(ctx, "llm/openai_api_key", 1); s.Value() != "sk-1" {
		t.Fatal("version 1")
	}
	if err := c.Delete(ctx, "llm/openai_api_key"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "llm/openai_api_key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after delete: %v", err)
	}
}

func TestReloginAfterRevocation(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	c, _ := New(srv.URL, WithCacheTTL(0))
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	first := c.Token()
	if _, err := srv.Tokens.RevokeService(ctx, "gateway"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "llm/openai_api_key"); err != nil {
		t.Fatalf("no re-login: %v", err)
	}
	if c.Token() == first {
		t.Fatal("same token after revocation")
	}
	// without the internal token there is no way back
	c2, _ := New(srv.URL, WithToken(c.Token()))
	if _, err := srv.Tokens.RevokeService(ctx, "gateway"); err != nil {
		t.Fatal(err)
	}
	if _, err := c2.Get(ctx, "llm/openai_api_key"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("revoked token: %v", err)
	}
}

func TestRenewAndRevoke(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	c, _ := New(srv.URL)
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	info, err := c.Renew(ctx)
	if err != nil || info.Service != "gateway" || !info.Renewable {
		t.Fatalf("Renew = %+v, %v", info, err)
	}
	if err := c.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.Revoke(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := srv.Tokens.Live(ctx); n != 0 {
		t.Fatalf("live tokens after Revoke: %d", n)
	}
}

func TestRefreshLogsInAtMaxTTL(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	c, _ := New(srv.URL)
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	first := c.Token()
	c.mu.Lock()
	c.info.Renewable = false // as at the max TTL
	c.mu.Unlock()
	if err := c.refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Token() == first {
		t.Fatal("did not log in again")
	}
}

func TestRenewWait(t *testing.T) {
	t.Parallel()
	now := time.Now()
	if w := renewWait(TokenInfo{ExpiresAt: now.Add(time.Hour)}, now); w != 40*time.Minute {
		t.Fatalf("wait %v", w)
	}
	if w := renewWait(TokenInfo{ExpiresAt: now.Add(-time.Hour)}, now); w != time.Second {
		t.Fatalf("wait %v", w)
	}
}

func TestSecretNeverPrintsValue(t *testing.T) {
	t.Parallel()
	v := "CANARY-VALUE"
	s := Secret{Name: "llm/k", Version: 2, value: &v}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("got", "secret", s)
	j, _ := json.Marshal(s)
	for _, out := range []string{fmt.Sprintf("%v %+v %#v %s %q %x %d", s, s, s, s, s, s, s), buf.String(), string(j)} {
		if strings.Contains(out, "CANARY") || strings.Contains(out, "43414e415259") {
			t.Fatalf("value printed: %s", out)
		}
	}
}

func TestNewRejectsBadAddr(t *testing.T) {
	t.Parallel()
	for _, a := range []string{"", "127.0.0.1:8200", "ftp://x", "http://user:pass@host"} {
		if _, err := New(a); err == nil {
			t.Errorf("New(%q) accepted", a)
		} else if strings.Contains(err.Error(), "pass") {
			t.Errorf("error holds the password: %v", err)
		}
	}
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	srv := start(t)
	url := srv.URL
	srv.Close()
	c, _ := New(url, WithToken("sa01s_x"))
	if _, err := c.Get(context.Background(), "llm/x"); !errors.Is(err, ErrUnavailable) || strings.Contains(err.Error(), "sa01s_x") {
		t.Fatalf("%v", err)
	}
}

// TestBackgroundRenewal: with a 2 s TTL and a 4 s max TTL, the client
// renews in the background and logs in again at the max TTL; reads keep
// working throughout without a 401 reaching the caller.
func TestBackgroundRenewal(t *testing.T) {
	t.Parallel()
	srv, err := servertest.StartWith(testPolicy, nil, token.Options{TTL: 2 * time.Second, MaxTTL: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Seed(map[string]string{"llm/openai_api_key": "sk-1"}); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, _ := New(srv.URL, WithCacheTTL(0))
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	first := c.Token()
	firstInfo, _ := c.Self(ctx)
	renewed := false
	deadline := time.Now().Add(time.Minute)
	for c.Token() == first && time.Now().Before(deadline) {
		if info, err := c.Self(ctx); err == nil && info.ExpiresAt.After(firstInfo.ExpiresAt) {
			renewed = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !renewed {
		t.Error("the token was never renewed in the background")
	}
	if c.Token() == first {
		t.Fatal("the client did not log in again at the max TTL")
	}
	if _, err := c.Get(ctx, "llm/openai_api_key"); err != nil {
		t.Fatalf("read after re-login: %v", err)
	}
}

// TestCredentialFile: the client reads its identity's credential from a
// 0600 file, refuses a file others may read, and FromEnv logs in with it.
func TestCredentialFile(t *testing.T) {
	srv := start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "gateway.cred")
	if err := os.WriteFile(path, []byte(srv.Credentials["gateway"]+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := New(srv.URL, WithCredentialFile(path)); err == nil || !strings.Contains(err.Error(), "group or others") || strings.Contains(err.Error(), srv.Credentials["gateway"][6:]) {
		t.Fatalf("a 0644 credential file: %v", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(EnvAddr, srv.URL)
	t.Setenv(EnvToken, "")
	t.Setenv(EnvCredentialFile, path)
	ctx := context.Background()
	c, err := FromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.Self(ctx)
	if err != nil || info.Identity != "gateway" || info.Kind != "service" {
		t.Fatalf("self: %+v, %v", info, err)
	}
	if s, err := c.Get(ctx, "llm/openai_api_key"); err != nil || s.Value() != "sk-1" {
		t.Fatalf("get: %v", err)
	}
	// a launcher's token wins over the file
	t.Setenv(EnvToken, c.Token())
	t.Setenv(EnvCredentialFile, filepath.Join(dir, "missing"))
	c2, err := FromEnv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := c2.Get(ctx, "llm/openai_api_key"); err != nil {
		t.Fatalf("get with the token: %v", err)
	}
	if err := os.WriteFile(path, []byte("not a credential"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCredentialFile(path); err == nil || strings.Contains(err.Error(), "not a credential") {
		t.Fatalf("garbage: %v", err)
	}
}
