package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// initStore runs init as a new user does first, with getenv; admin's
// credential goes to a file in a temporary directory, whose path it
// returns.
func initStore(t testing.TB, getenv func(string) string) string {
	t.Helper()
	cred := filepath.Join(t.TempDir(), "admin.credential")
	var o, e bytes.Buffer
	if code := run(context.Background(), []string{"init", "--credential-file", cred}, strings.NewReader(""), &o, &e, getenv); code != 0 {
		t.Fatalf("init: exit %d: %s", code, e.String())
	}
	return cred
}
