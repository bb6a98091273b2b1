package inject

import (
	"strings"
	"testing"
)

func TestChildEnv(t *testing.T) {
	t.Parallel()
	parent := []string{"PATH=/bin", "HOME=/h", "A=1", "SA01_SECRETS_CREDENTIAL_FILE=/c", "SA01_CRYPTO_FERNET_KEY_FILE=/k", "OPENAI_API_KEY=old", "BAD"}
	got := strings.Join(ChildEnv(parent, map[string]string{"OPENAI_API_KEY": "new", "B": "2"}, false), " ")
	if got != "PATH=/bin HOME=/h A=1 OPENAI_API_KEY=new B=2" {
		t.Fatalf("childEnv = %s", got)
	}
	got = strings.Join(ChildEnv(parent, map[string]string{"B": "2"}, true), " ")
	if got != "PATH=/bin HOME=/h B=2" {
		t.Fatalf("pristine = %s", got)
	}
	got = strings.Join(ChildEnv(nil, nil, true), " ")
	if got != "PATH=/usr/local/bin:/usr/bin:/bin" {
		t.Fatalf("pristine, empty parent = %s", got)
	}
}
