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

// DockerImage sends the contents of a `docker save` archive: the image
// config's Env, Cmd, Entrypoint, Labels and build history (where build
// arguments appear), and every text file of every layer (gzip-compressed
// or not). Layer files are named ARCHIVE!LAYER/path.
func DockerImage(file string, st *ImageStats, send func(Unit) bool) error {
	mf, err := readManifest(file)
	if err != nil {
		return err
	}
	configs := map[string]bool{}
	layers := map[string]bool{}
	for _, m := range mf {
		configs[path.Clean(m.Config)] = true
		for _, l := range m.Layers {
			layers[path.Clean(l)] = true
		}
	}
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("scan: %s: %w", file, errors.Unwrap(err))
	}
	defer f.Close()
	budget := &budget{bytes: maxImageBytes, files: maxImageFiles}
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	base := path.Base(file)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("scan: %s: not a docker save archive: %w", file, err)
		}
		name := path.Clean(h.Name)
		switch {
		case configs[name]:
			b, err := ReadAllBounded(tr, maxConfig, "image config "+name)
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
		case layers[name]:
			st.Layers++
			id := layerID(name)
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
	if st.Layers == 0 && len(layers) > 0 {
		st.Errors = append(st.Errors, base+": no layer found in the archive")
	}
	return nil
}

func readManifest(file string) ([]imageManifest, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("scan: %s: %w", file, errors.Unwrap(err))
	}
	defer f.Close()
	tr := tar.NewReader(bufio.NewReaderSize(f, 1<<20))
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("scan: %s: no manifest.json: not a docker save archive", file)
		}
		if err != nil {
			return nil, fmt.Errorf("scan: %s: not a docker save archive: %w", file, err)
		}
		if path.Clean(h.Name) != "manifest.json" {
			continue
		}
		b, err := ReadAllBounded(tr, maxManifest, "manifest.json")
		if err != nil {
			return nil, err
		}
		var m []imageManifest
		if err := json.Unmarshal(b, &m); err != nil || len(m) == 0 {
			return nil, fmt.Errorf("scan: %s: manifest.json is not a docker save manifest", file)
		}
		return m, nil
	}
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
