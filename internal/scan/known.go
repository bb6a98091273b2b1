package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// KnownValue is one version of a managed secret, in the clear.
type KnownValue struct {
	Name    string
	Version int
	Value   []byte
}

// MinKnownLength is the shortest value that is searched for: shorter values
// match too much ordinary text to be masked or reported.
const MinKnownLength = 8

// Forms of a known value that are searched for.
const (
	FormRaw       = "raw"
	FormBase64    = "base64"
	FormBase64Raw = "base64 (unpadded)"
	FormBase64URL = "base64url"
	FormB64URLRaw = "base64url (unpadded)"
	FormURL       = "url-encoded"
	FormHex       = "hex"
	FormHexUpper  = "hex (upper case)"
	FormJSON      = "json-escaped"
)

type knownForm struct {
	value   []byte
	name    string
	version int
	form    string
}

// KnownSet finds known secret values, in their raw and encoded forms, in
// one pass over the input whatever their number. Each form is anchored on
// the 8 bytes at each of its first stride offsets (stride = 1 to 8: as much
// as the shortest form allows), hashed into a bitmap; the input is probed
// every stride bytes, and only the rare probes whose hash is set are looked
// up and compared. Every start position is covered by exactly one probe.
type KnownSet struct {
	forms   []knownForm
	anchors []anchorRef // open addressing on the 8 bytes: forms holding them at offset k
	amask   uint64
	ashift  uint
	bits    []uint64
	shift   uint
	stride  int
	maxLen  int
	skipped []string
	// partial indexes the proper prefixes of multi-line forms that end
	// with a newline, by their last four bytes (shorter ones by themselves),
	// so that a stream cut after a line can tell whether that line may
	// begin a multi-line value (see openPrefix).
	partial map[string][]int32 // indexes into parts
	parts   []partialRef
}

// partialRef is a proper prefix of a multi-line form: form id, length n.
type partialRef struct {
	id int32
	n  int32
}

// anchorRef says form id holds the 8 bytes a at offset k (id < 0: an
// empty slot).
type anchorRef struct {
	a  uint64
	id int32
	k  int32
}

// NewKnownSet precomputes every form of every value. Values shorter than
// MinKnownLength are left out; [KnownSet.Skipped] names them.
func NewKnownSet(values []KnownValue) *KnownSet {
	k := &KnownSet{}
	seen := map[string]bool{}
	skipped := map[string]bool{}
	for _, v := range values {
		if len(v.Value) < MinKnownLength {
			skipped[v.Name] = true
			continue
		}
		for _, f := range encodedForms(v.Value) {
			key := string(f.value)
			if seen[key] {
				continue
			}
			seen[key] = true
			k.forms = append(k.forms, knownForm{value: f.value, name: v.Name, version: v.Version, form: f.form})
		}
	}
	for id, f := range k.forms {
		for i, c := range f.value[:len(f.value)-1] {
			if c == '\n' {
				if k.partial == nil {
					k.partial = map[string][]int32{}
				}
				key := string(f.value[max(0, i+1-4) : i+1])
				k.partial[key] = append(k.partial[key], int32(len(k.parts)))
				k.parts = append(k.parts, partialRef{id: int32(id), n: int32(i + 1)})
			}
		}
	}
	for n := range skipped {
		k.skipped = append(k.skipped, n)
	}
	sort.Strings(k.skipped)
	minLen := 0
	for _, f := range k.forms {
		if minLen == 0 || len(f.value) < minLen {
			minLen = len(f.value)
		}
		k.maxLen = max(k.maxLen, len(f.value))
	}
	k.stride = max(1, min(8, minLen-7))
	bitsLog := uint(16)
	for (1<<bitsLog) < len(k.forms)*k.stride*64 && bitsLog < 22 {
		bitsLog++
	}
	k.shift = 64 - bitsLog
	k.bits = make([]uint64, (1<<bitsLog)/64)
	// The anchor table: linear probing, at most half full; equal anchors
	// of different forms take successive slots of one run.
	tableLog := uint(4)
	for (1 << tableLog) < 2*len(k.forms)*k.stride {
		tableLog++
	}
	k.ashift = 64 - tableLog
	k.amask = 1<<tableLog - 1
	k.anchors = make([]anchorRef, 1<<tableLog)
	for i := range k.anchors {
		k.anchors[i].id = -1
	}
	for i, f := range k.forms {
		for off := 0; off < k.stride; off++ {
			a := binary.LittleEndian.Uint64(f.value[off:])
			j := (a * hashMul) >> k.ashift
			for k.anchors[j].id >= 0 {
				j = (j + 1) & k.amask
			}
			k.anchors[j] = anchorRef{a: a, id: int32(i), k: int32(off)}
			h := (a * hashMul) >> k.shift
			k.bits[h>>6] |= 1 << (h & 63)
		}
	}
	return k
}

const hashMul = 0x9E3779B97F4A7C15

// Len returns the number of forms searched for.
func (k *KnownSet) Len() int {
	if k == nil {
		return 0
	}
	return len(k.forms)
}

// Skipped names the secrets with a value too short to search for.
func (k *KnownSet) Skipped() []string {
	if k == nil {
		return nil
	}
	return k.skipped
}

// MaxLen is the length of the longest form.
func (k *KnownSet) MaxLen() int {
	if k == nil {
		return 0
	}
	return k.maxLen
}

// openPrefix returns the start of the longest suffix of b[from:cut] (cut
// just after a newline) that is a proper prefix of a multi-line form, or
// cut when there is none: what a stream must hold back until the next
// lines tell whether the value is there.
func (k *KnownSet) openPrefix(b []byte, from, cut int) int {
	if k == nil || len(k.partial) == 0 {
		return cut
	}
	hold := cut
	for n := 1; n <= 4 && n <= cut-from; n++ {
		for _, pi := range k.partial[string(b[cut-n:cut])] {
			p := k.parts[pi]
			l := int(p.n)
			if (l >= 4) != (n == 4) || l > cut-from {
				continue
			}
			if bytes.Equal(b[cut-l:cut], k.forms[p.id].value[:l]) {
				hold = min(hold, cut-l)
			}
		}
	}
	return hold
}

type knownMatch struct {
	start, end int
	form       *knownForm
}

// find calls hit for every non-overlapping occurrence, leftmost-longest.
func (k *KnownSet) find(b []byte, hit func(knownMatch)) {
	if k == nil || len(k.forms) == 0 {
		return
	}
	bits, shift, stride := k.bits, k.shift, k.stride
	last := 0 // end of the last match
	for i := 0; i+8 <= len(b); i += stride {
		a := binary.LittleEndian.Uint64(b[i:])
		h := (a * hashMul) >> shift
		if bits[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		best, bestStart := -1, 0
		for j := (a * hashMul) >> k.ashift; k.anchors[j].id >= 0; j = (j + 1) & k.amask {
			r := &k.anchors[j]
			if r.a != a {
				continue
			}
			start := i - int(r.k)
			f := &k.forms[r.id]
			if start < last || start+len(f.value) > len(b) || !bytes.Equal(b[start:start+len(f.value)], f.value) {
				continue
			}
			if best < 0 || start < bestStart || (start == bestStart && len(f.value) > len(k.forms[best].value)) {
				best, bestStart = int(r.id), start
			}
		}
		if best < 0 {
			continue
		}
		f := &k.forms[best]
		hit(knownMatch{start: bestStart, end: bestStart + len(f.value), form: f})
		last = bestStart + len(f.value)
		// Resume at the first probe that can hold a match starting at last.
		if next := (last+stride-1)/stride*stride - stride; next > i {
			i = next
		}
	}
}

type form struct {
	value []byte
	form  string
}

// encodedForms returns v in every form searched for, each at least as long
// as v.
func encodedForms(v []byte) []form {
	out := []form{{v, FormRaw}}
	add := func(s, name string) {
		for _, f := range out {
			if string(f.value) == s {
				return
			}
		}
		out = append(out, form{[]byte(s), name})
	}
	add(base64.StdEncoding.EncodeToString(v), FormBase64)
	add(base64.RawStdEncoding.EncodeToString(v), FormBase64Raw)
	add(base64.URLEncoding.EncodeToString(v), FormBase64URL)
	add(base64.RawURLEncoding.EncodeToString(v), FormB64URLRaw)
	add(url.QueryEscape(string(v)), FormURL)
	add(strings.ReplaceAll(url.QueryEscape(string(v)), "+", "%20"), FormURL)
	add(hex.EncodeToString(v), FormHex)
	add(strings.ToUpper(hex.EncodeToString(v)), FormHexUpper)
	if j, err := json.Marshal(string(v)); err == nil {
		add(string(j[1:len(j)-1]), FormJSON)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if enc.Encode(string(v)) == nil {
		j := bytes.TrimSpace(buf.Bytes())
		j = j[1 : len(j)-1]
		add(string(j), FormJSON)
		if utf8.Valid(j) {
			add(asciiJSON(j), FormJSON)
		}
	}
	return out
}

// asciiJSON rewrites the JSON string body j (without its quotes) as
// Python's json.dumps writes it by default (ensure_ascii): every character
// outside ASCII as \uxxxx, a surrogate pair above U+FFFF.
func asciiJSON(j []byte) string {
	var b strings.Builder
	for _, r := range string(j) {
		switch {
		case r < utf8.RuneSelf:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16.EncodeRune(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}
