package scan

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/somaagent01/sa01-secrets/internal/safefile"
)

// WriteText writes one finding per line: path:line:column: rule, the secret's
// name and version when known, and the masked excerpt; git findings get a
// second line with the commit. What comes from the scanned input (paths,
// excerpts, secret names, authors) is made printable first: a name with a
// control character is quoted, an excerpt has its control characters
// escaped, so no input can move the cursor, erase or fake a line.
func WriteText(w io.Writer, f Finding) error {
	name := ""
	if f.SecretName != "" {
		name = fmt.Sprintf(" [%s v%d, %s]", PrintableName(f.SecretName), f.SecretVersion, Printable(f.Form))
	}
	if _, err := fmt.Fprintf(w, "%s:%d:%d: %s%s: %s\n", PrintableName(f.Path), f.Line, f.Column, f.Rule, name, Printable(f.Excerpt)); err != nil {
		return err
	}
	if f.Commit != "" {
		_, err := fmt.Fprintf(w, "    commit %s by %s on %s\n", Printable(f.Commit), PrintableName(f.Author), Printable(f.Date))
		return err
	}
	return nil
}

// WriteExplained writes one dropped candidate (--explain), printable as
// [WriteText] makes findings.
func WriteExplained(w io.Writer, e Explained) error {
	_, err := fmt.Fprintf(w, "explain: %s:%d:%d: %s: dropped: %s\n", PrintableName(e.Path), e.Line, e.Column, e.Rule, Printable(e.Reason))
	return err
}

// Printable returns s with every character a terminal would act on
// escaped: C0 and C1 control characters (a tab excepted), DEL, Unicode
// format and separator characters (bidirectional overrides among them) as
// Go escapes (\x1b, \r, \u202e), and bytes that are not UTF-8 as \xNN.
// A backslash is left as it is: for names, use [PrintableName].
func Printable(s string) string {
	if !needsEscape(s, false) {
		return s
	}
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\t' || strconv.IsPrint(r):
			b.WriteRune(r)
		default:
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
		}
	}
	return b.String()
}

// PrintableName returns a path or a name as it is, or, when it holds a
// character [Printable] would escape, a tab, or starts with a double quote,
// as a Go-quoted string ("a\nb"): quoted, a name is unambiguous, as git's
// core.quotePath makes its paths.
func PrintableName(s string) string {
	if !needsEscape(s, true) {
		return s
	}
	return strconv.Quote(s)
}

func needsEscape(s string, name bool) bool {
	if name && strings.HasPrefix(s, `"`) {
		return true
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == 0x7f || c >= 0x80 {
			if c == '\t' && !name {
				continue
			}
			if c < 0x80 {
				return true
			}
			// Non-ASCII: decide per character.
			for _, r := range s[i:] {
				if r == utf8.RuneError || !strconv.IsPrint(r) && !(r == '\t' && !name) {
					return true
				}
			}
			return false
		}
	}
	return false
}

// jsonArray writes the elements of a JSON array as they come: open before
// the first, sep between two, end after the last (empty when there was
// none), each element marshalled with prefix and indent (compact when
// indent is ""). The first error sticks.
type jsonArray struct {
	w                     io.Writer
	open, sep, end, empty string
	prefix, indent        string
	n                     int
	err                   error
}

func (a *jsonArray) add(v any) error {
	if a.err != nil {
		return a.err
	}
	var b []byte
	if a.indent == "" {
		b, a.err = json.Marshal(v)
	} else {
		b, a.err = json.MarshalIndent(v, a.prefix, a.indent)
	}
	if a.err != nil {
		return a.err
	}
	s := a.sep
	if a.n == 0 {
		s = a.open
	}
	a.n++
	if _, a.err = io.WriteString(a.w, s); a.err == nil {
		_, a.err = a.w.Write(b)
	}
	return a.err
}

func (a *jsonArray) close() error {
	if a.err != nil {
		return a.err
	}
	s := a.end
	if a.n == 0 {
		s = a.empty
	}
	_, a.err = io.WriteString(a.w, s)
	return a.err
}

// JSONWriter writes findings as a JSON array, each as it comes: memory does
// not grow with the findings.
type JSONWriter struct{ a jsonArray }

// NewJSONWriter returns a writer of a JSON array of findings to w; Close
// ends the array.
func NewJSONWriter(w io.Writer) *JSONWriter {
	return &JSONWriter{jsonArray{w: w, open: "[\n  ", sep: ",\n  ", end: "\n]\n", empty: "[]\n", prefix: "  ", indent: "  "}}
}

// Write adds f to the array.
func (j *JSONWriter) Write(f Finding) error { return j.a.add(f) }

// Close ends the array ("[]" when nothing was written).
func (j *JSONWriter) Close() error { return j.a.close() }

// SARIF 2.1.0, the subset GitHub code scanning reads.
type sarifLog struct {
	Version string     `json:"version"`
	Schema  string     `json:"$schema"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool    sarifTool     `json:"tool"`
	Results []sarifResult `json:"results"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	Version        string      `json:"version,omitempty"`
	InformationURI string      `json:"informationUri"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID               string       `json:"id"`
	Name             string       `json:"name"`
	ShortDescription sarifMessage `json:"shortDescription"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID              string            `json:"ruleId"`
	RuleIndex           int               `json:"ruleIndex"`
	Level               string            `json:"level"`
	Message             sarifMessage      `json:"message"`
	Locations           []sarifLocation   `json:"locations"`
	PartialFingerprints map[string]string `json:"partialFingerprints,omitempty"`
	Properties          map[string]string `json:"properties,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           sarifRegion   `json:"region"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int          `json:"startLine"`
	StartColumn int          `json:"startColumn"`
	EndColumn   int          `json:"endColumn"`
	Snippet     sarifMessage `json:"snippet"`
}

// SARIFWriter writes a SARIF 2.1.0 log with every rule of a scanner in the
// driver, and the findings as results, each as it comes: memory does not
// grow with the findings. A finding's fingerprint, when it has one, is its
// partial fingerprint "sa01SecretHash/v2".
type SARIFWriter struct {
	index map[string]int
	a     jsonArray
}

// NewSARIFWriter returns a writer of a SARIF log for the findings of s, as
// the tool version; Close ends the log.
func NewSARIFWriter(w io.Writer, s *Scanner, version string) *SARIFWriter {
	var rules []sarifRule
	index := map[string]int{}
	for _, r := range s.Rules() {
		index[r[0]] = len(rules)
		rules = append(rules, sarifRule{ID: r[0], Name: ruleName(r[0]), ShortDescription: sarifMessage{Text: r[1]}})
	}
	log := sarifLog{
		Version: "2.1.0",
		Schema:  "https://json.schemastore.org/sarif-2.1.0.json",
		Runs: []sarifRun{{
			Tool:    sarifTool{Driver: sarifDriver{Name: "sa01-secrets", Version: version, InformationURI: "https://github.com/somaagent01/sa01-secrets", Rules: rules}},
			Results: []sarifResult{},
		}},
	}
	// The log with no result, cut where the results go.
	b, _ := json.MarshalIndent(log, "", "  ") // plain structs: cannot fail
	doc := string(b)
	const marker = `"results": []`
	i := strings.Index(doc, marker)
	ind := doc[strings.LastIndexByte(doc[:i], '\n')+1 : i]
	head, tail := doc[:i]+`"results": [`, "]"+doc[i+len(marker):]+"\n"
	return &SARIFWriter{index: index, a: jsonArray{w: w, open: head + "\n" + ind + "  ", sep: ",\n" + ind + "  ",
		end: "\n" + ind + tail, empty: head + tail, prefix: ind + "  ", indent: "  "}}
}

// Write adds f as a result.
func (x *SARIFWriter) Write(f Finding) error {
	msg := f.Description
	if f.SecretName != "" {
		msg = fmt.Sprintf("managed secret %s (version %d) found, %s", f.SecretName, f.SecretVersion, f.Form)
	}
	res := sarifResult{
		RuleID: f.Rule, RuleIndex: x.index[f.Rule], Level: "error",
		Message: sarifMessage{Text: msg},
		Locations: []sarifLocation{{PhysicalLocation: sarifPhysical{
			ArtifactLocation: sarifArtifact{URI: sarifURI(f.Path)},
			Region:           sarifRegion{StartLine: max(1, f.Line), StartColumn: max(1, f.Column), EndColumn: max(f.Column+1, f.EndColumn), Snippet: sarifMessage{Text: f.Excerpt}},
		}}},
	}
	if f.Fingerprint != "" {
		res.PartialFingerprints = map[string]string{"sa01SecretHash/v2": f.Fingerprint}
	}
	if f.Commit != "" {
		res.Properties = map[string]string{"commit": f.Commit, "author": f.Author, "date": f.Date}
	}
	return x.a.add(res)
}

// Close ends the log.
func (x *SARIFWriter) Close() error { return x.a.close() }

// ruleName turns an ID such as aws-access-key-id into AwsAccessKeyId.
func ruleName(id string) string {
	var b strings.Builder
	for _, p := range strings.FieldsFunc(id, func(r rune) bool { return r == '-' || r == '_' }) {
		b.WriteString(strings.ToUpper(p[:1]) + p[1:])
	}
	return b.String()
}

func sarifURI(p string) string {
	p = filepath.ToSlash(p)
	return strings.TrimPrefix(p, "./")
}

// BaselineVersion is the version of the baseline files written: version 2
// holds fingerprints keyed by a [FingerprintKey] and that key's ID.
// Version 1 files held unkeyed hashes of the secrets and are refused.
const BaselineVersion = 2

// maxBaseline bounds the baseline file read.
const maxBaseline = 256 << 20

// Baseline is a set of accepted findings, keyed by fingerprint (a keyed
// hash of the rule, the path and the secret, so it survives edits above the
// line).
type Baseline struct {
	set map[[16]byte]struct{}
}

// BaselineEntry is one accepted finding; Rule, Path and Line are there for
// the reader, only the fingerprint counts.
type BaselineEntry struct {
	Fingerprint string `json:"fingerprint"`
	Rule        string `json:"rule"`
	Path        string `json:"path"`
	Line        int    `json:"line"`
}

// BaselineError says why a baseline file cannot be used, and how to make
// one that can.
type BaselineError struct {
	File   string
	Reason string
	Hint   string
}

func (e *BaselineError) Error() string { return "scan: baseline " + e.File + ": " + e.Reason }

// ReadBaseline reads a baseline file written with the fingerprint key k.
// It refuses a file written with another key, a version 1 file (its
// unkeyed hashes let a reader test guesses of the secrets), and any
// baseline when k is nil; each error is a *[BaselineError] with a hint.
func ReadBaseline(file string, k *FingerprintKey) (*Baseline, error) {
	regen := "write a new one with SA01_SECRETS_SCAN_KEY set: sa01-secrets scan --write-baseline " + file + " [PATH]"
	if k == nil {
		return nil, &BaselineError{file, "baselines need a fingerprint key, and SA01_SECRETS_SCAN_KEY is not set",
			"set SA01_SECRETS_SCAN_KEY (or _FILE) to the key the baseline was written with; to start one: " + regen}
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, &BaselineError{file, errors.Unwrap(err).Error(), "write one with --write-baseline FILE"}
	}
	defer f.Close()
	bad := &BaselineError{file, "not a baseline file", regen}
	dec := json.NewDecoder(&limitReader{r: f, n: maxBaseline, limit: maxBaseline, what: "baseline " + file})
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, bad
	}
	version, keyID := 0, ""
	bl := &Baseline{set: map[[16]byte]struct{}{}}
	for dec.More() && version != 1 {
		tok, err := dec.Token()
		if err == nil {
			switch tok {
			case "version":
				err = dec.Decode(&version)
			case "key_id":
				err = dec.Decode(&keyID)
			case "findings":
				err = readBaselineEntries(dec, bl)
			default:
				var skip json.RawMessage
				err = dec.Decode(&skip)
			}
		}
		if le := (*limitError)(nil); errors.As(err, &le) {
			return nil, le
		}
		if err != nil {
			return nil, bad
		}
	}
	if version != 1 {
		// The object ends, and nothing follows it: a file cut short, or
		// with more after it, is not a baseline.
		end, err := dec.Token()
		if err == nil && end == json.Delim('}') {
			if _, err = dec.Token(); err == io.EOF {
				err = nil
			} else if err == nil {
				err = errors.New("more after the object")
			}
		} else if err == nil || err == io.EOF {
			err = errors.New("the object does not end")
		}
		if le := (*limitError)(nil); errors.As(err, &le) {
			return nil, le
		}
		if err != nil {
			return nil, bad
		}
	}
	switch {
	case version == 1:
		return nil, &BaselineError{file, "a version 1 baseline: its fingerprints are unkeyed hashes from which a reader can confirm a guessed secret",
			"delete it, replace any secret it accepts that a guess could find (the file stays in your history), then " + regen}
	case version != BaselineVersion, len(keyID) != len(k.ID()), strings.Trim(keyID, "0123456789abcdef") != "":
		// A key ID is 12 hex digits: anything else is no baseline's,
		// and is not repeated in the error at whatever length.
		return nil, bad
	case keyID != k.ID():
		return nil, &BaselineError{file, fmt.Sprintf("written with scan key %s, but SA01_SECRETS_SCAN_KEY is scan key %s", Printable(keyID), k.ID()),
			"set SA01_SECRETS_SCAN_KEY to the key the baseline was written with, or " + regen}
	}
	return bl, nil
}

func readBaselineEntries(dec *json.Decoder, bl *Baseline) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('[') {
		return errors.New("findings: not an array")
	}
	for dec.More() {
		var e BaselineEntry
		if err := dec.Decode(&e); err != nil {
			return err
		}
		var fp [16]byte
		if n, err := hex.Decode(fp[:], []byte(e.Fingerprint)); err != nil || n != len(fp) || len(e.Fingerprint) != 2*len(fp) {
			return errors.New("findings: a fingerprint is not 32 hex digits")
		}
		bl.set[fp] = struct{}{}
	}
	_, err := dec.Token()
	return err
}

// Len is the number of distinct fingerprints accepted.
func (b *Baseline) Len() int { return len(b.set) }

// Has reports whether f is accepted.
func (b *Baseline) Has(f Finding) bool {
	if b == nil || len(f.Fingerprint) != 32 {
		return false
	}
	var fp [16]byte
	if _, err := hex.Decode(fp[:], []byte(f.Fingerprint)); err != nil {
		return false
	}
	_, ok := b.set[fp]
	return ok
}

// BaselineWriter writes a baseline file: every finding added, in the order
// added. Entries go to an unlinked temporary file outside the scanned tree
// (so a scan never reads the baseline it is writing, and memory does not
// grow with the findings); Commit writes the file with [safefile]: never
// through a symbolic link, never half written.
type BaselineWriter struct {
	file string
	tmp  *os.File
	w    *bufio.Writer
	a    jsonArray
	done bool
}

// CreateBaseline starts a baseline file for the findings of a scanner keyed
// by k. It fails at once, before anything is scanned, when k is nil or
// file cannot be written (a symbolic link among them).
func CreateBaseline(file string, k *FingerprintKey) (*BaselineWriter, error) {
	if k == nil {
		return nil, &BaselineError{file, "baselines need a fingerprint key, and SA01_SECRETS_SCAN_KEY is not set",
			"generate one (sa01-secrets generate key), keep it as a secret (in the store, in CI's secrets), never beside the baseline, and set SA01_SECRETS_SCAN_KEY_FILE to a file holding it"}
	}
	probe, err := safefile.Create(file, safefile.Options{})
	if err != nil {
		return nil, fmt.Errorf("scan: baseline: %w", err)
	}
	probe.Abort()
	tmp, err := os.CreateTemp("", "sa01-baseline-*")
	if err != nil {
		return nil, fmt.Errorf("scan: baseline: %w", err)
	}
	os.Remove(tmp.Name()) // unlinked: gone with the process, whatever happens
	w := bufio.NewWriterSize(tmp, 64<<10)
	b := &BaselineWriter{file: file, tmp: tmp, w: w, a: jsonArray{w: w, open: "\n    ", sep: ",\n    ", end: "\n  ]\n}\n", empty: "]\n}\n"}}
	_, b.a.err = fmt.Fprintf(w, "{\n  \"version\": %d,\n  \"key_id\": %q,\n  \"findings\": [", BaselineVersion, k.ID())
	return b, b.a.err
}

// Add records f as accepted.
func (b *BaselineWriter) Add(f Finding) error {
	return b.a.add(BaselineEntry{Fingerprint: f.Fingerprint, Rule: f.Rule, Path: f.Path, Line: f.Line})
}

// Count is the number of findings added.
func (b *BaselineWriter) Count() int { return b.a.n }

// Commit ends the file and writes it in place.
func (b *BaselineWriter) Commit() error {
	defer b.Abort()
	err := b.a.close()
	if err == nil {
		err = b.w.Flush()
	}
	if err == nil {
		_, err = b.tmp.Seek(0, io.SeekStart)
	}
	if err != nil {
		return fmt.Errorf("scan: baseline %s: %w", b.file, err)
	}
	f, err := safefile.Create(b.file, safefile.Options{})
	if err != nil {
		return fmt.Errorf("scan: baseline: %w", err)
	}
	defer f.Abort()
	if _, err := io.Copy(f, b.tmp); err != nil {
		return err
	}
	return f.Commit()
}

// Abort drops what was written; the target is unchanged. It is a no-op
// after Commit.
func (b *BaselineWriter) Abort() {
	if !b.done {
		b.done = true
		b.tmp.Close()
	}
}

// limitReader reads at most n bytes of r; more is a *limitError.
type limitReader struct {
	r        io.Reader
	n, limit int64
	what     string
}

type limitError struct {
	what  string
	limit int64
}

func (e *limitError) Error() string {
	return fmt.Sprintf("scan: %s is larger than %d bytes", e.what, e.limit)
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		var one [1]byte
		if n, _ := l.r.Read(one[:]); n > 0 {
			return 0, &limitError{l.what, l.limit}
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}
