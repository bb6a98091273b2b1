package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fernet"
)

// The only texts a key ring's error may hold: the variable (and entry), and
// a reason made of fixed text and key IDs, or the reason fernet.ParseKey
// gives for that entry. Anything else could be part of a key.
var (
	ringErrVar    = regexp.MustCompile(`^(` + EnvFernetKey + `|` + EnvFernetPreviousKeys + ` \(entry [1-9][0-9]*\))$`)
	ringErrReason = regexp.MustCompile(`^(malformed Fernet key: .*` +
		`|not set, but ` + EnvFernetPreviousKeys + ` is` +
		`|holds more than one key; put older keys in ` + EnvFernetPreviousKeys +
		`|repeats (` + EnvFernetKey + `|` + EnvFernetPreviousKeys + ` \(entry [1-9][0-9]*\)) \(key [0-9a-f]{12}\); list each key once)$`)
)

// FuzzParseRing feeds arbitrary values of SA01_CRYPTO_FERNET_KEY and
// SA01_CRYPTO_FERNET_PREVIOUS_KEYS (from the environment or an env file):
// ParseRing never panics; a refusal is an *Error whose variable and reason
// are fixed text and key IDs, nothing of the values; an accepted ring is
// the primary then each previous entry, in order, each once.
func FuzzParseRing(f *testing.F) {
	a, b := fernet.GenerateKey().Encode(), fernet.GenerateKey().Encode()
	f.Add(a, "")
	f.Add(a, b)
	f.Add(" "+a+"\n", b+", "+a)
	f.Add(a+","+b, "")
	f.Add("", b)
	f.Add(a, b+",,"+b)
	f.Add(strings.TrimRight(a, "="), strings.ReplaceAll(b, "-", "+"))
	f.Fuzz(func(t *testing.T, primary, previous string) {
		ring, err := ParseRing(primary, previous)
		if err != nil {
			var e *Error
			if ring != nil || !errors.As(err, &e) {
				t.Fatalf("ParseRing = %v, %T %v", ring, err, err)
			}
			if !ringErrVar.MatchString(e.Var) || !ringErrReason.MatchString(e.Reason) {
				t.Fatalf("error outside its fixed forms: %q", err)
			}
			if r, ok := strings.CutPrefix(e.Reason, "malformed Fernet key: "); ok {
				entry := primary
				if n, ok := strings.CutPrefix(e.Var, EnvFernetPreviousKeys+" (entry "); ok {
					i, _ := strconv.Atoi(strings.TrimSuffix(n, ")"))
					entry = strings.Split(previous, ",")[i-1]
				}
				var ke *fernet.KeyError
				if _, kerr := fernet.ParseKey(entry); !errors.As(kerr, &ke) || ke.Reason != r {
					t.Fatalf("key reason %q is not ParseKey's for %s (%v)", r, e.Var, kerr)
				}
			}
			return
		}
		if ring == nil {
			if strings.TrimSpace(primary) != "" || strings.TrimSpace(previous) != "" {
				t.Fatal("no ring and no error for a value set")
			}
			return
		}
		want := []string{strings.TrimSpace(primary)}
		if strings.TrimSpace(previous) != "" {
			for _, s := range strings.Split(previous, ",") {
				want = append(want, strings.TrimSpace(s))
			}
		}
		ks := ring.Keys()
		if len(ks) != len(want) {
			t.Fatalf("ring of %d keys from %d entries", len(ks), len(want))
		}
		for i, k := range ks {
			if k.Encode() != want[i] {
				t.Fatalf("key %d is not entry %d", i, i)
			}
			for _, o := range ks[:i] {
				if k.Equal(o) {
					t.Fatalf("key %d listed twice", i)
				}
			}
		}
	})
}
