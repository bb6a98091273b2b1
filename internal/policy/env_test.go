package policy

import (
	"strings"
	"testing"
)

// TestEnvMapAndPlatformKey: a service's entry maps variables to secrets it
// may read and may ask for the platform's key; both are checked at load.
func TestEnvMapAndPlatformKey(t *testing.T) {
	t.Parallel()
	p, err := Parse("p.yaml", []byte(`services:
  gateway:
    read: ["llm/*", "net/proxy"]
    env: {HTTPS_PROXY: net/proxy, https_proxy: llm/proxy_lower}
    platform_key: true
  worker: {read: ["llm/*"], platform_key: false}
`))
	if err != nil {
		t.Fatal(err)
	}
	m := p.EnvMap("gateway")
	if len(m) != 2 || m["HTTPS_PROXY"] != "net/proxy" || m["https_proxy"] != "llm/proxy_lower" {
		t.Fatalf("EnvMap = %v", m)
	}
	m["PATH"] = "llm/x" // a copy
	if len(p.EnvMap("gateway")) != 2 || p.EnvMap("worker") != nil || p.EnvMap("nobody") != nil {
		t.Fatal("EnvMap shares its map, or maps what no entry says")
	}
	if !p.PlatformKey("gateway") || p.PlatformKey("worker") || p.PlatformKey("nobody") || (*Policy)(nil).PlatformKey("gateway") {
		t.Fatal("PlatformKey")
	}
	if !p.Allowed("gateway", Read, "net/proxy") || p.Allowed("worker", Read, "net/proxy") {
		t.Fatal("env changes no access")
	}
	for _, c := range []struct{ yaml, want string }{
		{"services:\n  gw: {read: [\"llm/*\"], env: {HTTPS_PROXY: net/proxy}}\n", `p.yaml:2: service "gw": env: net/proxy is not among the secrets it may read`},
		{"services:\n  gw: {read: [\"llm/*\"], env: {X: \"llm/*\"}}\n", "want one secret's name, not a glob"},
		{"services:\n  gw: {read: [\"llm/*\"], env: {1X: llm/a}}\n", "is not an environment variable name"},
		{"services:\n  gw: {read: [\"llm/*\"], env: {A: llm/a, B: llm/a}}\n", "llm/a maps both A and B"},
		{"services:\n  gw: {read: [\"llm/*\"], env: [llm/a]}\n", "env: want a mapping"},
		{"services:\n  gw: {read: [\"llm/*\"], platform_key: yes please}\n", "platform_key: want true or false"},
		{"services:\n  gw: {read: [\"llm/*\"], env: {A: llm/a, A: llm/b}}\n", "duplicate key"},
	} {
		_, err := Parse("p.yaml", []byte(c.yaml))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: %v; want %q", c.yaml, err, c.want)
		}
	}
}
