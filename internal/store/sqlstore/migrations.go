package sqlstore

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"path"
	"slices"
	"text/template"
	"time"

	"github.com/pressly/goose/v3"
)

// sharedFS holds the migrations whose SQL both drivers run, but for the
// column types: those are template actions ({{.Time}}, ...) that [Types]
// fills in. An applied one never changes what it makes: each driver's
// testdata/schema records the schema of every version, to the byte of
// SQLite's CREATE text.
//
//go:embed migrations/*.sql
var sharedFS embed.FS

// Types are the column types of a driver's schema, as the shared
// migrations name them.
type Types struct {
	// ID is an integer primary key that the database numbers:
	// INTEGER (SQLite's rowid) or BIGSERIAL.
	ID string
	// Int64 is a 64-bit integer: INTEGER or BIGINT.
	Int64 string
	// Time is a time as Dialect.Timestamps stores it: INTEGER (Unix
	// microseconds) or TIMESTAMPTZ.
	Time string
	// Bytes is a byte string: BLOB or BYTEA.
	Bytes string
	// SHA256Check follows the declaration of a column "hash" that holds a
	// SHA-256: a CHECK of its length, or "" (the SQLite schema never had
	// one).
	SHA256Check string
}

// Migrations returns a driver's goose migrations, one file per schema
// version: the shared ones, rendered with types, and the driver's own
// (own's migrations/NNNNN_name.sql files) for the versions whose SQL
// differs beyond column types or that only the driver has. A version is
// either shared or the driver's, never both. Both sets are embedded at build
// time, so a clash or a template error is a bug: Migrations panics.
func Migrations(types Types, own fs.FS) fs.FS {
	files := memDir{}
	versions := map[int64]string{}
	add := func(name string, b []byte) {
		v, err := goose.NumericComponent(name)
		if err != nil {
			panic(fmt.Sprintf("sqlstore: migration %s: %v", name, err))
		}
		if other, ok := versions[v]; ok {
			panic(fmt.Sprintf("sqlstore: migrations %s and %s have one version", other, name))
		}
		versions[v] = name
		files[name] = b
	}
	shared, err := fs.Glob(sharedFS, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	for _, p := range shared {
		t, err := template.New(path.Base(p)).ParseFS(sharedFS, p)
		if err != nil {
			panic(err)
		}
		var b bytes.Buffer
		if err := t.Execute(&b, types); err != nil {
			panic(err)
		}
		add(path.Base(p), b.Bytes())
	}
	names, err := fs.Glob(own, "migrations/*.sql")
	if err != nil {
		panic(err)
	}
	for _, p := range names {
		b, err := fs.ReadFile(own, p)
		if err != nil {
			panic(err)
		}
		add(path.Base(p), b)
	}
	return files
}

// memDir is a read-only directory of files held in memory: a driver's
// rendered migrations.
type memDir map[string][]byte

// Open implements fs.FS.
func (d memDir) Open(name string) (fs.File, error) {
	if name == "." {
		es, _ := d.ReadDir(".")
		return &memFile{name: ".", dir: true, ents: es}, nil
	}
	b, ok := d[name]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return &memFile{name: name, Reader: bytes.NewReader(b), size: int64(len(b))}, nil
}

// ReadDir implements fs.ReadDirFS.
func (d memDir) ReadDir(name string) ([]fs.DirEntry, error) {
	if name != "." {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var es []fs.DirEntry
	for _, n := range slices.Sorted(maps.Keys(d)) {
		es = append(es, fs.FileInfoToDirEntry(memInfo{n, int64(len(d[n])), false}))
	}
	return es, nil
}

// memFile is an open file of a memDir, or the directory itself.
type memFile struct {
	*bytes.Reader
	name string
	size int64
	dir  bool
	ents []fs.DirEntry // the directory's entries not read yet
}

func (f *memFile) Stat() (fs.FileInfo, error) { return memInfo{f.name, f.size, f.dir}, nil }

func (f *memFile) Read(p []byte) (int, error) {
	if f.dir {
		return 0, &fs.PathError{Op: "read", Path: f.name, Err: fs.ErrInvalid}
	}
	return f.Reader.Read(p)
}

func (f *memFile) Close() error { return nil }

// ReadDir implements fs.ReadDirFile.
func (f *memFile) ReadDir(n int) ([]fs.DirEntry, error) {
	if !f.dir {
		return nil, &fs.PathError{Op: "readdir", Path: f.name, Err: fs.ErrInvalid}
	}
	if n > 0 && len(f.ents) == 0 {
		return nil, io.EOF
	}
	if n <= 0 || n > len(f.ents) {
		n = len(f.ents)
	}
	es := f.ents[:n]
	f.ents = f.ents[n:]
	return es, nil
}

// memInfo describes a memDir or one of its files.
type memInfo struct {
	name  string
	size  int64
	isDir bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.isDir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.isDir {
		return fs.ModeDir | 0o555
	}
	return 0o444
}
