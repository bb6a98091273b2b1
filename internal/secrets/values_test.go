package secrets_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/dotenv"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/fernet"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
	"github.com/somaagent01/sa01-secrets/internal/sensitive"
	"github.com/somaagent01/sa01-secrets/internal/store"
	"github.com/somaagent01/sa01-secrets/internal/store/sqlite"
)

// notText is a value that is not UTF-8 text: encoding/json would carry
// each of its two bad bytes as U+FFFD.
const notText = "ab\xff\xfecd"

// plant stores value as a new version of name straight into the store,
// as a write made before values had to be text.
func plant(t *testing.T, s *secrets.Service, name, value string) {
	t.Helper()
	k := s.Ring().Primary()
	_, _, err := s.Store().Put(ctxAs("legacy"), store.Write{Name: name, Actor: "legacy", Now: time.Now(),
		Seal: func(v int) (store.Sealed, error) {
			tok := string(k.Encrypt([]byte(value)))
			return store.Sealed{Token: tok, KeyID: k.ID(), Binding: secrets.Bind(k, name, v, k.ID(), tok)}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
}

func textService(t *testing.T) *secrets.Service {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return secrets.New(st, ring(t, fernet.GenerateKey()), nil, clock)
}

// TestWritesRefuseValuesThatAreNotText: a value that is not UTF-8 text
// was stored by a local put and came back changed through the server.
// Every write refuses it now, naming the secret, never the value, with
// a hint to encode it; nothing is stored.
func TestWritesRefuseValuesThatAreNotText(t *testing.T) {
	s := textService(t)
	ctx := ctxAs("alice")
	_, err := s.Put(ctx, "demo/bin", sensitive.New(notText), secrets.PutOptions{})
	var ve *secrets.ValueError
	if !errors.Is(err, secrets.ErrInvalid) || !errors.As(err, &ve) || !strings.Contains(ve.Hint(), "base64") {
		t.Fatalf("Put: %v, want an invalid-input *ValueError with a hint to encode", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "demo/bin") || !strings.Contains(msg, "not UTF-8 text") || strings.Contains(msg, "ab\xff") {
		t.Errorf("message %q: want the secret named, never the value", msg)
	}
	if _, err := s.Get(ctx, "demo/bin", 0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused put stored something: %v", err)
	}
	bad := []secrets.Entry{{Name: "GOOD", Value: sensitive.New("v"), Line: 1}, {Name: "BIN", Value: sensitive.New(notText), Line: 2}}
	_, err = s.Import(ctx, bad, secrets.ImportOptions{Prefix: "app/"})
	if !errors.Is(err, secrets.ErrInvalid) || !strings.Contains(err.Error(), "line 2") || !strings.Contains(err.Error(), "app/BIN") {
		t.Fatalf("Import: %v, want the line and the secret named", err)
	}
	if l, _ := s.Store().List(context.Background(), store.ListOptions{Prefix: "app/"}); len(l) != 0 {
		t.Fatalf("partial import: %v", l)
	}
	// Text with NUL and control characters is text: stored and read back
	// byte for byte.
	text := "\x00\x01\x02é\r\n\t\x7fx"
	mustPut(t, s, "demo/text", text)
	if got, err := s.Get(ctx, "demo/text", 0); err != nil || got.Value.Reveal() != text {
		t.Fatalf("Get = %q, %v", got.Value.Reveal(), err)
	}
}

// TestStoredValueNotTextIsNeverChanged: a version stored as other bytes
// by an older version comes back byte for byte from a local Get, and
// every JSON reader (get and export --format json) refuses it by name
// instead of writing U+FFFD; env and dotenv carry it unchanged.
func TestStoredValueNotTextIsNeverChanged(t *testing.T) {
	s := textService(t)
	ctx := ctxAs("alice")
	plant(t, s, "demo/bin", notText)
	v, err := s.Get(ctx, "demo/bin", 0)
	if err != nil || v.Value.Reveal() != notText {
		t.Fatalf("local Get = %q, %v; want the stored bytes", v.Value.Reveal(), err)
	}
	var out bytes.Buffer
	err = v.WriteJSON(&out)
	var fe *fault.Error
	if !errors.Is(err, secrets.ErrNotCarried) || !errors.As(err, &fe) || fe.Class != fault.Usage || fe.Hint == "" || out.Len() != 0 {
		t.Fatalf("get --format json: %v, wrote %q; want a usage fault with a hint, nothing written", err, out.String())
	}
	if msg := err.Error(); !strings.Contains(msg, "demo/bin version 1") || strings.Contains(msg, "ab\xff") {
		t.Errorf("message %q", msg)
	}
	vals, err := s.Export(ctx, "demo/")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "out.json")
	if err := secrets.ExportTo(&out, file, vals, "", "json"); !errors.Is(err, secrets.ErrNotCarried) || !strings.Contains(err.Error(), "demo/bin") {
		t.Fatalf("export --format json: %v", err)
	}
	if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) || out.Len() != 0 {
		t.Fatalf("a refused export wrote something: %v %q", err, out.String())
	}
	if err := secrets.WriteExport(&out, vals, "demo/", "dotenv"); err != nil {
		t.Fatal(err)
	}
	f, err := dotenv.Parse(out.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := f.Lookup("BIN"); got != notText {
		t.Fatalf("dotenv carried %q", got)
	}
}

// TestExportAndRunShareTheNULRule: a value holding a NUL byte was
// refused by run, but export --format dotenv|env wrote it raw (a file
// import refuses, a shell cuts). Both refuse it now by the one rule,
// naming the secret and its variable, writing nothing; JSON carries it.
func TestExportAndRunShareTheNULRule(t *testing.T) {
	s := textService(t)
	ctx := ctxAs("alice")
	mustPut(t, s, "app/ok", "fine")
	mustPut(t, s, "app/nul", "sk-CANARY\x00tail")
	vals, err := s.Export(ctx, "app/")
	if err != nil {
		t.Fatal(err)
	}
	for _, format := range []string{"dotenv", "env"} {
		var out bytes.Buffer
		file := filepath.Join(t.TempDir(), "out."+format)
		err := secrets.ExportTo(&out, file, vals, "app/", format)
		var fe *fault.Error
		if !errors.Is(err, secrets.ErrNotCarried) || !errors.As(err, &fe) || fe.Class != fault.Usage || !strings.Contains(fe.Hint, "NUL") {
			t.Fatalf("%s: %v, want a usage fault with a hint", format, err)
		}
		if msg := err.Error(); !strings.Contains(msg, "app/nul (NUL)") || strings.Contains(msg, "CANARY") {
			t.Errorf("%s: message %q", format, msg)
		}
		if _, err := os.Stat(file); !errors.Is(err, os.ErrNotExist) || out.Len() != 0 {
			t.Fatalf("%s: a refused export wrote something", format)
		}
	}
	var out bytes.Buffer
	if err := secrets.WriteExport(&out, vals, "", "json"); err != nil {
		t.Fatal(err)
	}
	var m map[string]string
	if err := json.Unmarshal(out.Bytes(), &m); err != nil || m["app/nul"] != "sk-CANARY\x00tail" {
		t.Fatalf("json export = %q, %v", out.String(), err)
	}
}
