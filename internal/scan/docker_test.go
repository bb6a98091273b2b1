package scan

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// tarEntrySpec is one entry of a test archive: a file, a directory when
// dir, or a link when link is set (hard when hard).
type tarEntrySpec struct {
	name, link string
	hard, dir  bool
	data       []byte
}

func tarBytes(t testing.TB, entries []tarEntrySpec) []byte {
	t.Helper()
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: 0o644, Size: int64(len(e.data)), Typeflag: tar.TypeReg}
		if e.link != "" {
			h.Size, h.Linkname, h.Typeflag = 0, e.link, tar.TypeSymlink
			if e.hard {
				h.Typeflag = tar.TypeLink
			}
		}
		if e.dir {
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write(e.data)
	}
	tw.Close()
	return b.Bytes()
}

// TestDockerManifestEntries: every config and layer manifest.json names is
// read, through links inside the archive; one that is absent or leads out
// of the archive makes the scan partial. An archive naming an absent config
// or one absent layer of two, or whose layer is a link, reported clean.
func TestDockerManifestEntries(t *testing.T) {
	t.Parallel()
	pw := "password=Zq8!" + rnd(alnumSet, 12, 1100) + "\n"
	secretLayer := tarBytes(t, []tarEntrySpec{{name: "etc/app.env", data: []byte(pw)}})
	cleanLayer := tarBytes(t, []tarEntrySpec{{name: "etc/motd", data: []byte("hello\n")}})
	config, _ := json.Marshal(map[string]any{"config": map[string]any{"Env": []string{"PATH=/bin"}}})
	manifest := func(cfg string, layers ...string) tarEntrySpec {
		m, _ := json.Marshal([]map[string]any{{"Config": cfg, "Layers": layers}})
		return tarEntrySpec{name: "manifest.json", data: m}
	}
	for _, tc := range []struct {
		name     string
		entries  []tarEntrySpec
		findings int
		errors   []string // substrings, one per expected error
	}{
		{"all there", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", data: secretLayer}, manifest("c.json", "l1/layer.tar")}, 1, nil},
		{"one layer of two absent", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", data: cleanLayer}, manifest("c.json", "l1/layer.tar", "l2/layer.tar")}, 0,
			[]string{"layer l2/layer.tar named in manifest.json: not in the archive"}},
		{"config absent", []tarEntrySpec{{name: "l1/layer.tar", data: cleanLayer}, manifest("c.json", "l1/layer.tar")}, 0,
			[]string{"config c.json named in manifest.json: not in the archive"}},
		{"layer is a symbolic link", []tarEntrySpec{{name: "c.json", data: config}, {name: "blobs/sha256/abc", data: secretLayer},
			{name: "l1/layer.tar", link: "../blobs/sha256/abc"}, manifest("c.json", "l1/layer.tar")}, 1, nil},
		{"layer is a hard link", []tarEntrySpec{{name: "c.json", data: config}, {name: "blobs/sha256/abc", data: secretLayer},
			{name: "l1/layer.tar", link: "blobs/sha256/abc", hard: true}, manifest("c.json", "l1/layer.tar")}, 1, nil},
		{"two layers link to one", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", data: secretLayer},
			{name: "l2/layer.tar", link: "../l1/layer.tar"}, manifest("c.json", "l1/layer.tar", "l2/layer.tar")}, 1, nil},
		{"link out of the archive", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", link: "../../etc/passwd"}, manifest("c.json", "l1/layer.tar")}, 0,
			[]string{"out of the archive"}},
		{"link to a link to nothing", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", link: "l2"}, {name: "l1/l2", link: "gone"}, manifest("c.json", "l1/layer.tar")}, 0,
			[]string{"not in the archive"}},
		{"link loop", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar", link: "x"}, {name: "l1/x", link: "layer.tar"}, manifest("c.json", "l1/layer.tar")}, 0,
			[]string{"more than 16 links"}},
		{"layer is a directory", []tarEntrySpec{{name: "c.json", data: config}, {name: "l1/layer.tar/", dir: true}, manifest("c.json", "l1/layer.tar")}, 0,
			[]string{"layer l1/layer.tar"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "image.tar")
			os.WriteFile(file, tarBytes(t, tc.entries), 0o600)
			var st ImageStats
			var got []Finding
			_, err := New(nil).Run(context.Background(), 2, func(send func(Unit) bool) error {
				return DockerImage(file, &st, send)
			}, nil, func(f Finding) error { got = append(got, f); return nil })
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != tc.findings {
				t.Errorf("%d findings, want %d: %+v", len(got), tc.findings, got)
			}
			if len(st.Errors) != len(tc.errors) {
				t.Fatalf("errors %q, want %d like %q", st.Errors, len(tc.errors), tc.errors)
			}
			for i, want := range tc.errors {
				if !strings.Contains(st.Errors[i], want) {
					t.Errorf("error %q, want %q in it", st.Errors[i], want)
				}
			}
		})
	}
}
