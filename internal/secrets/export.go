package secrets

import (
	"bytes"
	"fmt"
	"io"
	"sort"

	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// ExportTo writes vals as WriteExport does: to w, or, when file is not
// "", to that file (0600, replaced atomically), whole or not at all.
func ExportTo(w io.Writer, file string, vals []Value, prefix, format string) error {
	var buf bytes.Buffer
	if err := WriteExport(&buf, vals, prefix, format); err != nil {
		return err
	}
	if file == "" {
		_, err := w.Write(buf.Bytes())
		return err
	}
	if err := safefile.WriteFile(file, buf.Bytes(), safefile.Options{}); err != nil {
		return fmt.Errorf("--output: %w", err)
	}
	return nil
}

// WriteExport writes vals in format: "json" ({"name": "value"} with full
// names), "env" (export VAR='value', for a shell) or "dotenv" (VAR="value",
// quoted so that a shell sourcing it runs nothing). Variables are named by
// EnvName below prefix, in the order of the secrets' names; nothing is
// written when two would share a name or one would have none, or when the
// format cannot carry a value unchanged (CheckText for json, CheckEnv for
// env and dotenv, as run): each a fault.Usage error naming the secret,
// with a hint.
func WriteExport(w io.Writer, vals []Value, prefix, format string) error {
	if format == "json" {
		m := make(map[string]string, len(vals))
		for _, v := range vals {
			if err := CheckText(v.Secret.Name, v.Version.Version, v.Value.Reveal()); err != nil {
				return err
			}
			m[v.Secret.Name] = v.Value.Reveal()
		}
		return writeJSON(w, m)
	}
	seen := map[string]string{}
	for _, v := range vals {
		name := EnvName(v.Secret.Name, v.Secret.EnvName, prefix)
		if name == "" {
			return fault.New(fault.Usage, fmt.Errorf("secret %s: --prefix %s leaves no variable name", v.Secret.Name, prefix),
				"export with a shorter --prefix, or give the secret a variable name with 'put --env'")
		}
		if other, dup := seen[name]; dup {
			return fault.New(fault.Usage, fmt.Errorf("secrets %s and %s both export as %s", other, v.Secret.Name, name),
				"give one of them another variable name with 'put --env'")
		}
		if err := CheckEnv(v.Secret.Name, name, v.Value.Reveal()); err != nil {
			return err
		}
		seen[name] = v.Secret.Name
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i].Secret.Name < vals[j].Secret.Name })
	for _, v := range vals {
		name := EnvName(v.Secret.Name, v.Secret.EnvName, prefix)
		var err error
		if format == "env" {
			_, err = fmt.Fprintf(w, "export %s=%s\n", name, dotenv.QuoteShell(v.Value.Reveal()))
		} else {
			_, err = fmt.Fprintf(w, "%s=%s\n", name, dotenv.Quote(v.Value.Reveal()))
		}
		if err != nil {
			return err
		}
	}
	return nil
}
