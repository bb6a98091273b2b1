package fernet

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"os/exec"
	"testing"
	"time"
)

// Interoperability with Python's cryptography package, both ways. The test
// skips only where python3 or the module is missing.

var interopSizes = []int{0, 1, 15, 16, 17, 1000, 65536}

// python runs script with in as JSON on stdin and decodes its JSON stdout
// into out.
func python(t *testing.T, script string, in, out any) {
	t.Helper()
	py, err := exec.LookPath("python3")
	if err != nil {
		t.Skip("python3 not found")
	}
	if err := exec.Command(py, "-c", "import cryptography.fernet").Run(); err != nil {
		t.Skip("python3 lacks the cryptography package")
	}
	stdin, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, "-c", script)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.Output()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, stderr.String())
	}
	if err := json.Unmarshal(stdout, out); err != nil {
		t.Fatalf("python output: %v", err)
	}
}

const pyFromPython = `
import base64, json, os, sys
from cryptography.fernet import Fernet, MultiFernet
req = json.load(sys.stdin)
key = Fernet.generate_key()
f = Fernet(key)
cases = []
for n in req["sizes"]:
    msg = os.urandom(n)
    cases.append({"msg": base64.b64encode(msg).decode(), "token": f.encrypt_at_time(msg, req["ts"]).decode()})
old, new = Fernet.generate_key(), Fernet.generate_key()
tok = Fernet(old).encrypt_at_time(b"rotate me", req["ts"])
rotated = MultiFernet([Fernet(new), Fernet(old)]).rotate(tok)
print(json.dumps({"key": key.decode(), "cases": cases, "old": old.decode(), "new": new.decode(),
                  "old_token": tok.decode(), "rotated": rotated.decode()}))
`

func TestInteropFromPython(t *testing.T) {
	const ts = 1_700_000_000
	var res struct {
		Key   string
		Cases []struct {
			Msg   []byte // base64 in JSON
			Token string
		}
		Old, New, Rotated string
		OldToken          string `json:"old_token"`
	}
	python(t, pyFromPython, map[string]any{"sizes": interopSizes, "ts": ts}, &res)
	k := mustKey(t, res.Key)
	if len(res.Cases) != len(interopSizes) {
		t.Fatalf("%d cases from python", len(res.Cases))
	}
	for i, c := range res.Cases {
		if len(c.Msg) != interopSizes[i] {
			t.Fatalf("case %d: %d bytes", i, len(c.Msg))
		}
		got, err := k.DecryptAt([]byte(c.Token), 0, time.Unix(ts, 0))
		if err != nil || !bytes.Equal(got, c.Msg) {
			t.Errorf("%d bytes from Python: %v", len(c.Msg), err)
		}
		if tsGot, err := k.ExtractTimestamp([]byte(c.Token)); err != nil || tsGot.Unix() != ts {
			t.Errorf("%d bytes: timestamp %v, %v", len(c.Msg), tsGot, err)
		}
	}
	// MultiFernet.rotate -> ours: the primary decrypts, the timestamp stays.
	newKey, oldKey := mustKey(t, res.New), mustKey(t, res.Old)
	got, err := newKey.Decrypt([]byte(res.Rotated))
	if err != nil || string(got) != "rotate me" {
		t.Fatalf("Python-rotated token: %q, %v", got, err)
	}
	if tsGot, err := newKey.ExtractTimestamp([]byte(res.Rotated)); err != nil || tsGot.Unix() != ts {
		t.Fatalf("Python-rotated timestamp: %v, %v", tsGot, err)
	}
	// And our ring decrypts the Python old token with the previous key.
	r, _ := NewRing(newKey, oldKey)
	if msg, k, err := r.DecryptWithKey([]byte(res.OldToken)); err != nil || string(msg) != "rotate me" || k != oldKey {
		t.Fatalf("ring on Python's old token: %q, %v", msg, err)
	}
}

const pyFromGo = `
import base64, json, sys
from cryptography.fernet import Fernet, MultiFernet, InvalidToken
req = json.load(sys.stdin)
f = Fernet(req["key"].encode())
out = {"msgs": [], "ts": []}
for tok in req["tokens"]:
    out["msgs"].append(base64.b64encode(f.decrypt_at_time(tok.encode(), 0, req["ts"])).decode())
    out["ts"].append(f.extract_timestamp(tok.encode()))
new, old = Fernet(req["new"].encode()), Fernet(req["old"].encode())
out["rotated"] = new.decrypt(req["rotated"].encode()).decode()
out["rotated_ts"] = new.extract_timestamp(req["rotated"].encode())
out["multi"] = MultiFernet([new, old]).decrypt(req["rotated"].encode()).decode()
try:
    old.decrypt(req["rotated"].encode())
    out["old_refuses"] = False
except InvalidToken:
    out["old_refuses"] = True
print(json.dumps(out))
`

func TestInteropToPython(t *testing.T) {
	const ts = 1_700_000_000
	k := GenerateKey()
	var msgs [][]byte
	var toks []string
	for _, n := range interopSizes {
		m := make([]byte, n)
		rand.Read(m)
		msgs = append(msgs, m)
		toks = append(toks, string(k.EncryptAt(m, time.Unix(ts, 0))))
	}
	oldK, newK := GenerateKey(), GenerateKey()
	r, _ := NewRing(newK, oldK)
	rotated, err := r.Rotate(oldK.EncryptAt([]byte("rotate me"), time.Unix(ts-86400, 0)))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Msgs       []string
		TS         []int64
		Rotated    string
		RotatedTS  int64 `json:"rotated_ts"`
		Multi      string
		OldRefuses bool `json:"old_refuses"`
	}
	python(t, pyFromGo, map[string]any{
		"key": k.Encode(), "tokens": toks, "ts": ts,
		"new": newK.Encode(), "old": oldK.Encode(), "rotated": string(rotated),
	}, &res)
	if len(res.Msgs) != len(msgs) {
		t.Fatalf("%d results from python", len(res.Msgs))
	}
	for i, m := range msgs {
		got, _ := base64.StdEncoding.DecodeString(res.Msgs[i])
		if !bytes.Equal(got, m) {
			t.Errorf("%d bytes: Python decrypted something else", len(m))
		}
		if res.TS[i] != ts {
			t.Errorf("%d bytes: Python timestamp %d", len(m), res.TS[i])
		}
	}
	if res.Rotated != "rotate me" || res.Multi != "rotate me" || res.RotatedTS != ts-86400 || !res.OldRefuses {
		t.Fatalf("our Rotate seen from Python: %+v", res)
	}
}
