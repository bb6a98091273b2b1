// Package deploy holds the files that run sa01-secrets beside the platform
// (compose.yaml, systemd/sa01-secrets.service, ../Dockerfile); its tests
// check them against the code, since no container engine runs here.
package deploy

import (
	"bufio"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/policy"
)

// knownVars are the variables internal/config reads: those it describes.
func knownVars(t *testing.T) map[string]bool {
	c, err := config.Load(func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, s := range c.Describe() {
		out[s.Var] = true
	}
	return out
}

// readsFile reports whether config reads name_FILE: naming a missing file
// there must fail, naming that variable.
func readsFile(name string) bool {
	_, err := config.Load(func(k string) string {
		if k == name+"_FILE" {
			return "/nonexistent/sa01-deploy-test"
		}
		return ""
	})
	var ce *config.Error
	return errors.As(err, &ce) && ce.Var == name+"_FILE"
}

// checkVars fails for an SA01_* variable config does not read, and for a
// secret variable given as a value rather than as a file.
func checkVars(t *testing.T, where string, env map[string]string) {
	t.Helper()
	for _, p := range varProblems(knownVars(t), env) {
		t.Errorf("%s %s", where, p)
	}
}

func varProblems(known map[string]bool, env map[string]string) []string {
	var out []string
	for k, v := range env {
		if !strings.HasPrefix(k, "SA01_") {
			continue // another program's variable (POSTGRES_*, KAFKA_*, SSL_CERT_FILE)
		}
		base, isFile := strings.CutSuffix(k, "_FILE")
		switch {
		case known[k]:
			// A secret as a value: only a DSN without a password (a SQLite path).
			if readsFile(k) && !strings.HasPrefix(v, "sqlite://") {
				out = append(out, "sets the secret "+k+" as a value; set "+k+"_FILE to a file instead")
			}
		case isFile && known[base] && readsFile(base):
		case isFile && known[base]:
			out = append(out, "sets "+k+", but internal/config does not read a file for "+base)
		default:
			out = append(out, "sets "+k+", which internal/config does not read")
		}
	}
	return out
}

type composeFile struct {
	Services map[string]struct {
		Image       string    `yaml:"image"`
		Entrypoint  []string  `yaml:"entrypoint"`
		Command     []string  `yaml:"command"`
		Environment yaml.Node `yaml:"environment"`
		Secrets     []string  `yaml:"secrets"`
		Build       yaml.Node `yaml:"build"`
	} `yaml:"services"`
	Secrets map[string]struct {
		File string `yaml:"file"`
	} `yaml:"secrets"`
}

// envOf reads an environment: a mapping, or a list of NAME=value.
func envOf(t *testing.T, n yaml.Node) map[string]string {
	out := map[string]string{}
	switch n.Kind {
	case 0:
	case yaml.MappingNode:
		if err := n.Decode(&out); err != nil {
			t.Fatal(err)
		}
	case yaml.SequenceNode:
		var list []string
		if err := n.Decode(&list); err != nil {
			t.Fatal(err)
		}
		for _, kv := range list {
			k, v, _ := strings.Cut(kv, "=")
			out[k] = v
		}
	default:
		t.Fatalf("environment at line %d is neither a mapping nor a list", n.Line)
	}
	return out
}

func loadCompose(t *testing.T) composeFile {
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var c composeFile
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return c
}

func TestComposeServices(t *testing.T) {
	c := loadCompose(t)
	for _, name := range []string{"postgres", "redis", "kafka", "opa", "sa01-secrets", "gateway"} {
		if _, ok := c.Services[name]; !ok {
			t.Errorf("compose.yaml has no service %s", name)
		}
	}
	gw := c.Services["gateway"]
	if len(gw.Entrypoint) < 2 || filepath.Base(gw.Entrypoint[0]) != "sa01-secrets" || gw.Entrypoint[1] != "run" ||
		!slices.Contains(gw.Entrypoint, "--service") || gw.Entrypoint[len(gw.Entrypoint)-1] != "--" {
		t.Errorf("the gateway is not started through `sa01-secrets run --service NAME --`: entrypoint %q", gw.Entrypoint)
	}
	for name, s := range c.Services {
		for _, sec := range s.Secrets {
			if _, ok := c.Secrets[sec]; !ok {
				t.Errorf("service %s uses secret %s, which compose.yaml does not declare", name, sec)
			}
		}
		env := envOf(t, s.Environment)
		checkVars(t, "compose.yaml service "+name, env)
		for k, v := range env {
			if p, ok := strings.CutPrefix(v, "/run/secrets/"); ok && strings.HasSuffix(k, "_FILE") && !slices.Contains(s.Secrets, p) {
				t.Errorf("service %s: %s names /run/secrets/%s, which it does not mount", name, k, p)
			}
		}
	}
	// The policy the server is given parses.
	if _, err := policy.Load("policy.yaml"); err != nil {
		t.Errorf("policy.yaml: %v", err)
	}
}

// TestCheckVarsCatches shows the variable check fails where it should.
func TestCheckVarsCatches(t *testing.T) {
	known := knownVars(t)
	for _, env := range []map[string]string{
		{"SA01_NOT_A_VARIABLE": "x"},
		{"SA01_LOG_LEVEL_FILE": "/run/secrets/x"},
		{config.EnvFernetKey: "a-key-in-the-clear"},
		{config.EnvDBDSN: "postgres://u:p@db/sa01"},
	} {
		if len(varProblems(known, env)) == 0 {
			t.Errorf("the check accepted %v", env)
		}
	}
	if p := varProblems(known, map[string]string{config.EnvPolicyFile: "/etc/p.yaml", config.EnvFernetKey + "_FILE": "/run/k"}); len(p) > 0 {
		t.Errorf("the check refused good variables: %v", p)
	}
}

// unit reads a systemd unit: each Key=value of each section, in order.
func unit(t *testing.T, path string) map[string][]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	sec := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "", strings.HasPrefix(line, "#"), strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			sec = line[1 : len(line)-1]
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || sec == "" {
				t.Fatalf("%s: not a Key=value line in a section: %q", path, line)
			}
			out[sec+"."+k] = append(out[sec+"."+k], v)
		}
	}
	return out
}

func TestSystemdUnit(t *testing.T) {
	path := filepath.Join("systemd", "sa01-secrets.service")
	u := unit(t, path)
	want := map[string]string{
		"Service.NoNewPrivileges":       "yes",
		"Service.ProtectSystem":         "strict",
		"Service.PrivateTmp":            "yes",
		"Service.CapabilityBoundingSet": "",
		"Service.StateDirectory":        "sa01-secrets",
		"Service.ProtectHome":           "yes",
		"Service.PrivateDevices":        "yes",
		"Service.DynamicUser":           "yes",
	}
	for k, v := range want {
		if got := u[k]; len(got) != 1 || got[0] != v {
			t.Errorf("%s: %s = %q, want %q", path, k, got, v)
		}
	}
	if len(u["Service.LoadCredential"]) == 0 {
		t.Errorf("%s: no LoadCredential=: the key must come as a credential", path)
	}
	if ex := u["Service.ExecStart"]; len(ex) != 1 || !strings.HasSuffix(strings.Fields(ex[0])[0], "/sa01-secrets") || !strings.Contains(ex[0], " serve") {
		t.Errorf("%s: ExecStart %q does not run sa01-secrets serve", path, ex)
	}
	env := map[string]string{}
	for _, e := range u["Service.Environment"] {
		k, v, _ := strings.Cut(strings.Trim(e, `"`), "=")
		env[k] = v
	}
	checkVars(t, path, env)
	for k, v := range env {
		if strings.HasSuffix(k, "_FILE") && !strings.HasPrefix(v, "%d/") {
			t.Errorf("%s: %s=%s is not a credential (%%d/NAME)", path, k, v)
		}
	}

	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: the unit was parsed, not verified")
		return
	}
	// verify needs ExecStart to exist: point it at this test's binary.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	dir := t.TempDir()
	tmp := filepath.Join(dir, "sa01-secrets.service")
	if err := os.WriteFile(tmp, []byte(strings.ReplaceAll(string(b), "/usr/local/bin/sa01-secrets", self)), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(analyze, "verify", "--man=no", tmp).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

// dockerStage is one stage of a Dockerfile.
type dockerStage struct {
	from  string
	instr []string // every instruction, continuation lines joined
}

func dockerfile(t *testing.T) []dockerStage {
	b, err := os.ReadFile(filepath.Join("..", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	text := regexp.MustCompile(`\\\n\s*`).ReplaceAllString(string(b), " ")
	var stages []dockerStage
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if f := strings.Fields(line); strings.EqualFold(f[0], "FROM") {
			stages = append(stages, dockerStage{from: f[1]})
		}
		if len(stages) == 0 {
			if !strings.HasPrefix(strings.ToUpper(line), "ARG ") {
				t.Fatalf("Dockerfile: %q before the first FROM", line)
			}
			continue
		}
		stages[len(stages)-1].instr = append(stages[len(stages)-1].instr, line)
	}
	return stages
}

func TestDockerfile(t *testing.T) {
	stages := dockerfile(t)
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stages, want a build stage and a final one", len(stages))
	}
	build, final := strings.Join(stages[0].instr, "\n"), stages[len(stages)-1]
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.Version=", "./cmd/sa01-secrets"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage does not contain %q", want)
		}
	}
	// -X main.Version must name the variable the version verb prints.
	src, err := os.ReadFile(filepath.Join("..", "cmd", "sa01-secrets", "cmd_basic.go"))
	if err != nil || !regexp.MustCompile(`(?m)^var Version string$`).Match(src) {
		t.Error("cmd/sa01-secrets has no `var Version string` for -X main.Version")
	}
	if final.from != "scratch" && !regexp.MustCompile(`^gcr\.io/distroless/static(-debian\d+)?:nonroot$`).MatchString(final.from) {
		t.Errorf("the final stage is FROM %s: want scratch or distroless/static:nonroot (no shell)", final.from)
	}
	var user, entry string
	for _, in := range final.instr {
		f := strings.Fields(in)
		switch strings.ToUpper(f[0]) {
		case "RUN", "SHELL":
			t.Errorf("the final stage runs %q: it has no shell", in)
		case "USER":
			user = f[1]
		case "ENTRYPOINT":
			entry = strings.TrimSpace(in[len(f[0]):])
		case "ENV":
			env := map[string]string{}
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
			checkVars(t, "Dockerfile", env)
		}
	}
	if u, _, _ := strings.Cut(user, ":"); u == "" || u == "root" || u == "0" {
		t.Errorf("the final stage runs as %q: want a non-root user", user)
	}
	var argv []string
	if err := json.Unmarshal([]byte(entry), &argv); err != nil || len(argv) == 0 || filepath.Base(argv[0]) != "sa01-secrets" {
		t.Errorf("ENTRYPOINT %s: want the exec form running sa01-secrets", entry)
	}
}
