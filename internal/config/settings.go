package config

import (
	"encoding/json"
	"fmt"
	"io"
)

// WriteSettings writes the settings Describe lists, as `config` prints
// them: one aligned line each, or with asJSON an indented JSON array.
func WriteSettings(w io.Writer, ss []Setting, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(ss)
	}
	for _, s := range ss {
		if _, err := fmt.Fprintf(w, "%-34s %s\n", s.Var, s.Value); err != nil {
			return err
		}
	}
	return nil
}
