// Package corpus generates text for measuring the scanner: logs and code
// in the shapes real services write (logfmt, JSON lines, access logs,
// tracebacks, panics, Kubernetes events, database and Redis server logs,
// env dumps, SQL statement logs, HTTP client debug output, CI logs, source
// code), full of non-secret identifiers in key-like fields (cache keys,
// credential scopes, key ids, digests, pagination tokens, ...), with
// secrets of every kind the platform meets planted among them in each
// provider's real format, and a record of where each one is.
//
// Everything is generated from a seed: no value is a real credential, and
// the same seed always gives the same bytes. The quality test and the
// benchmark use one seed to tune the rules against and another, held out,
// only to measure them (see [TuneSeed] and [HoldoutSeed]).
//
// The package imports only the standard library.
package corpus

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"sort"
)

// The seeds. Rules are tuned on TuneSeed; HoldoutSeed is only measured.
const (
	TuneSeed    uint64 = 1
	HoldoutSeed uint64 = 20261201
)

// Planted is one secret written into the corpus. Lines and columns are
// 1-based; a column counts bytes; EndCol is the column just after the
// secret's last byte on EndLine.
type Planted struct {
	Shape   string `json:"shape"`
	Kind    string `json:"kind"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	EndLine int    `json:"end_line"`
	EndCol  int    `json:"end_col"`
	Secret  string `json:"secret"`
}

// Run says that lines [From, To] were written by Shape (mixed logs only).
type Run struct {
	Shape    string `json:"shape"`
	From, To int
}

// Options tune the generated text.
type Options struct {
	// Seed makes the output reproducible.
	Seed uint64
	// Size is the number of bytes to write, at least (the last record is
	// completed).
	Size int64
	// SecretEvery plants a secret in about one record of this many (0:
	// 40). Every kind a shape knows is planted in turn, so that each kind
	// gets its share.
	SecretEvery int
	// Known values (managed secrets) that WriteMixed plants in encoded
	// forms, in about one burst of records in KnownEvery; kinds known-raw,
	// known-base64, known-base64url, known-url and known-hex.
	Known      []string
	KnownEvery int
}

// Shape is one kind of text.
type Shape struct {
	// Name identifies the shape; Ext is the file name extension it is
	// written with (source code is scanned as code).
	Name, Ext string
	// kinds are the secret kinds the shape plants.
	kinds []string
	// noise writes an ordinary record; secret writes one holding a secret
	// of the given kind.
	noise  func(g *gen, r *rec)
	secret func(g *gen, r *rec, kind string)
}

// Kinds lists the secret kinds the shape plants.
func (s *Shape) Kinds() []string { return append([]string(nil), s.kinds...) }

// Shapes returns every shape, in a fixed order.
func Shapes() []*Shape { return shapes() }

// ShapeNamed returns the shape called name, or nil.
func ShapeNamed(name string) *Shape {
	for _, s := range shapes() {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// Kinds returns every secret kind some shape plants, sorted.
func Kinds() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range shapes() {
		for _, k := range s.kinds {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// Write writes o.Size bytes of shape s to w and reports every planted
// secret to plant.
func (s *Shape) Write(w io.Writer, o Options, plant func(Planted)) error {
	g := newGen(w, o, plant)
	// Each shape draws from its own stream of the seed, so that one
	// shape's output does not depend on which others are written.
	g.r = rand.New(rand.NewPCG(o.Seed, hashName(s.Name)))
	order := g.kindOrder(s)
	for g.written < o.Size {
		g.record(s, &order)
	}
	return g.flush()
}

// WriteMixed writes o.Size bytes that interleave every shape in bursts of
// records, as a host's combined log does, and reports the planted secrets
// and which shape wrote which lines.
func WriteMixed(w io.Writer, o Options, plant func(Planted), run func(Run)) error {
	g := newGen(w, o, plant)
	g.r = rand.New(rand.NewPCG(o.Seed, hashName("mixed")))
	all := shapes()
	var logs []*Shape
	for _, s := range all {
		if s.Ext == ".log" {
			logs = append(logs, s)
		}
	}
	orders := make([][]string, len(logs))
	for i, s := range logs {
		orders[i] = g.kindOrder(s)
	}
	known := &Shape{Name: "known", Ext: ".log", kinds: []string{"known-raw", "known-base64", "known-base64url", "known-url", "known-hex"},
		noise:  func(*gen, *rec) {},
		secret: func(g *gen, r *rec, kind string) { g.knownRecord(r, kind, o.Known) }}
	korder := g.kindOrder(known)
	for g.written < o.Size {
		if len(o.Known) > 0 && o.KnownEvery > 0 && g.r.IntN(o.KnownEvery) == 0 {
			from := g.line + 1
			saved := g.every
			g.every = 1
			g.record(known, &korder)
			g.every = saved
			if run != nil {
				run(Run{Shape: known.Name, From: from, To: g.line})
			}
			continue
		}
		i := g.r.IntN(len(logs))
		from := g.line + 1
		for n := 1 + g.r.IntN(40); n > 0 && g.written < o.Size; n-- {
			g.record(logs[i], &orders[i])
		}
		if run != nil {
			run(Run{Shape: logs[i].Name, From: from, To: g.line})
		}
	}
	return g.flush()
}

// knownRecord writes a line carrying one of the known values, in the
// encoding kind names, as a proxy forwarding an upstream credential does.
func (g *gen) knownRecord(r *rec, kind string, known []string) {
	v := known[g.r.IntN(len(known))]
	var enc string
	switch kind {
	case "known-raw":
		enc = v
	case "known-base64":
		enc = base64.StdEncoding.EncodeToString([]byte(v))
	case "known-base64url":
		enc = base64.RawURLEncoding.EncodeToString([]byte(v))
	case "known-url":
		enc = url.QueryEscape(v)
	default:
		enc = hex.EncodeToString([]byte(v))
	}
	r.f("%s DEBUG proxy request_id=%s forwarded header x-upstream-%s: ", g.rfc3339ms(), g.requestID(), g.pick("credential", "auth", "sig"))
	r.secret(kind, enc)
}

// KnownValues returns n values for Options.Known: managed secrets as the
// platform stores them (API keys, passwords, tokens), from the seed.
func KnownValues(seed uint64, n int) []string {
	g := &gen{r: rand.New(rand.NewPCG(seed, hashName("known")))}
	out := make([]string, n)
	for i := range out {
		out[i] = g.rs(b64urlSet, 24+g.r.IntN(40))
	}
	return out
}

func hashName(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// gen holds the state of one generation: the random source, the output
// and the line count.
type gen struct {
	r       *rand.Rand
	w       *bufio.Writer
	plant   func(Planted)
	every   int
	line    int // lines written
	written int64
	err     error
	shape   string
	ts      int64 // milliseconds since the epoch of the current record
	r0      rec
}

func newGen(w io.Writer, o Options, plant func(Planted)) *gen {
	every := o.SecretEvery
	if every <= 0 {
		every = 40
	}
	if plant == nil {
		plant = func(Planted) {}
	}
	return &gen{w: bufio.NewWriterSize(w, 1<<20), plant: plant, every: every, ts: 1741773600000}
}

// kindOrder is the shape's kinds shuffled; record plants them in turn.
func (g *gen) kindOrder(s *Shape) []string {
	order := append([]string(nil), s.kinds...)
	g.r.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
	return order
}

func (g *gen) record(s *Shape, order *[]string) {
	r := &g.r0
	r.reset()
	g.shape = s.Name
	g.ts += int64(1 + g.r.IntN(400))
	if len(*order) > 0 && g.r.IntN(g.every) == 0 {
		kind := (*order)[0]
		*order = append((*order)[1:], kind)
		s.secret(g, r, kind)
	} else {
		s.noise(g, r)
	}
	if len(r.b) == 0 || r.b[len(r.b)-1] != '\n' {
		r.b = append(r.b, '\n')
	}
	for _, p := range r.planted {
		g.plant(g.locate(r.b, p))
	}
	if g.err == nil {
		_, g.err = g.w.Write(r.b)
	}
	g.written += int64(len(r.b))
	g.line += bytes.Count(r.b, []byte{'\n'})
}

func (g *gen) locate(b []byte, p pending) Planted {
	at := func(off int) (line, col int) {
		nl := bytes.Count(b[:off], []byte{'\n'})
		ls := bytes.LastIndexByte(b[:off], '\n') + 1
		return g.line + 1 + nl, off - ls + 1
	}
	l, c := at(p.off)
	el, ec := at(p.end)
	return Planted{Shape: g.shape, Kind: p.kind, Line: l, Col: c, EndLine: el, EndCol: ec, Secret: string(b[p.off:p.end])}
}

func (g *gen) flush() error {
	if g.err != nil {
		return g.err
	}
	return g.w.Flush()
}

// rec is one record being written: one or more lines, and the secrets in
// it.
type rec struct {
	b       []byte
	planted []pending
}

type pending struct {
	kind     string
	off, end int
}

func (r *rec) reset() {
	r.b = r.b[:0]
	r.planted = r.planted[:0]
}

// f appends formatted text.
func (r *rec) f(format string, a ...any) { r.b = fmt.Appendf(r.b, format, a...) }

// s appends text.
func (r *rec) s(text string) { r.b = append(r.b, text...) }

// secret appends a secret value and records where it is.
func (r *rec) secret(kind, v string) {
	r.planted = append(r.planted, pending{kind: kind, off: len(r.b), end: len(r.b) + len(v)})
	r.b = append(r.b, v...)
}

// sf appends text in which the secret v appears once, as %S; the rest of
// format is literal (no other verbs).
func (r *rec) sf(kind, format, v string) {
	i := bytes.Index([]byte(format), []byte("%S"))
	if i < 0 {
		panic("corpus: no %S in " + format)
	}
	r.s(format[:i])
	r.secret(kind, v)
	r.s(format[i+2:])
}
