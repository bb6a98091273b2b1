package safefile

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestWriteFileReplacesAtomically(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.env")
	if err := os.WriteFile(p, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(p, []byte("new\n"), Options{}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "new\n" {
		t.Fatalf("content %q, %v", b, err)
	}
	fi, _ := os.Stat(p)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", fi.Mode().Perm())
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Fatalf("stray files: %v", left)
	}
}

func TestWriteFileModeIgnoresUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "f")
	if err := WriteFile(p, []byte("x"), Options{Perm: 0o644}); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o644 {
		t.Fatalf("mode %v, want 0644", fi.Mode().Perm())
	}
}

func TestWriteFileRefusesLink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "pre-commit")
	if err := os.WriteFile(victim, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, ".sa01-baseline.json")
	if err := os.Symlink(victim, link); err != nil {
		t.Fatal(err)
	}
	err := WriteFile(link, []byte("{}"), Options{})
	if !errors.Is(err, ErrLink) {
		t.Fatalf("err = %v, want ErrLink", err)
	}
	if !strings.Contains(err.Error(), link) {
		t.Fatalf("error %q does not name the path", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "#!/bin/sh\n" {
		t.Fatalf("the link's target was written: %q", b)
	}
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the link was replaced")
	}
}

func TestCommitRefusesLinkPlantedWhileWriting(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	f, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("keep"), 0o600)
	if err := os.Symlink(victim, p); err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("data"))
	if err := f.Commit(); !errors.Is(err, ErrLink) {
		t.Fatalf("err = %v, want ErrLink", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Fatalf("victim written: %q", b)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".out.tmp-*")); len(left) != 0 {
		t.Fatalf("stray temporary files: %v", left)
	}
}

func TestAbortLeavesTargetAlone(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out")
	os.WriteFile(p, []byte("old"), 0o600)
	f, err := Create(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte("half"))
	f.Abort()
	f.Abort()
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("target changed: %q", b)
	}
	if left, _ := os.ReadDir(dir); len(left) != 1 {
		t.Fatalf("stray files: %v", left)
	}
	if err := f.Commit(); err == nil {
		t.Fatal("Commit after Abort succeeded")
	}
}

func TestCreateRefusesDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Create(dir, Options{}); err == nil {
		t.Fatal("a directory was accepted as a target")
	}
}

// TestReadPrivate: a secret's file that group or others may read or write
// is refused, as ssh refuses such a private key; a 0600 or 0400 one reads.
func TestReadPrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key")
	if err := os.WriteFile(p, []byte("SECRET-CONTENT"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []os.FileMode{0o600, 0o400} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		if b, err := ReadPrivate(p, 100); err != nil || string(b) != "SECRET-CONTENT" {
			t.Fatalf("mode %04o: %q, %v", mode, b, err)
		}
	}
	for _, mode := range []os.FileMode{0o640, 0o604, 0o644, 0o660, 0o602, 0o620} {
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		_, err := ReadPrivate(p, 100)
		if !errors.Is(err, ErrTooOpen) || !strings.Contains(err.Error(), p) || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("mode %04o: %v", mode, err)
		}
	}
	_ = os.Chmod(p, 0o600)
	if _, err := ReadPrivate(p, 5); err == nil || strings.Contains(err.Error(), "SECRET") {
		t.Fatalf("too large: %v", err)
	}
	if _, err := ReadPrivate(dir, 5); err == nil {
		t.Fatal("a directory was read")
	}
	if _, err := ReadPrivate(filepath.Join(dir, "missing"), 5); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("missing: %v", err)
	}
}
