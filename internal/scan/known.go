package scan

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"net/url"
	"sort"
	"strings"
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
// one pass over the input whatever their number: every form is anchored on
// its first 8 bytes, which are hashed into a bitmap probed at each input
// position; only the rare positions whose hash is set are compared.
type KnownSet struct {
	forms   []knownForm
	anchors map[uint64][]int32 // first 8 bytes -> forms, longest first
	bits    []uint64
	shift   uint
	maxLen  int
	skipped []string
}

// NewKnownSet precomputes every form of every value. Values shorter than
// MinKnownLength are left out; [KnownSet.Skipped] names them.
func NewKnownSet(values []KnownValue) *KnownSet {
	k := &KnownSet{anchors: map[uint64][]int32{}}
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
	for n := range skipped {
		k.skipped = append(k.skipped, n)
	}
	sort.Strings(k.skipped)
	bitsLog := uint(16)
	for (1<<bitsLog) < len(k.forms)*64 && bitsLog < 24 {
		bitsLog++
	}
	k.shift = 64 - bitsLog
	k.bits = make([]uint64, (1<<bitsLog)/64)
	for i, f := range k.forms {
		a := binary.LittleEndian.Uint64(f.value)
		k.anchors[a] = append(k.anchors[a], int32(i))
		h := (a * hashMul) >> k.shift
		k.bits[h>>6] |= 1 << (h & 63)
		if len(f.value) > k.maxLen {
			k.maxLen = len(f.value)
		}
	}
	for a, ids := range k.anchors {
		sort.Slice(ids, func(i, j int) bool { return len(k.forms[ids[i]].value) > len(k.forms[ids[j]].value) })
		k.anchors[a] = ids
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

type knownMatch struct {
	start, end int
	form       *knownForm
}

// find calls hit for every non-overlapping occurrence, leftmost-longest.
func (k *KnownSet) find(b []byte, hit func(knownMatch)) {
	if k == nil || len(k.forms) == 0 {
		return
	}
	bits, shift := k.bits, k.shift
	for i := 0; i+8 <= len(b); i++ {
		a := binary.LittleEndian.Uint64(b[i:])
		h := (a * hashMul) >> shift
		if bits[h>>6]&(1<<(h&63)) == 0 {
			continue
		}
		ids, ok := k.anchors[a]
		if !ok {
			continue
		}
		for _, id := range ids {
			f := &k.forms[id]
			if bytes.HasPrefix(b[i:], f.value) {
				hit(knownMatch{start: i, end: i + len(f.value), form: f})
				i += len(f.value) - 1
				break
			}
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
		add(string(j[1:len(j)-1]), FormJSON)
	}
	return out
}
