package targets

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
)

// SecretName maps a target's key (a hash field, a Redis key, a row key) to
// a secret name under prefix: ':' (Redis's separator) becomes '/', every
// other character a secret name does not allow becomes '_'.
// "provider:openai" under "llm/" is "llm/provider/openai".
func SecretName(prefix, key string) string {
	b := []byte(key)
	for i, c := range b {
		switch {
		case c == ':':
			b[i] = '/'
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '_', c == '.', c == '-', c == '/':
		default:
			b[i] = '_'
		}
	}
	return prefix + string(b)
}

// Import is Entries of the target of f named name, for import
// --from-target: an unknown name is a not-found fault, a target it cannot
// read whole (Entries refuses) a check-failed one.
func (r *Runner) Import(ctx context.Context, f *File, name, prefix string) ([]secrets.Entry, error) {
	ts, err := f.Select(name)
	if err != nil {
		return nil, fault.New(fault.NotFound, err, "")
	}
	entries, err := r.Entries(ctx, ts[0], prefix)
	return entries, fault.New(fault.CheckFailed, err, "")
}

// Entries decrypts every value of target t with the ring, as secrets
// named by SecretName under prefix, for an import into the store. It
// refuses, returning nothing, when any value is plaintext or unreadable,
// when a name is invalid, or when two keys map to one name.
func (r *Runner) Entries(ctx context.Context, t Target, prefix string) ([]secrets.Entry, error) {
	if r.Ring == nil {
		return nil, ErrNoRing
	}
	c, err := r.connect(ctx, t)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	var out []secrets.Entry
	from := map[string]string{}
	var plain, lost int
	err = c.Scan(ctx, r.batch(), func(items []Item) error {
		for _, it := range items {
			if _, ok := fernet.Inspect(it.Value); !ok {
				plain++
				continue
			}
			msg, err := r.Ring.Decrypt(it.Value)
			if err != nil {
				lost++
				continue
			}
			name := SecretName(prefix, it.Key)
			if err := secrets.ValidateName(name); err != nil {
				return fmt.Errorf("target %s: a key maps to an invalid secret name: %w", t.Name, err)
			}
			if _, dup := from[name]; dup {
				return fmt.Errorf("target %s: two keys map to the secret %s", t.Name, name)
			}
			from[name] = it.Key
			out = append(out, secrets.Entry{Name: strings.TrimPrefix(name, prefix), Value: sensitive.FromBytes(msg)})
			clear(msg)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", t.Name, err)
	}
	if plain > 0 || lost > 0 {
		return nil, fmt.Errorf("target %s: %d values are not Fernet tokens and %d tokens no loaded key opens; nothing was imported ('sa01-secrets targets status' shows them)", t.Name, plain, lost)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
