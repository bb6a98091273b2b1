package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
)

// MaxImportEntries is the most entries the server takes in one Import.
const MaxImportEntries = 1000

// Rollback writes the value of version to again, as a new version of
// name; cas, when set, is the version that must be current. It needs the
// right to write the secret.
func (c *Client) Rollback(ctx context.Context, name string, to int, cas *int) (Meta, error) {
	if err := checkName(name); err != nil {
		return Meta{}, err
	}
	if to < 1 {
		return Meta{}, errors.New("sa01-secrets: rollback: want a version of 1 or more")
	}
	body := struct {
		To  int  `json:"to"`
		CAS *int `json:"cas,omitempty"`
	}{to, cas}
	var out Meta
	err := c.authCall(ctx, "POST", "/v1/secrets/"+escapePath(name)+":rollback", body, &out)
	c.forget(name)
	return out, err
}

// Undelete restores a soft-deleted secret. It needs the right to write it.
func (c *Client) Undelete(ctx context.Context, name string) error {
	if err := checkName(name); err != nil {
		return err
	}
	err := c.authCall(ctx, "POST", "/v1/secrets/"+escapePath(name)+":undelete", nil, nil)
	c.forget(name)
	return err
}

// Destroy erases one version's encrypted value for good. It needs the
// right to write the secret.
func (c *Client) Destroy(ctx context.Context, name string, version int) error {
	if err := checkName(name); err != nil {
		return err
	}
	if version < 1 {
		return errors.New("sa01-secrets: destroy: want a version of 1 or more")
	}
	body := struct {
		Version int `json:"version"`
	}{version}
	err := c.authCall(ctx, "POST", "/v1/secrets/"+escapePath(name)+":destroy", body, nil)
	c.forget(name)
	return err
}

// ImportEntry is one secret of an Import. Its Value is sent to the server
// and kept nowhere else.
type ImportEntry struct {
	Name  string
	Value string
}

// ImportOptions describe an Import: Prefix goes before every name; Class
// is the class of new secrets (default config).
type ImportOptions struct {
	Prefix string
	Class  string
}

// Import writes every entry as a new version of Prefix+Name in one
// transaction: all or none. It needs the right to write each; at most
// MaxImportEntries per call. A value that is not UTF-8 text is refused
// with ErrNotText before anything is sent.
func (c *Client) Import(ctx context.Context, entries []ImportEntry, o ImportOptions) (int, error) {
	if len(entries) == 0 || len(entries) > MaxImportEntries {
		return 0, errors.New("sa01-secrets: import: want 1 to 1000 entries")
	}
	type entry struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	}
	body := struct {
		Prefix  string  `json:"prefix,omitempty"`
		Class   string  `json:"class,omitempty"`
		Entries []entry `json:"entries"`
	}{Prefix: o.Prefix, Class: o.Class, Entries: make([]entry, len(entries))}
	for i, e := range entries {
		if err := checkText(o.Prefix+e.Name, e.Value); err != nil {
			return 0, err
		}
		body.Entries[i] = entry(e)
	}
	var out struct {
		Imported int `json:"imported"`
	}
	err := c.authCall(ctx, "POST", "/v1/secrets:import", body, &out)
	for _, e := range entries {
		c.forget(o.Prefix + e.Name)
	}
	return out.Imported, err
}

// ListDeleted is List with the soft-deleted secrets included, each with
// its DeletedAt.
func (c *Client) ListDeleted(ctx context.Context, prefix string) ([]Meta, error) {
	var out struct {
		Secrets []Meta `json:"secrets"`
	}
	q := url.Values{"deleted": {"true"}}
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	err := c.authCall(ctx, "GET", "/v1/secrets?"+q.Encode(), nil, &out)
	return out.Secrets, err
}

// SecretHistory is a secret's history with what describes the secret.
type SecretHistory struct {
	Name           string `json:"name"`
	Class          string `json:"class"`
	Env            string `json:"env"`
	CurrentVersion int    `json:"current_version"`
	Versions       []Meta `json:"versions"`
}

// HistoryOf returns the versions of a secret, without values, with its
// class, env name and current version.
func (c *Client) HistoryOf(ctx context.Context, name string) (SecretHistory, error) {
	if err := checkName(name); err != nil {
		return SecretHistory{}, err
	}
	var out SecretHistory
	err := c.authCall(ctx, "GET", "/v1/secrets/"+escapePath(name)+"/history", nil, &out)
	return out, err
}

// Format prints the entry without its value, under every verb.
func (e ImportEntry) Format(f fmt.State, _ rune) { fmt.Fprintf(f, "{%s %s}", e.Name, Redacted) }

// LogValue logs the entry without its value.
func (e ImportEntry) LogValue() slog.Value {
	return slog.GroupValue(slog.String("name", e.Name), slog.String("value", Redacted))
}
