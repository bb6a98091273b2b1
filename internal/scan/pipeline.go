package scan

import (
	"bytes"
	"context"
	"runtime"
	"sync"
)

// Unit is one piece of input: whole lines of one file or stream, or added
// lines from git with their origin.
type Unit struct {
	Path string
	Data []byte
	// Lead is how many bytes at the start of Data come before the unit:
	// the end of the previous unit of a stream, there for the rules that
	// read the line before a value (a YAML env entry's name, a statement
	// a log's parameters belong to), not scanned for findings. FirstLine
	// and ColOffset count from Data[Lead:].
	Lead      int
	FirstLine int // line number of Data's first line, from 1
	ColOffset int // bytes of the first line that came before Data (a cut inside a huge line)
	// Lines, when set, gives the origin of each line of Data instead of
	// Path and FirstLine (git history, image metadata).
	Lines []LineInfo
	// Commit, when set, is the commit of every line (a blob of git's
	// history read whole).
	Commit *Commit
	// Code marks source code, where an unquoted value is an expression and
	// never a literal secret.
	Code bool

	// load, when set, produces the unit's data in the worker (a file of a
	// walk, read there so that reads run in parallel).
	load func(emit func(Unit) bool) fileCounts
}

// LineInfo is where one line of a Unit comes from.
type LineInfo struct {
	Path   string
	Line   int
	Commit *Commit
}

// Commit identifies a git commit.
type Commit struct {
	Hash, Author, Date string
}

// Finding is a reported secret. It never holds the secret: Excerpt is the
// line with every secret on it replaced by "****", and Fingerprint, set
// only when the scanner has a [FingerprintKey], is a keyed hash of the
// rule, the path and the secret.
type Finding struct {
	Path          string `json:"path"`
	Line          int    `json:"line"`
	Column        int    `json:"column"`
	EndColumn     int    `json:"end_column"`
	Rule          string `json:"rule"`
	Description   string `json:"description"`
	SecretName    string `json:"secret_name,omitempty"`
	SecretVersion int    `json:"secret_version,omitempty"`
	Form          string `json:"form,omitempty"`
	Excerpt       string `json:"excerpt"`
	Commit        string `json:"commit,omitempty"`
	Author        string `json:"author,omitempty"`
	Date          string `json:"date,omitempty"`
	Fingerprint   string `json:"fingerprint,omitempty"`
}

// Explained is a dropped candidate with its location, for --explain.
type Explained struct {
	Path   string
	Line   int
	Column int
	Rule   string
	Reason string
}

// Stats counts what a run scanned. Files, Binaries and Unreadable count
// the files of directory walks, which workers read.
type Stats struct {
	Units      int
	Bytes      int64
	Files      int
	Binaries   int
	Unreadable []string
}

type job struct {
	seq  int
	unit Unit
}

// result is what a worker found in one unit of a job: a job is a unit, or
// a file read by the worker and scanned in several units (last marks the
// job's final result, which carries the file counts).
type result struct {
	seq      int
	findings []Finding
	explains []Explained
	bytes    int
	counts   fileCounts
	last     bool
}

// maxAhead bounds the findings and explanations a worker holds for a file
// that is not next in line: past it the worker waits for the file's turn
// before it scans more of it. The file next in line streams its findings
// to the sink as each unit is scanned, so memory does not grow with the
// findings of a file, whatever their number.
const maxAhead = 4096

// aheadHook, when set (by tests only), is called when a worker stops to
// wait for its job's turn, with the findings it holds.
var aheadHook func(seq, held int)

// turns tells workers which job is next in line.
type turns struct {
	mu    sync.Mutex
	head  int
	moved chan struct{}
}

func (t *turns) isHead(seq int) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.head >= seq
}

// wait returns when seq is next in line (true) or ctx ends (false).
func (t *turns) wait(ctx context.Context, seq int) bool {
	for {
		t.mu.Lock()
		head, moved := t.head, t.moved
		t.mu.Unlock()
		if head >= seq {
			return true
		}
		select {
		case <-moved:
		case <-ctx.Done():
			return false
		}
	}
}

func (t *turns) advance(head int) {
	t.mu.Lock()
	t.head = head
	close(t.moved)
	t.moved = make(chan struct{})
	t.mu.Unlock()
}

// Run scans the units that produce sends, on workers goroutines (0: one
// per CPU), and passes findings to sink in input order. send returns false
// when the run is over (the context ended or the sink failed); produce
// should then return. Memory is bounded: at most a few units per worker are
// in flight, findings reach the sink as their unit is scanned (a file's
// findings are not gathered first), and a file scanned ahead of its turn
// holds at most maxAhead findings.
func (s *Scanner) Run(ctx context.Context, workers int, produce func(send func(Unit) bool) error, explain func(Explained), sink func(Finding) error) (Stats, error) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	jobs := make(chan job, workers)
	results := make(chan result, workers)
	sem := make(chan struct{}, 2*workers+2)
	t := &turns{moved: make(chan struct{})}
	var prodErr error
	go func() {
		defer close(jobs)
		seq := 0
		prodErr = produce(func(u Unit) bool {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			select {
			case jobs <- job{seq, u}:
				seq++
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			send := func(r result) bool {
				select {
				case results <- r:
					return true
				case <-ctx.Done():
					return false
				}
			}
			for j := range jobs {
				if j.unit.load == nil {
					f, e := s.scanUnit(j.unit, explain != nil)
					send(result{seq: j.seq, findings: f, explains: e, bytes: len(j.unit.Data) - j.unit.Lead, last: true})
					continue
				}
				held := 0
				counts := j.unit.load(func(u Unit) bool {
					f, e := s.scanUnit(u, explain != nil)
					if !send(result{seq: j.seq, findings: f, explains: e, bytes: len(u.Data) - u.Lead}) {
						return false
					}
					if !t.isHead(j.seq) {
						if held += len(f) + len(e); held > maxAhead {
							if aheadHook != nil {
								aheadHook(j.seq, held)
							}
							if !t.wait(ctx, j.seq) {
								return false
							}
						}
					}
					return ctx.Err() == nil
				})
				send(result{seq: j.seq, counts: counts, last: true})
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()
	var st Stats
	var sinkErr error
	deliver := func(r *result) {
		st.Bytes += int64(r.bytes)
		if r.last {
			st.Units++
			st.Files += r.counts.files
			st.Binaries += r.counts.binaries
			st.Unreadable = append(st.Unreadable, r.counts.errors...)
		}
		if sinkErr != nil {
			return
		}
		for _, e := range r.explains {
			explain(e)
		}
		for _, f := range r.findings {
			if err := sink(f); err != nil {
				sinkErr = err
				cancel()
				return
			}
		}
	}
	pending := map[int]*result{} // results of jobs not yet next in line, merged per job
	next := 0
	for r := range results {
		if r.seq != next {
			p := pending[r.seq]
			if p == nil {
				pending[r.seq] = &r
				continue
			}
			p.findings = append(p.findings, r.findings...)
			p.explains = append(p.explains, r.explains...)
			p.bytes += r.bytes
			if r.last {
				p.last, p.counts = true, r.counts
			}
			continue
		}
		deliver(&r)
		if !r.last {
			continue
		}
		for {
			next++
			<-sem
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			deliver(p)
			if !p.last {
				break
			}
		}
		t.advance(next)
	}
	if sinkErr != nil {
		return st, sinkErr
	}
	if err := ctx.Err(); err != nil {
		return st, err
	}
	return st, prodErr
}

// ScanUnit scans one unit without the pipeline.
func (s *Scanner) ScanUnit(u Unit) []Finding {
	f, _ := s.scanUnit(u, false)
	return f
}

func (s *Scanner) scanUnit(u Unit, explain bool) ([]Finding, []Explained) {
	var drops []Drop
	var cb func(Drop)
	if explain {
		cb = func(d Drop) { drops = append(drops, d) }
	}
	ms := s.find(u.Data, u.Code, true, false, cb)
	if u.Lead > 0 {
		// What starts in the lead is the previous unit's.
		i := 0
		for i < len(ms) && ms[i].Start < u.Lead {
			i++
		}
		ms = ms[i:]
		kept := drops[:0]
		for _, d := range drops {
			if d.Start >= u.Lead {
				kept = append(kept, d)
			}
		}
		drops = kept
	}
	if len(ms) == 0 && len(drops) == 0 {
		return nil, nil
	}
	loc := newLocator(u)
	var out []Finding
	lineEnd, lineEndFor := 0, -1
	for i, m := range ms {
		path, line, col, commit := loc.at(m.Start)
		ls := loc.lineStart
		if lineEndFor != ls {
			lineEndFor = ls
			lineEnd = len(u.Data)
			if e := bytes.IndexByte(u.Data[m.Start:], '\n'); e >= 0 {
				lineEnd = m.Start + e
			}
		}
		le := lineEnd
		f := Finding{
			Path: path, Line: line, Column: col, EndColumn: col + min(m.End, le) - m.Start,
			Rule: m.Rule, Description: m.Description, SecretName: m.Name, SecretVersion: m.Version, Form: m.Form,
			Excerpt:     excerpt(u.Data, ls, le, ms, i),
			Fingerprint: s.fp.fingerprint(m.Rule, path, u.Data[m.Start:m.End]),
		}
		if commit != nil {
			f.Commit, f.Author, f.Date = commit.Hash, commit.Author, commit.Date
		}
		out = append(out, f)
	}
	var ex []Explained
	if len(drops) > 0 {
		loc = newLocator(u)
		sortDrops(drops)
		for _, d := range drops {
			path, line, col, _ := loc.at(d.Start)
			ex = append(ex, Explained{Path: path, Line: line, Column: col, Rule: d.Rule, Reason: d.Reason})
		}
	}
	return out, ex
}

func sortDrops(d []Drop) {
	for i := 1; i < len(d); i++ {
		for j := i; j > 0 && d[j].Start < d[j-1].Start; j-- {
			d[j], d[j-1] = d[j-1], d[j]
		}
	}
}

// locator turns offsets, in increasing order, into line and column.
type locator struct {
	u         Unit
	pos, line int // line index (from 0) of pos
	lineStart int
}

func newLocator(u Unit) *locator { return &locator{u: u, pos: u.Lead, lineStart: u.Lead} }

func (l *locator) at(off int) (path string, line, col int, c *Commit) {
	if off < l.pos {
		l.pos, l.line, l.lineStart = l.u.Lead, 0, l.u.Lead
	}
	for {
		i := bytes.IndexByte(l.u.Data[l.pos:off], '\n')
		if i < 0 {
			break
		}
		l.pos += i + 1
		l.line++
		l.lineStart = l.pos
	}
	l.pos = off
	col = off - l.lineStart + 1
	if l.line == 0 {
		col += l.u.ColOffset
	}
	if l.u.Lines != nil && l.line < len(l.u.Lines) {
		li := l.u.Lines[l.line]
		return li.Path, li.Line, col, li.Commit
	}
	return l.u.Path, l.u.FirstLine + l.line, col, l.u.Commit
}

func lineBounds(b []byte, off int) (int, int) {
	ls := bytes.LastIndexByte(b[:off], '\n') + 1
	le := bytes.IndexByte(b[off:], '\n')
	if le < 0 {
		le = len(b)
	} else {
		le += off
	}
	return ls, le
}

const excerptWidth = 160

// excerpt is the line [ls, le) with every match on it masked, cut to about
// excerptWidth bytes around match i.
func excerpt(b []byte, ls, le int, ms []Match, i int) string {
	from := max(ls, ms[i].Start-excerptWidth/2)
	to := min(le, ms[i].Start+excerptWidth/2)
	var e []byte
	if from > ls {
		e = append(e, "..."...)
	}
	pos := from
	first := i
	for first > 0 && ms[first-1].End > from {
		first--
	}
	for _, m := range ms[first:] {
		if m.Start >= to {
			break
		}
		if m.End <= pos {
			continue
		}
		if m.Start > pos {
			e = append(e, b[pos:m.Start]...)
		}
		e = append(e, "****"...)
		pos = m.End
	}
	if pos < to {
		e = append(e, b[pos:to]...)
	}
	if to < le && pos < le {
		e = append(e, "..."...)
	}
	return string(bytes.TrimRight(bytes.ToValidUTF8(e, []byte("?")), "\r"))
}
