package scan

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzDockerImage builds a `docker save` archive from a layout (one entry a
// line: NAME, NAME/ a directory, NAME -> TARGET a symbolic link, NAME =>
// TARGET a hard link) and a manifest.json. Every other .json entry is an
// image config, and every other file a layer, each holding a known value.
// DockerImage never panics; a refusal says what the archive is not; a unit
// with origins per line has one per line, under the archive's name; and a scan that
// reports nothing unscanned found the known value.
func FuzzDockerImage(f *testing.F) {
	const known = "known-value-1"
	layer := tarBytes(f, []tarEntrySpec{{name: "etc/app.env", data: []byte("K=" + known + "\n")}})
	config, _ := json.Marshal(map[string]any{"config": map[string]any{"Env": []string{"K=" + known}, "Labels": map[string]string{"a\nb": "c"}},
		"history": []map[string]string{{"created_by": "RUN x\ny", "comment": "z"}}})
	manifest := func(cfg string, layers ...string) []byte {
		m, _ := json.Marshal([]map[string]any{{"Config": cfg, "Layers": layers}})
		return m
	}
	f.Add("c.json\nl1/layer.tar\nmanifest.json", manifest("c.json", "l1/layer.tar"))
	f.Add("c.json\nblobs/sha256/abc\nl1/layer.tar -> ../blobs/sha256/abc\nl2/layer.tar => blobs/sha256/abc\nmanifest.json", manifest("c.json", "l1/layer.tar", "l2/layer.tar"))
	f.Add("c.json\nl1/layer.tar -> x\nl1/x -> layer.tar\nmanifest.json", manifest("c.json", "l1/layer.tar"))
	f.Add("c.json\nl1/layer.tar -> ../../etc/passwd\nl2/\nmanifest.json", manifest("c.json", "l1/layer.tar", "l2/", "/c.json"))
	f.Add("manifest.json\nmanifest.json -> c.json\nc.json", []byte(`[{"Config":"c.json"}]`))
	s := New(NewKnownSet([]KnownValue{{Name: "k", Version: 1, Value: []byte(known)}}))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, layout string, mf []byte) {
		var entries []tarEntrySpec
		for _, l := range strings.Split(layout, "\n") {
			if len(entries) == 64 {
				break
			}
			var e tarEntrySpec
			switch name, target, ok := strings.Cut(l, " -> "); {
			case ok:
				e = tarEntrySpec{name: name, link: target}
			default:
				if name, target, ok := strings.Cut(l, " => "); ok {
					e = tarEntrySpec{name: name, link: target, hard: true}
					break
				}
				e = tarEntrySpec{name: l, dir: strings.HasSuffix(l, "/")}
				switch {
				case e.dir:
				case filepath.Base(l) == "manifest.json":
					e.data = mf
				case strings.HasSuffix(l, ".json"):
					e.data = config
				default:
					e.data = layer
				}
			}
			if e.name == "" || len(e.name) > 100 || len(e.link) > 100 || strings.ContainsRune(e.name+e.link, 0) {
				continue
			}
			entries = append(entries, e)
		}
		file := filepath.Join(dir, "image.tar")
		if err := os.WriteFile(file, tarBytes(t, entries), 0o600); err != nil {
			t.Fatal(err)
		}
		var st ImageStats
		found := false
		err := DockerImage(file, &st, func(u Unit) bool {
			if n := bytes.Count(u.Data, []byte("\n")); u.Lines != nil && n != len(u.Lines) && !(n == 0 && len(u.Lines) == 1) {
				t.Fatalf("%d lines, %d origins: %q", n, len(u.Lines), u.Data)
			}
			for _, li := range append([]LineInfo{{Path: u.Path}}, u.Lines...) {
				if li.Path != "" && !strings.HasPrefix(li.Path, "image.tar!") {
					t.Fatalf("unit from %q", li.Path)
				}
			}
			for _, fd := range s.ScanUnit(u) {
				found = found || fd.Rule == RuleKnown
			}
			return true
		})
		if err != nil {
			if !strings.Contains(err.Error(), "not a docker save") && !strings.Contains(err.Error(), "no manifest.json") && !strings.Contains(err.Error(), "larger than") {
				t.Fatalf("refusal %v", err)
			}
			return
		}
		if len(st.Errors) == 0 && !found {
			t.Fatalf("clean scan without the known value: %q, %q", layout, mf)
		}
	})
}
