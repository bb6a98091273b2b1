package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type serving struct {
	addr   string
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

// startServe runs serve in the background until stop is called.
func startServe(t *testing.T, env map[string]string, o serveOptions) *serving {
	t.Helper()
	s := &serving{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	g := &globals{stdin: strings.NewReader(""), stdout: s.stdout, stderr: s.stderr, getenv: func(k string) string { return env[k] }}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	o.Ready = func(addr string) { ready <- addr }
	errc := make(chan error, 1)
	go func() { errc <- runServe(ctx, g, o) }()
	select {
	case s.addr = <-ready:
	case err := <-errc:
		cancel()
		t.Fatalf("serve: %v\n%s", err, s.stderr)
	}
	var once sync.Once
	var stopErr error
	s.stop = func() error { // may be called again (a deferred stop after one in the test)
		once.Do(func() { cancel(); stopErr = <-errc })
		return stopErr
	}
	return s
}

func getJSON(t *testing.T, c *http.Client, method, url, bearer string, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return res.StatusCode, m
}

func TestServeDev(t *testing.T) {
	s := startServe(t, map[string]string{"HOME": t.TempDir()}, serveOptions{Dev: true, Listen: "127.0.0.1:0"})
	out := s.stdout.String()
	for _, want := range []string{"keeps NOTHING", "Address:  " + s.addr, "admin:    sa01c_", "demo:     sa01c_", "export SA01_SECRETS_ADDR=" + s.addr,
		"export SA01_SECRETS_CREDENTIAL_FILE=", "sa01-secrets put demo/openai_api_key", "sa01-secrets get demo/openai_api_key", "sa01-secrets run --service demo"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	adminFile := regexp.MustCompile(`export SA01_SECRETS_CREDENTIAL_FILE=(\S+)`).FindStringSubmatch(out)[1]
	demoFile := filepath.Join(filepath.Dir(adminFile), "demo.credential")
	for _, f := range []string{adminFile, demoFile} {
		if fi, err := os.Stat(f); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("credential file %s: %v", f, err)
		}
	}
	dir := filepath.Dir(regexp.MustCompile(`Store:\s+(\S+)`).FindStringSubmatch(out)[1])
	if _, err := os.Stat(dir); err != nil {
		t.Fatal(err)
	}
	code, m := getJSON(t, http.DefaultClient, "GET", s.addr+"/v1/sys/health", "", "")
	if code != 200 || m["auth_required"] != true {
		t.Fatalf("health: %d %v", code, m)
	}

	// the CLI verbs against it, as the banner says
	env := map[string]string{"SA01_SECRETS_ADDR": s.addr, "SA01_SECRETS_CREDENTIAL_FILE": adminFile, "HOME": t.TempDir()}
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	if r := cli("sk-demo-DEVCANARY", "put", "demo/openai_api_key"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	if r := cli("", "get", "demo/openai_api_key"); r.code != 0 || strings.TrimSpace(r.stdout) != "sk-demo-DEVCANARY" {
		t.Fatalf("get: %d %q %s", r.code, r.stdout, r.stderr)
	}
	// Through the server, list shows the class and history the key ID, as
	// they do on the local store.
	if r := cli("", "list"); r.code != 0 || !regexp.MustCompile(`demo/openai_api_key\s+1\s+config\s`).MatchString(r.stdout) {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "history", "demo/openai_api_key"); r.code != 0 || !regexp.MustCompile(`operator:admin\s+[0-9a-f]{12}\s`).MatchString(r.stdout) {
		t.Fatalf("history: %d %s %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("", "get", "demo/nothing"); r.code != ExitNotFound || strings.Contains(r.stderr, "sa01-secrets: sa01-secrets:") {
		t.Fatalf("get missing: %d %s", r.code, r.stderr)
	}
	env["SA01_SECRETS_CREDENTIAL_FILE"] = demoFile // export --service demo logs in as demo
	if r := cli("", "export", "--service", "demo", "--format", "dotenv"); r.code != 0 || r.stdout != "OPENAI_API_KEY=\"sk-demo-DEVCANARY\"\n" {
		t.Fatalf("export --service: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := cli("x", "put", "demo/other"); r.code != ExitDenied {
		t.Fatalf("demo may not write: %d %s", r.code, r.stderr)
	}
	if r := cli("", "identity", "list"); r.code != ExitDenied {
		t.Fatalf("demo may not list identities: %d %s", r.code, r.stderr)
	}
	if r := cli("", "rollback", "demo/openai_api_key", "--to", "1"); r.code != ExitDenied {
		t.Fatalf("demo may not roll back: %d %s", r.code, r.stderr)
	}
	if r := cli("", "login", "--identity", "admin"); r.code != ExitDenied || strings.Contains(r.stdout, "sa01s_") {
		t.Fatalf("demo logged in as admin: %d %s", r.code, r.stdout)
	}
	lt := cli("", "login", "--credential-file", demoFile)
	if lt.code != 0 || !strings.HasPrefix(lt.stdout, "sa01s_") {
		t.Fatalf("login: %d %s", lt.code, lt.stderr)
	}
	env["SA01_SECRETS_TOKEN"] = strings.TrimSpace(lt.stdout)
	delete(env, "SA01_SECRETS_CREDENTIAL_FILE")
	if r := cli("", "get", "demo/openai_api_key"); r.code != 0 {
		t.Fatalf("get with SA01_SECRETS_TOKEN: %d %s", r.code, r.stderr)
	}

	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dev directory left behind: %v", err)
	}
	for _, leak := range []string{"DEVCANARY"} {
		if strings.Contains(s.stderr.String(), leak) {
			t.Errorf("server log holds a value")
		}
	}
}

func TestServeRefusesPlainHTTPOffLoopback(t *testing.T) {
	t.Parallel()
	var o, e bytes.Buffer
	env := map[string]string{"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(), "HOME": t.TempDir()}
	initStore(t, func(k string) string { return env[k] })
	code := run(context.Background(), []string{"serve", "--listen", "0.0.0.0:0"}, nil, &o, &e, func(k string) string { return env[k] })
	if code != ExitUsage || !strings.Contains(e.String(), "not a loopback address") || !strings.Contains(e.String(), "hint:") {
		t.Fatalf("code %d: %s", code, e.String())
	}
	code = run(context.Background(), []string{"serve", "--tls-cert", "x.pem"}, nil, &o, &e, func(k string) string { return env[k] })
	if code != ExitUsage {
		t.Fatalf("cert without key: %d", code)
	}
}

func TestServeInsecureListenWarns(t *testing.T) {
	env, _ := serveEnv(t, t.TempDir())
	s := startServe(t, env, serveOptions{Listen: "0.0.0.0:0", InsecureListen: true})
	defer s.stop()
	if !strings.Contains(s.stderr.String(), "WARNING: plain HTTP") {
		t.Fatalf("no loud warning: %s", s.stderr)
	}
}

// TestServeIgnoresPlatformAuthVariables: the platform's
// SA01_AUTH_REQUIRED=false and SA01_AUTH_INTERNAL_TOKEN change nothing:
// authentication is on, and the platform's token logs in as nobody.
func TestServeIgnoresPlatformAuthVariables(t *testing.T) {
	env, _ := serveEnv(t, t.TempDir())
	env["SA01_AUTH_REQUIRED"] = "false"
	env["SA01_AUTH_INTERNAL_TOKEN"] = "platform-internal-token"
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	if strings.Contains(s.stderr.String(), "authentication is disabled") {
		t.Fatalf("auth off: %s", s.stderr)
	}
	if code, _ := getJSON(t, http.DefaultClient, "GET", s.addr+"/v1/secrets", "", ""); code != 401 {
		t.Fatalf("no token: %d", code)
	}
	for _, body := range []string{`{"service":"admin"}`, `{"service":"gateway"}`, ``} {
		if code, m := getJSON(t, http.DefaultClient, "POST", s.addr+"/v1/auth/login", "platform-internal-token", body); code != 401 || m["token"] != nil {
			t.Fatalf("login with the platform's token %s: %d %v", body, code, m)
		}
	}
}

// TestNoVerbButInitCreatesAStore: on a missing store every verb says
// init makes one, exits 7 and leaves no file; init makes it once.
func TestNoVerbButInitCreatesAStore(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "s.db")
	env := map[string]string{"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(), "SA01_SECRETS_DB_DSN": "sqlite://" + db, "HOME": dir}
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	for _, args := range [][]string{{"list"}, {"get", "a"}, {"put", "a"}, {"audit", "query", "--since", "1h"}, {"status"}, {"key", "list"}, {"identity", "list"}, {"incident", "status"}} {
		r := cli("v", args...)
		if r.code != ExitUnavailable || !strings.Contains(r.stderr, "no store at "+db+" (sa01-secrets init creates one)") {
			t.Errorf("%v on a missing store: %d %s", args, r.code, r.stderr)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Fatalf("%v left a store behind", args)
		}
	}
	cred := filepath.Join(dir, "admin.credential")
	r := cli("", "init", "--credential-file", cred)
	if r.code != 0 || r.stdout != "" || strings.Contains(r.stderr, "sa01c_") {
		t.Fatalf("init: %d %q %s", r.code, r.stdout, r.stderr)
	}
	if fi, err := os.Stat(cred); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("credential file: %v", err)
	}
	if r := cli("", "init"); r.code != ExitConflict || !strings.Contains(r.stderr, "initialized") {
		t.Fatalf("second init: %d %s", r.code, r.stderr)
	}
	if r := cli("v", "put", "a"); r.code != 0 {
		t.Fatalf("put after init: %d %s", r.code, r.stderr)
	}
	// local use is audited as the operating-system user
	r = cli("", "audit", "query", "--format", "json")
	if r.code != 0 || strings.Count(r.stdout, `"actor": "local:`) != 3 { // init, the seal of states, put
		t.Fatalf("audit: %d %s", r.code, r.stdout)
	}
}

// TestIdentityVerbs: add, list, rotate with grace, revoke, locally and
// through the server; the credential is shown once and never listed.
func TestIdentityVerbs(t *testing.T) {
	dir := t.TempDir()
	env, admin := serveEnv(t, dir)
	env["HOME"] = dir
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	r := cli("", "identity", "add", "alice", "--operator", "--role", "auditor")
	alice := strings.TrimSpace(r.stdout)
	if r.code != 0 || !strings.HasPrefix(alice, "sa01c_") || !strings.Contains(r.stderr, "shown once") {
		t.Fatalf("add: %d %q %s", r.code, r.stdout, r.stderr)
	}
	for _, args := range [][]string{
		{"identity", "add", "bob"}, {"identity", "add", "bob", "--service", "--operator"},
		{"identity", "add", "bob", "--operator", "--role", "root"}, {"identity", "add", "Bob", "--service"},
	} {
		if r := cli("", args...); r.code != ExitUsage {
			t.Errorf("%v: %d %s", args, r.code, r.stderr)
		}
	}
	if r := cli("", "identity", "add", "alice", "--service"); r.code != ExitConflict {
		t.Errorf("second alice: %d %s", r.code, r.stderr)
	}
	r = cli("", "identity", "list", "--format", "json")
	var ids []map[string]any
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &ids) != nil || len(ids) != 4 || strings.Contains(r.stdout, "sa01c_") {
		t.Fatalf("list: %d %s %s", r.code, r.stdout, r.stderr)
	}

	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	env["SA01_SECRETS_ADDR"] = s.addr
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	if r := cli("", "identity", "list"); r.code != 0 || !regexp.MustCompile(`alice\s+operator\s+auditor\s+live`).MatchString(r.stdout) {
		t.Fatalf("remote list: %d %s %s", r.code, r.stdout, r.stderr)
	}
	aliceFile := filepath.Join(dir, "alice.credential")
	if err := os.WriteFile(aliceFile, []byte(alice), 0o644); err != nil {
		t.Fatal(err)
	}
	env["SA01_SECRETS_CREDENTIAL_FILE"] = aliceFile
	if r := cli("", "login"); r.code != ExitDenied || !strings.Contains(r.stderr, "group or others") {
		t.Fatalf("a 0644 credential file: %d %s", r.code, r.stderr)
	}
	_ = os.Chmod(aliceFile, 0o600)
	if r := cli("", "identity", "add", "evil", "--operator", "--role", "admin"); r.code != ExitDenied {
		t.Fatalf("an auditor added an identity: %d %s", r.code, r.stderr)
	}
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	r = cli("", "identity", "rotate", "alice", "--grace", "1h", "--credential-file", aliceFile+".new")
	if r.code != 0 || r.stdout != "" {
		t.Fatalf("rotate: %d %s %s", r.code, r.stdout, r.stderr)
	}
	env["SA01_SECRETS_CREDENTIAL_FILE"] = aliceFile
	if r := cli("", "login"); r.code != 0 {
		t.Fatalf("old credential in grace: %d %s", r.code, r.stderr)
	}
	env["SA01_SECRETS_CREDENTIAL_FILE"] = admin
	if r := cli("", "identity", "revoke", "alice"); r.code != 0 {
		t.Fatalf("revoke: %d %s", r.code, r.stderr)
	}
	for _, f := range []string{aliceFile, aliceFile + ".new"} {
		env["SA01_SECRETS_CREDENTIAL_FILE"] = f
		if r := cli("", "login"); r.code != ExitDenied {
			t.Fatalf("revoked credential %s: %d %s", f, r.code, r.stderr)
		}
	}
}

// serveEnv is the environment of a serve over a SQLite store in dir, made
// by init, with a fresh key and a policy file (in the environment as
// SA01_SECRETS_POLICY_FILE) that lets gateway read llm/*. The services
// gateway and worker exist, their credentials in dir/NAME.credential; the
// admin's credential file is returned.
func serveEnv(t *testing.T, dir string) (map[string]string, string) {
	t.Helper()
	pol := filepath.Join(dir, "policy.yaml")
	if err := os.WriteFile(pol, []byte("services:\n  gateway: {read: [\"llm/*\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"SA01_CRYPTO_FERNET_KEY":   fernet.GenerateKey().Encode(),
		"SA01_SECRETS_DB_DSN":      "sqlite://" + filepath.Join(dir, "s.db"),
		"SA01_SECRETS_POLICY_FILE": pol,
	}
	admin := filepath.Join(dir, "admin.credential")
	for _, args := range [][]string{
		{"init", "--credential-file", admin},
		{"identity", "add", "gateway", "--service", "--credential-file", filepath.Join(dir, "gateway.credential")},
		{"identity", "add", "worker", "--service", "--credential-file", filepath.Join(dir, "worker.credential")},
	} {
		var o, e bytes.Buffer
		if code := run(context.Background(), args, strings.NewReader(""), &o, &e, func(k string) string { return env[k] }); code != 0 {
			t.Fatalf("%v: %d %s", args, code, e.String())
		}
	}
	return env, admin
}

// credOf reads the credential serveEnv wrote for name.
func credOf(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".credential"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// TestServeTLSAndPolicyReload serves TLS with a fresh certificate and
// reloads the policy on SIGHUP, keeping it when the new file is bad.
func TestServeTLSAndPolicyReload(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, pool := selfSigned(t, dir)
	env, _ := serveEnv(t, dir)
	pol := env["SA01_SECRETS_POLICY_FILE"]
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile})
	defer s.stop()
	if !strings.HasPrefix(s.addr, "https://") {
		t.Fatalf("addr %s", s.addr)
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	// login: 200 when the policy lets svc read llm/x (which does not
	// exist: 404), else 403
	login := func(svc string) int {
		code, m := getJSON(t, c, "POST", s.addr+"/v1/auth/login", credOf(t, dir, svc), "")
		if code != 200 {
			t.Fatalf("login %s: %d", svc, code)
		}
		code, _ = getJSON(t, c, "GET", s.addr+"/v1/secrets/llm/x", m["token"].(string), "")
		if code == 404 {
			return 200
		}
		return code
	}
	if login("gateway") != 200 || login("worker") != 403 {
		t.Fatal("policy before reload")
	}
	if err := os.WriteFile(pol, []byte("services:\n  worker: {read: [\"llm/*\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload := func(want string) {
		t.Helper()
		n := strings.Count(s.stderr.String(), "policy reload")
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for strings.Count(s.stderr.String(), "policy reload") == n && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if !strings.Contains(s.stderr.String(), want) {
			t.Fatalf("log lacks %q: %s", want, s.stderr)
		}
	}
	reload("policy reloaded")
	if login("gateway") != 403 || login("worker") != 200 {
		t.Fatal("policy after reload")
	}
	if err := os.WriteFile(pol, []byte("services:\n  worker: {read: [\"llm/**x\"]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reload("policy reload failed")
	if !strings.Contains(s.stderr.String(), "policy.yaml:2:") {
		t.Fatalf("reload error without a line: %s", s.stderr)
	}
	if login("worker") != 200 {
		t.Fatal("a bad file replaced the policy")
	}
	// plain HTTP to the TLS port fails
	if res, err := http.Get("http://" + strings.TrimPrefix(s.addr, "https://") + "/v1/sys/health"); err == nil {
		res.Body.Close()
		if res.StatusCode == 200 {
			t.Fatal("plain HTTP served on the TLS port")
		}
	}
}

func selfSigned(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, _ := x509.MarshalECPrivateKey(key)
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	_ = os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	_ = os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// TestServeReadCacheSeesLocalWrites: serve caches current versions, and a
// write made by another process on the same SQLite file (here the CLI on
// the local store) is served by the very next read. Both write one audit
// file, which keeps one chain and exactly the reads that were served.
func TestServeReadCacheSeesLocalWrites(t *testing.T) {
	dir := t.TempDir()
	auditFile := filepath.Join(dir, "audit.jsonl")
	env, _ := serveEnv(t, dir)
	env["SA01_SECRETS_AUDIT_FILE"], env["HOME"] = auditFile, dir
	cli := func(stdin string, args ...string) runResult {
		var o, e bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(stdin), &o, &e, func(k string) string { return env[k] })
		return runResult{code, o.String(), e.String()}
	}
	if r := cli("v1", "put", "llm/key"); r.code != 0 {
		t.Fatalf("put: %d %s", r.code, r.stderr)
	}
	s := startServe(t, env, serveOptions{Listen: "127.0.0.1:0"})
	defer s.stop()
	if !strings.Contains(s.stderr.String(), "read_cache=on") {
		t.Fatalf("serve does not say its read cache is on: %s", s.stderr)
	}
	_, m := getJSON(t, http.DefaultClient, "POST", s.addr+"/v1/auth/login", credOf(t, dir, "gateway"), "")
	tok, _ := m["token"].(string)
	read := func() (int, any) {
		code, m := getJSON(t, http.DefaultClient, "GET", s.addr+"/v1/secrets/llm/key", tok, "")
		return code, m["value"]
	}
	for range 3 {
		if code, v := read(); code != 200 || v != "v1" {
			t.Fatalf("read: %d %v", code, v)
		}
	}
	if r := cli("v2", "put", "llm/key"); r.code != 0 {
		t.Fatalf("put v2: %d %s", r.code, r.stderr)
	}
	if code, v := read(); code != 200 || v != "v2" {
		t.Fatalf("after a local write: %d %v, want v2", code, v)
	}
	res, err := http.Get(s.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`sa01_read_cache_reads_total{result="hit"} 2`, `sa01_read_cache_reads_total{result="miss"} 2`, `sa01_read_cache_reads_total{result="stale"} 1`} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if r := cli("", "delete", "llm/key"); r.code != 0 {
		t.Fatalf("delete: %d %s", r.code, r.stderr)
	}
	if code, v := read(); code == 200 {
		t.Fatalf("after a local delete: %d %v", code, v)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(auditFile)
	if err != nil {
		t.Fatal(err)
	}
	if r := cli("", "audit", "verify", "--file", auditFile); r.code != 0 {
		t.Fatalf("the audit file of serve and the CLI does not verify: %d %s %s", r.code, r.stdout, r.stderr)
	}
	var reads []string
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var e audit.Entry
		if json.Unmarshal([]byte(line), &e) == nil && e.Action == "read" {
			reads = append(reads, fmt.Sprintf("%d:%s", e.Version, e.Outcome))
		}
	}
	// v1 three times, v2 once (its stale cached attempt is not there), then
	// the refused read of the deleted secret
	if want := "[1:success 1:success 1:success 2:success 0:failure]"; fmt.Sprint(reads) != want {
		t.Errorf("reads in the audit file %v, want %s", reads, want)
	}
}

// TestServeChecksListenFirst: a listen setting that cannot work (the API's
// or the console's address, the TLS files) stops serve with a usage error
// naming it, before the store is opened or anything listens: here the
// store does not exist, and serve must not get as far as finding that out.
func TestServeChecksListenFirst(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"--ui-listen", []string{"--ui-listen", "nonsense"}, nil, `--ui-listen: listen address "nonsense": want HOST:PORT`},
		{"SA01_SECRETS_UI_LISTEN", nil, map[string]string{"SA01_SECRETS_UI_LISTEN": "nonsense"}, `SA01_SECRETS_UI_LISTEN: listen address "nonsense": want HOST:PORT`},
		{"console off loopback", []string{"--ui-listen", "0.0.0.0:0"}, nil, "--ui-listen: refusing plain HTTP on 0.0.0.0:0"},
		{"--listen", []string{"--listen", "nonsense"}, nil, `listen address "nonsense": want HOST:PORT`},
		{"--tls-cert", []string{"--tls-cert", filepath.Join(dir, "missing.pem"), "--tls-key", filepath.Join(dir, "missing.key")}, nil, "--tls-cert/--tls-key: cannot load the key pair"},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := filepath.Join(dir, "s.db")
			env := map[string]string{"SA01_CRYPTO_FERNET_KEY": fernet.GenerateKey().Encode(), "SA01_SECRETS_DB_DSN": "sqlite://" + db}
			for k, v := range c.env {
				env[k] = v
			}
			var o, e bytes.Buffer
			code := run(context.Background(), append([]string{"serve", "--listen", "127.0.0.1:0"}, c.args...), strings.NewReader(""), &o, &e, func(k string) string { return env[k] })
			if code != ExitUsage || !strings.Contains(e.String(), c.want) || !strings.Contains(e.String(), "hint:") {
				t.Fatalf("exit %d, want %d and %q:\n%s", code, ExitUsage, c.want, e.String())
			}
			if strings.Contains(e.String(), "store") || strings.Contains(e.String(), "serving") {
				t.Fatalf("got as far as the store or listening:\n%s", e.String())
			}
			if _, err := os.Stat(db); !os.IsNotExist(err) {
				t.Fatalf("store file: %v", err)
			}
		})
	}
}
