package scan

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func walkScan(t *testing.T, paths ...string) ([]Finding, WalkStats, Stats, error) {
	t.Helper()
	var got []Finding
	var ws WalkStats
	st, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
		return Walk(paths, WalkOptions{}, &ws, send)
	}, nil, func(f Finding) error { got = append(got, f); return nil })
	return got, ws, st, err
}

// TestWalkSymlinkRoot: a root that is a symbolic link to a directory is
// walked under the name given (it was read as a file, an error dropped,
// and reported clean); a link to nothing is an error; links below a root
// are not followed.
func TestWalkSymlinkRoot(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pw := "password=Zq8!" + rnd(alnumSet, 12, 1000) + "\n"
	os.Mkdir(filepath.Join(dir, "real"), 0o755)
	os.WriteFile(filepath.Join(dir, "real", "a.env"), []byte(pw), 0o600)
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "b.env"), []byte(pw), 0o600)
	os.Symlink(outside, filepath.Join(dir, "real", "out"))
	os.Symlink(filepath.Join(outside, "b.env"), filepath.Join(dir, "real", "b.env"))
	link := filepath.Join(dir, "linkdir")
	os.Symlink("real", link)

	got, ws, st, err := walkScan(t, link)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Path != filepath.Join(link, "a.env") {
		t.Fatalf("findings %+v, want one in %s", got, filepath.Join(link, "a.env"))
	}
	if st.Files+ws.Files != 1 || len(ws.Errors)+len(st.Unreadable) != 0 {
		t.Errorf("stats %+v %+v", ws, st)
	}
	fileLink := filepath.Join(dir, "filelink")
	os.Symlink(filepath.Join("real", "a.env"), fileLink)
	if got, _, _, err := walkScan(t, fileLink); err != nil || len(got) != 1 || got[0].Path != fileLink {
		t.Errorf("a link to a file: %v %+v", err, got)
	}
	dangling := filepath.Join(dir, "dangling")
	os.Symlink("nowhere", dangling)
	if _, _, _, err := walkScan(t, dangling); err == nil {
		t.Error("a link to nothing: no error")
	}
}

// TestReadFileUnreadable: a file that opens but cannot be read (EIO) is
// recorded as unreadable, not scanned as empty and clean.
func TestReadFileUnreadable(t *testing.T) {
	t.Parallel()
	const mem = "/proc/self/mem" // opens, and reading offset 0 fails with EIO
	if _, err := os.Stat(mem); err != nil {
		t.Skip("no /proc/self/mem")
	}
	_, ws, st, err := walkScan(t, mem)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(ws.Errors, mem) {
		t.Fatalf("%s not recorded as unreadable: %+v %+v", mem, ws, st)
	}
}
