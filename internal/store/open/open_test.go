package open

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLocate(t *testing.T) {
	for _, c := range []struct {
		dsn  string
		env  map[string]string
		want Location
	}{
		{"", map[string]string{"XDG_DATA_HOME": "/data", "HOME": "/home/a"}, Location{SQLitePath: "/data/sa01-secrets/secrets.db"}},
		{"", map[string]string{"XDG_DATA_HOME": "relative", "HOME": "/home/a"}, Location{SQLitePath: "/home/a/.local/share/sa01-secrets/secrets.db"}},
		{"sqlite:///var/lib/sa01/../sa01/s.db", nil, Location{SQLitePath: "/var/lib/sa01/s.db"}},
		{"postgres://u:pw@h/db", nil, Location{PostgresDSN: "postgres://u:pw@h/db"}},
		{"postgresql://h/db", nil, Location{PostgresDSN: "postgresql://h/db"}},
	} {
		got, err := Locate(c.dsn, env(c.env))
		if err != nil || got != c.want {
			t.Errorf("Locate(%q) = %+v, %v; want %+v", c.dsn, got, err, c.want)
		}
	}
	if s := (Location{PostgresDSN: "postgres://u:pw@h/db"}).String(); strings.Contains(s, "pw") {
		t.Errorf("String shows the password: %s", s)
	}
}

func TestLocateRefuses(t *testing.T) {
	for _, dsn := range []string{"", "sqlite://relative.db", "mysql://h/db"} {
		_, err := Locate(dsn, env(map[string]string{"HOME": "relative"}))
		var fe *fault.Error
		if !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint == "" {
			t.Errorf("Locate(%q): %v, want a usage fault with a hint", dsn, err)
		}
	}
}

// Existing never creates a store; At does.
func TestExistingAndAt(t *testing.T) {
	ctx := context.Background()
	loc := Location{SQLitePath: filepath.Join(t.TempDir(), "s.db")}
	_, err := Existing(ctx, loc)
	var fe *fault.Error
	if !errors.As(err, &fe) || fe.Class != fault.Unavailable || !strings.Contains(err.Error(), "init creates one") {
		t.Fatalf("Existing on a missing store: %v", err)
	}
	st, err := At(ctx, loc)
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	st, err = Existing(ctx, loc)
	if err != nil {
		t.Fatalf("Existing after At: %v", err)
	}
	st.Close()
}
