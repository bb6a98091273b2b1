package fernet

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The spec's acceptance vectors, byte-for-byte copies of
// github.com/fernet/spec at 20dead475f53f11d20592baf29ad697163afc0cd.
type vector struct {
	Desc   string    `json:"desc"`
	Token  string    `json:"token"`
	Now    time.Time `json:"now"`
	IV     []byte    `json:"-"`
	IVInts []int     `json:"iv"`
	Src    string    `json:"src"`
	TTLSec int64     `json:"ttl_sec"`
	Secret string    `json:"secret"`
}

func loadVectors(t *testing.T, name string) []vector {
	t.Helper()
	vs, err := readVectors(name)
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func readVectors(name string) ([]vector, error) {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		return nil, err
	}
	var vs []vector
	if err := json.Unmarshal(b, &vs); err != nil {
		return nil, fmt.Errorf("%s: %v", name, err)
	}
	if len(vs) == 0 {
		return nil, fmt.Errorf("%s: no vectors", name)
	}
	for i := range vs {
		for _, x := range vs[i].IVInts {
			vs[i].IV = append(vs[i].IV, byte(x))
		}
	}
	return vs, nil
}

func TestVectorsGenerate(t *testing.T) {
	for i, v := range loadVectors(t, "generate.json") {
		k, err := ParseKey(v.Secret)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got := k.encryptAt([]byte(v.Src), v.IV, v.Now)
		if string(got) != v.Token {
			t.Errorf("case %d: token\n got %s\nwant %s", i, got, v.Token)
		}
	}
}

func TestVectorsVerify(t *testing.T) {
	for i, v := range loadVectors(t, "verify.json") {
		k, err := ParseKey(v.Secret)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		got, err := k.DecryptAt([]byte(v.Token), time.Duration(v.TTLSec)*time.Second, v.Now)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if string(got) != v.Src {
			t.Errorf("case %d: got %q, want %q", i, got, v.Src)
		}
		ts, err := k.ExtractTimestamp([]byte(v.Token))
		if err != nil || ts.After(v.Now) || v.Now.Sub(ts) > time.Duration(v.TTLSec)*time.Second {
			t.Errorf("case %d: timestamp %v, %v; now %v", i, ts, err, v.Now)
		}
	}
}

func TestVectorsInvalid(t *testing.T) {
	for _, v := range loadVectors(t, "invalid.json") {
		t.Run(v.Desc, func(t *testing.T) {
			k, err := ParseKey(v.Secret)
			if err != nil {
				t.Fatal(err)
			}
			msg, err := k.DecryptAt([]byte(v.Token), time.Duration(v.TTLSec)*time.Second, v.Now)
			if !errors.Is(err, ErrInvalidToken) || msg != nil {
				t.Fatalf("got %q, %v; want ErrInvalidToken", msg, err)
			}
			r, _ := NewRing(GenerateKey(), k)
			if _, err := r.DecryptAt([]byte(v.Token), time.Duration(v.TTLSec)*time.Second, v.Now); !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("ring: %v; want ErrInvalidToken", err)
			}
		})
	}
}
