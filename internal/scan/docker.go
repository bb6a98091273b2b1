package scan

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
)

// Bounds on a docker image archive, so that a hostile archive cannot
// exhaust memory or time.
const (
	maxManifest   = 1 << 20 // manifest.json
	maxConfig     = 8 << 20 // the image config
	maxImageBytes = 8 << 30 // all layer contents, decompressed
	maxImageFiles = 1 << 20 // files in all layers
)

// ImageStats counts what an image scan saw.
type ImageStats struct {
	Layers   int
	Files    int
	Binaries int
	Errors   []string // what could not be scanned (the scan is partial)
}

type imageManifest struct {
	Config string
	Layers []string
}

type imageConfig struct {
	Config struct {
		Env        []string
		Cmd        []string
		Entrypoint []string
		Labels     map[string]string
	} `json:"config"`
	History []struct {
		CreatedBy string `json:"created_by"`
		Comment   string `json:"comment"`
	} `json:"history"`
}

// maxEntries bounds the entries of the archive itself (not of its layers).
const maxEntries = 1 << 16

// DockerImage sends the contents of a `docker save` archive: the image
// config's Env, Cmd, Entrypoint, Labels and build history (where build
// arguments appear), and every text file of every layer (gzip-compressed
// or not). Layer files are named ARCHIVE!LAYER/path.
//
// Every config and layer manifest.json names is read, through links inside
// the archive (docker save links a layer that two images share); one that
// is absent, that leads out of the archive or to something other than a
// file, or that cannot be read is recorded in st.Errors: the scan is then
// partial, never clean.
func DockerImage(file string, st *ImageStats, send func(Unit) bool) error {
	mf, entries, err := readIndex(file)
	if err != nil {
		return err
	}
	base := path.Base(file)
	configs := map[string]string{} // entry to read: the name manifest.json gives it
	layers := map[string]string{}
	want := func(set map[string]string, kind, name string) {
		target, err := resolveEntry(entries, name)
		if err != nil {
			st.Errors = append(st.Errors, fmt.Sprintf("%s: %s %s named in manifest.json: %v", base, kind, name, err))
			return
		}
		if _, ok := set[target]; !ok {
			set[target] = name
		}
	}
	for _, m := range mf {
		want(configs, "config", m.Config)
		for _, l := range m.Layers {
			want(layers, "layer", l)
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("scan: %s: %w", file, errors.Unwrap(err))
	}
	defer f.Close()
	budget := &budget{bytes: maxImageBytes, files: maxImageFiles}
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("scan: %s: not a docker save archive: %w", file, err)
		}
		name := entryName(h.Name)
		if !isRegular(h.Typeflag) {
			continue
		}
		if listed, ok := configs[name]; ok {
			seen[name] = true
			b, err := ReadAllBounded(tr, maxConfig, "image config "+listed)
			if err != nil {
				st.Errors = append(st.Errors, err.Error())
				continue
			}
			u, err := configUnit(base, b)
			if err != nil {
				st.Errors = append(st.Errors, base+": image config: "+err.Error())
				continue
			}
			if !send(u) {
				return errStopped
			}
		}
		if listed, ok := layers[name]; ok {
			seen[name] = true
			st.Layers++
			id := layerID(path.Clean(listed))
			if err := scanLayer(tr, base+"!"+id, budget, st, send); err != nil {
				if errors.Is(err, errStopped) {
					return err
				}
				st.Errors = append(st.Errors, base+"!"+id+": "+err.Error())
				if errors.Is(err, errBudget) {
					return nil
				}
			}
		}
	}
	var missing []string
	for _, set := range []map[string]string{configs, layers} {
		for target, listed := range set {
			if !seen[target] {
				missing = append(missing, fmt.Sprintf("%s: %s, named in manifest.json, is not in the archive", base, listed))
			}
		}
	}
	sort.Strings(missing)
	st.Errors = append(st.Errors, missing...)
	return nil
}

// tarEntry is what the index keeps of the entries of one name.
type tarEntry struct {
	regular bool   // one of them is a regular file
	typ     byte   // else the type of the last one
	link    string // and where it links to
}

func entryName(n string) string { return strings.TrimPrefix(path.Clean("/"+n), "/") }

func isRegular(t byte) bool { return t == tar.TypeReg || t == 0 } // 0: the old TypeRegA

// readIndex reads manifest.json and the name and type of every entry.
func readIndex(file string) ([]imageManifest, map[string]tarEntry, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, nil, fmt.Errorf("scan: %s: %w", file, errors.Unwrap(err))
	}
	defer f.Close()
	tr := tar.NewReader(f) // a file: tar seeks over the contents
	entries := map[string]tarEntry{}
	var mf []imageManifest
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, nil, fmt.Errorf("scan: %s: not a docker save archive: %w", file, err)
		}
		name := entryName(h.Name)
		e := entries[name]
		if isRegular(h.Typeflag) {
			e.regular = true
		} else {
			e.typ, e.link = h.Typeflag, h.Linkname
		}
		entries[name] = e
		if len(entries) > maxEntries {
			return nil, nil, fmt.Errorf("scan: %s: more than %d entries: not a docker save archive", file, maxEntries)
		}
		if name != "manifest.json" || !isRegular(h.Typeflag) {
			continue
		}
		b, err := ReadAllBounded(tr, maxManifest, "manifest.json")
		if err != nil {
			return nil, nil, err
		}
		if err := json.Unmarshal(b, &mf); err != nil || len(mf) == 0 {
			return nil, nil, fmt.Errorf("scan: %s: manifest.json is not a docker save manifest", file)
		}
	}
	if mf == nil {
		return nil, nil, fmt.Errorf("scan: %s: no manifest.json: not a docker save archive", file)
	}
	return mf, entries, nil
}

// resolveEntry follows name through the archive's symbolic and hard links
// to a regular file, whose name it returns.
func resolveEntry(entries map[string]tarEntry, name string) (string, error) {
	name = entryName(name)
	for range 16 {
		e, ok := entries[name]
		switch {
		case !ok:
			return "", errors.New("not in the archive")
		case e.regular:
			return name, nil
		case e.typ == tar.TypeSymlink:
			if path.IsAbs(e.link) {
				return "", errors.New("a symbolic link out of the archive")
			}
			next := path.Join(path.Dir(name), e.link)
			if next == ".." || strings.HasPrefix(next, "../") {
				return "", errors.New("a symbolic link out of the archive")
			}
			name = next
		case e.typ == tar.TypeLink:
			name = entryName(e.link)
		default:
			return "", fmt.Errorf("not a file (tar type %q)", e.typ)
		}
	}
	return "", errors.New("a chain of more than 16 links")
}

func layerID(name string) string {
	id := strings.TrimSuffix(name, "/layer.tar")
	id = path.Base(id)
	id = strings.TrimSuffix(id, ".tar")
	id = strings.TrimSuffix(id, ".tar.gz")
	if len(id) > 12 {
		id = id[:12]
	}
	return id
}

// configUnit renders the config's scannable fields, one per line.
func configUnit(base string, b []byte) (Unit, error) {
	var c imageConfig
	if err := json.Unmarshal(b, &c); err != nil {
		return Unit{}, errors.New("not JSON")
	}
	u := Unit{}
	add := func(where, text string) {
		for _, l := range strings.Split(text, "\n") {
			u.Data = append(u.Data, l...)
			u.Data = append(u.Data, '\n')
			u.Lines = append(u.Lines, LineInfo{Path: base + "!config:" + where, Line: 1})
		}
	}
	for i, e := range c.Config.Env {
		add(fmt.Sprintf("Env[%d]", i), e)
	}
	if len(c.Config.Cmd) > 0 {
		add("Cmd", strings.Join(c.Config.Cmd, " "))
	}
	if len(c.Config.Entrypoint) > 0 {
		add("Entrypoint", strings.Join(c.Config.Entrypoint, " "))
	}
	keys := make([]string, 0, len(c.Config.Labels))
	for k := range c.Config.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		add("Labels."+k, k+"="+c.Config.Labels[k])
	}
	for i, h := range c.History {
		add(fmt.Sprintf("history[%d]", i), h.CreatedBy)
		if h.Comment != "" {
			add(fmt.Sprintf("history[%d].comment", i), h.Comment)
		}
	}
	return u, nil
}

var errBudget = errors.New("archive exceeds the scan's size bounds; the rest is not scanned")

type budget struct {
	bytes int64
	files int
}

type budgetReader struct {
	r io.Reader
	b *budget
}

func (r budgetReader) Read(p []byte) (int, error) {
	if r.b.bytes <= 0 {
		return 0, errBudget
	}
	if int64(len(p)) > r.b.bytes {
		p = p[:r.b.bytes]
	}
	n, err := r.r.Read(p)
	r.b.bytes -= int64(n)
	return n, err
}

func scanLayer(r io.Reader, prefix string, b *budget, st *ImageStats, send func(Unit) bool) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var lr io.Reader = br
	if magic, _ := br.Peek(2); bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return err
		}
		defer gz.Close()
		lr = gz
	}
	tr := tar.NewReader(budgetReader{lr, b})
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg || strings.HasPrefix(path.Base(h.Name), ".wh.") {
			continue
		}
		b.files--
		if b.files < 0 {
			return errBudget
		}
		fr := bufio.NewReaderSize(tr, binarySniff)
		head, _ := fr.Peek(binarySniff)
		if bytes.IndexByte(head, 0) >= 0 {
			st.Binaries++
			continue
		}
		st.Files++
		name := prefix + "/" + strings.TrimPrefix(path.Clean("/"+h.Name), "/")
		size := ChunkSize
		if h.Size < int64(size) {
			size = int(h.Size) + 1
		}
		if err := chunks(fr, name, size, IsCodePath(name), send); err != nil {
			return err
		}
	}
}
