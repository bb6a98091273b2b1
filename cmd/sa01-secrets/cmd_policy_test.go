package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/opa/opatest"
)

const cmdTestPolicy = `services:
  gateway: {read: ["llm/*"]}
  deployer: {write: ["app/**"]}
`

func policyEnv(t *testing.T) map[string]string {
	t.Helper()
	dir := t.TempDir()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte(cmdTestPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	env := keyEnv(fernet.GenerateKey())
	env["HOME"] = dir
	env[config.EnvDBDSN] = "sqlite://" + filepath.Join(dir, "secrets.db")
	env[config.EnvPolicyFile] = pol
	env[config.EnvCredentialFile] = initStore(t, func(k string) string { return env[k] }) // admin's
	return env
}

func TestPolicyExportRego(t *testing.T) {
	env := policyEnv(t)
	r := basicRun(t, env, "", "policy", "export-rego").want(t, ExitOK)
	if !strings.Contains(r.stdout, "package sa01.secrets") || !strings.Contains(r.stdout, `{"glob": "llm/*", "line": 2`) {
		t.Fatalf("module:\n%s", r.stdout)
	}
	out := filepath.Join(t.TempDir(), "sa01.rego")
	basicRun(t, env, "", "policy", "export-rego", "--out", out).want(t, ExitOK)
	b, err := os.ReadFile(out)
	if err != nil || string(b) != r.stdout {
		t.Fatalf("--out wrote %q (%v)", b, err)
	}
	delete(env, config.EnvPolicyFile)
	basicRun(t, env, "", "policy", "export-rego").want(t, ExitUsage)
}

func TestPolicyExplainLocal(t *testing.T) {
	env := policyEnv(t)
	r := basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/openai_api_key").want(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "allowed: ") || !strings.Contains(r.stdout, "policy.yaml:2: gateway read llm/*") {
		t.Fatalf("%q", r.stdout)
	}
	r = basicRun(t, env, "", "policy", "explain", "gateway", "write", "llm/openai_api_key").want(t, ExitDenied)
	if r.stdout != "denied: no rule of the YAML policy grants it\n" {
		t.Fatalf("%q", r.stdout)
	}
	basicRun(t, env, "", "policy", "explain", "gateway", "delete", "llm/x").want(t, ExitUsage)
}

// serve with OPA, its URL read from a secret in the store; explain through
// the server and here agree.
func TestServeWithOPA(t *testing.T) {
	srv := opatest.Start(t, map[string]string{"sa01.rego": `package sa01.secrets

default allow := false

allow if {
	input.identity.name == "gateway"
	input.secret.name != "llm/anthropic_api_key"
}
`})
	env := policyEnv(t)
	basicRun(t, env, srv.URL, "put", "platform/opa_url").want(t, ExitOK)
	basicRun(t, env, "sk-CANARY", "put", "llm/openai_api_key").want(t, ExitOK)
	basicRun(t, env, "sk-CANARY", "put", "llm/anthropic_api_key").want(t, ExitOK)
	env[config.EnvOPAURLSecret] = "platform/opa_url"
	env[config.EnvOPACacheTTL] = "0" // every decision asks OPA
	env[config.EnvOPATimeout] = "5s" // a loaded machine (CI, -race) is slower than the default 100 ms

	// here
	r := basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/anthropic_api_key").want(t, ExitDenied)
	if !strings.HasPrefix(r.stdout, "denied: ") || !strings.Contains(r.stdout, "policy.yaml:2: gateway read llm/*; OPA denied (decision ") {
		t.Fatalf("%q", r.stdout)
	}

	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	code, m := getJSON(t, http.DefaultClient, "GET", s.addr+"/v1/sys/health", "", "")
	if code != 200 || m["checks"].(map[string]any)["opa"] != "ok" {
		t.Fatalf("health: %d %v", code, m)
	}
	gwCred := filepath.Join(t.TempDir(), "gateway.credential")
	basicRun(t, env, "", "identity", "add", "gateway", "--service", "--credential-file", gwCred).want(t, ExitOK)
	env[config.EnvSecretsAddr] = s.addr
	gw := map[string]string{}
	for k, v := range env {
		gw[k] = v
	}
	gw[config.EnvCredentialFile] = gwCred
	basicRun(t, gw, "", "get", "llm/openai_api_key").want(t, ExitOK)
	basicRun(t, gw, "", "get", "llm/anthropic_api_key").want(t, ExitDenied)
	// explain is an admin's or an auditor's, never a service's
	basicRun(t, gw, "", "policy", "explain", "gateway", "read", "llm/openai_api_key").want(t, ExitDenied)
	// the role table first: an admin may read, OPA (names only the gateway) denies
	r = basicRun(t, env, "", "policy", "explain", "--kind", "operator", "--role", "admin", "root", "read", "llm/openai_api_key").want(t, ExitDenied)
	if !strings.HasPrefix(r.stdout, "denied: role admin: everything; OPA denied (decision ") {
		t.Fatalf("%q", r.stdout)
	}
	r = basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/openai_api_key").want(t, ExitOK)
	if !strings.HasPrefix(r.stdout, "allowed: ") || !strings.Contains(r.stdout, "; OPA allowed (decision ") {
		t.Fatalf("%q", r.stdout)
	}
	srv.Stop()
	// OPA down: explain says so and exits as the refused access does (7),
	// and the refused read's hint points at the server's dependencies,
	// not at a server that is not running.
	r = basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/openai_api_key").want(t, ExitUnavailable)
	if !strings.Contains(r.stdout, "OPA unavailable") {
		t.Fatalf("%q", r.stdout)
	}
	r = basicRun(t, gw, "", "get", "llm/openai_api_key").want(t, ExitUnavailable)
	if !strings.Contains(r.stderr, "/v1/sys/health") || strings.Contains(r.stderr, "running?") {
		t.Fatalf("hint of a 503: %q", r.stderr)
	}
	if strings.Contains(s.stderr.String(), "CANARY") {
		t.Fatalf("serve logged a value:\n%s", s.stderr)
	}
}

// OPA's URL from a secret: a missing secret is not found (4), a URL that
// is not one names the secret, not SA01_SECRETS_OPA_URL, and never the
// value.
func TestOPAURLSecretErrors(t *testing.T) {
	env := policyEnv(t)
	env[config.EnvOPAURLSecret] = "platform/opa_url"
	basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/x").want(t, ExitNotFound)
	basicRun(t, env, "ftp://CANARY-host/", "put", "platform/opa_url").want(t, ExitOK)
	r := basicRun(t, env, "", "policy", "explain", "gateway", "read", "llm/x").want(t, ExitUsage)
	if !strings.Contains(r.stderr, "platform/opa_url") || strings.Contains(r.stderr, "CANARY") {
		t.Fatalf("%q", r.stderr)
	}
}
