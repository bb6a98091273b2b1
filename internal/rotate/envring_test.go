package rotate

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

func TestRingFromEnvFile(t *testing.T) {
	k1, k2, k3 := fernet.GenerateKey(), fernet.GenerateKey(), fernet.GenerateKey()
	ef, _ := dotenv.Parse([]byte("SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k2.Encode() + "," + k3.Encode() + "\n"))
	r, err := EnvRing(ef)
	if err != nil {
		t.Fatal(err)
	}
	ks := r.Keys()
	if len(ks) != 3 || !ks[0].Equal(k1) || !ks[1].Equal(k2) || !ks[2].Equal(k3) {
		t.Fatalf("ring order wrong: %s", keyIDsOf(ks))
	}

	bad := map[string]string{
		"no key":    "OTHER=1\n",
		"empty key": "SA01_CRYPTO_FERNET_KEY=\n",
		"_FILE":     "SA01_CRYPTO_FERNET_KEY_FILE=/run/k\n",
		"twice":     "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_KEY=" + k2.Encode() + "\n",
		"malformed": "SA01_CRYPTO_FERNET_KEY=notakey\n",
		"bad prev":  "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k2.Encode() + ",short\n",
		"duplicate": "SA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k1.Encode() + "\n",
	}
	for name, src := range bad {
		t.Run(name, func(t *testing.T) {
			ef, err := dotenv.Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			_, err = EnvRing(ef)
			if err == nil {
				t.Fatal("Ring accepted it")
			}
			for _, k := range []*fernet.Key{k1, k2} {
				if strings.Contains(err.Error(), k.Encode()) {
					t.Fatalf("error reveals a key: %v", err)
				}
			}
		})
	}
	ef, _ = dotenv.Parse([]byte("A=1\n"))
	if _, err := EnvRing(ef); !errors.Is(err, ErrNoKeyInFile) {
		t.Errorf("no key: %v, want ErrNoKeyInFile", err)
	}
}

func keyIDsOf(ks []*fernet.Key) string {
	var s []string
	for _, k := range ks {
		s = append(s, k.ID())
	}
	return strings.Join(s, ",")
}

func TestSetRingAndWriteAtomic(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	orig := "# platform\nSA01_DB_DSN=sqlite:///x.db\nSA01_CRYPTO_FERNET_KEY=" + k1.Encode() + "\n"
	p := writeTemp(t, ".env", orig, 0o644)
	ef, err := dotenv.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	ring, _ := fernet.NewRing(k2, k1)
	if err := SetEnvRing(ef, ring); err != nil {
		t.Fatal(err)
	}
	if err := ef.Write(); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{p, p + ".bak"} {
		st, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	bak, _ := os.ReadFile(p + ".bak")
	if string(bak) != orig {
		t.Errorf(".bak = %q, want the original", bak)
	}
	got, _ := os.ReadFile(p)
	want := "# platform\nSA01_DB_DSN=sqlite:///x.db\nSA01_CRYPTO_FERNET_KEY=" + k2.Encode() + "\nSA01_CRYPTO_FERNET_PREVIOUS_KEYS=" + k1.Encode() + "\n"
	if string(got) != want {
		t.Errorf("file = %q, want %q", got, want)
	}
	// No temporary files left behind.
	ents, _ := os.ReadDir(filepath.Dir(p))
	for _, e := range ents {
		if strings.Contains(e.Name(), ".tmp-") {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
	// The ring reads back through config.Load exactly as services would.
	back, err := dotenv.Read(p)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(back.Getenv(nil))
	if err != nil {
		t.Fatal(err)
	}
	if ks := cfg.Keys.Keys(); len(ks) != 2 || !ks[0].Equal(k2) || !ks[1].Equal(k1) {
		t.Errorf("config.Load sees %s", keyIDsOf(ks))
	}
}

func writeTemp(t *testing.T, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// EnvKeys answers the keys from the file only, and everything else from
// the environment.
func TestEnvKeys(t *testing.T) {
	k1, k2 := fernet.GenerateKey(), fernet.GenerateKey()
	path := filepath.Join(t.TempDir(), ".env")
	if err := os.WriteFile(path, []byte("SA01_CRYPTO_FERNET_KEY="+k1.Encode()+"\nOTHER=file\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{config.EnvFernetKey: k2.Encode(), config.EnvFernetPreviousKeys: k2.Encode(),
		config.EnvFernetKey + "_FILE": "/run/k", "OTHER": "env"}
	getenv, err := EnvKeys(path, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{config.EnvFernetKey: k1.Encode(), config.EnvFernetPreviousKeys: "",
		config.EnvFernetKey + "_FILE": "", "OTHER": "env"} {
		if got := getenv(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if _, err := EnvKeys(filepath.Join(t.TempDir(), "missing"), nil); err == nil {
		t.Error("a missing file is accepted")
	}
	if err := os.WriteFile(path, []byte("OTHER=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := EnvKeys(path, nil); !errors.Is(err, ErrNoKeyInFile) {
		t.Errorf("no key: %v, want ErrNoKeyInFile", err)
	}
}
