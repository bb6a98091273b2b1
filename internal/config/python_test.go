package config

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// The Python helper (python/sa01_secrets) reads the key variables with the
// same rules and the same messages as Load: for each environment, both
// accept it with the same key IDs in order, or refuse it with the same
// error.
func TestPythonReadsTheKeysAsGoDoes(t *testing.T) {
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("no python3")
	}
	if exec.Command(py, "-c", "import cryptography").Run() != nil {
		t.Skip("python3 has no cryptography")
	}
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "..", "python")
	k1, k2 := fernet.GenerateKey().Encode(), fernet.GenerateKey().Encode()
	dir := t.TempDir()
	file := filepath.Join(dir, "k")
	if err := os.WriteFile(file, []byte(k2+"\r\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	nonCanon := k1[:42] + string("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[strings.IndexByte("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", k1[42])|1]) + "="
	cases := []map[string]string{
		{},
		{EnvFernetKey: k1},
		{EnvFernetKey: " " + k1 + "\n", EnvFernetPreviousKeys: k2},
		{EnvFernetKey: k1, EnvFernetPreviousKeys: " " + k2 + " "},
		{EnvFernetPreviousKeys: k1},
		{EnvFernetKey: k1 + "," + k2},
		{EnvFernetKey: k1[:43]},
		{EnvFernetKey: k1[:30]},
		{EnvFernetKey: k1 + "AAAA"},
		{EnvFernetKey: "+" + k1[1:]},
		{EnvFernetKey: k1[:10] + "!" + k1[11:]},
		{EnvFernetKey: k1[:10] + "\n" + k1[11:]},
		{EnvFernetKey: k1[:42] + "=="},
		{EnvFernetKey: nonCanon},
		{EnvFernetKey: k1, EnvFernetPreviousKeys: k2 + ","},
		{EnvFernetKey: k1, EnvFernetPreviousKeys: k2 + "," + k1},
		{EnvFernetKey: k1, EnvFernetPreviousKeys: k2 + "," + k2},
		{EnvFernetKey: k1, EnvFernetPreviousKeys: ",,"},
		{EnvFernetKey: k1, EnvFernetPreviousKeys + "_FILE": file},
		{EnvFernetKey: k1, EnvFernetPreviousKeys + "_FILE": empty},
		{EnvFernetKey: k1, EnvFernetPreviousKeys + "_FILE": filepath.Join(dir, "none")},
		{EnvFernetKey: k1, EnvFernetPreviousKeys + "_FILE": dir},
		{EnvFernetKey: k1, EnvFernetKey + "_FILE": file},
	}
	in, _ := json.Marshal(cases)
	script := `
import json, sys
from sa01_secrets import keys_from_env, key_id, KeyConfigError
out = []
for env in json.load(sys.stdin):
    try:
        out.append({"ids": [key_id(k) for k in keys_from_env(env)]})
    except KeyConfigError as e:
        out.append({"err": str(e)})
json.dump(out, sys.stdout)
`
	cmd := exec.Command(py, "-c", script)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+root)
	cmd.Stdin = strings.NewReader(string(in))
	b, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v", err)
	}
	var got []struct {
		IDs []string `json:"ids"`
		Err string   `json:"err"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	for i, env := range cases {
		c, err := Load(func(k string) string { return env[k] })
		want, wantErr := []string(nil), ""
		switch {
		case err != nil:
			wantErr = err.Error()
		case c.Keys == nil:
			wantErr = ErrNoKey.Error()
		default:
			for _, k := range c.Keys.Keys() {
				want = append(want, k.ID())
			}
		}
		if got[i].Err != wantErr || strings.Join(got[i].IDs, ",") != strings.Join(want, ",") {
			t.Errorf("case %d: python %+v; go %v %q", i, got[i], want, wantErr)
		}
	}
}
