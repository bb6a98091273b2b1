package sensitive

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

const secret = "hunter2-s3cr3t"

type inner struct {
	Name     string
	Password String
	hidden   String
}

type outer struct {
	In    inner
	Ptr   *inner
	List  []String
	Map   map[string]String
	Iface any
	hid   *String
}

func newOuter() outer {
	s := New(secret)
	in := inner{Name: "db", Password: s, hidden: s}
	return outer{In: in, Ptr: &in, List: []String{s}, Map: map[string]String{"k": s}, Iface: s, hid: &s}
}

func TestFmtVerbs(t *testing.T) {
	s := New(secret)
	o := newOuter()
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%X", "%q", "%10.3s", "%T %v", "%p"} {
		for _, v := range []any{s, &s, o, &o, o.In, []String{s}, [1]String{s}} {
			out := fmt.Sprintf(verb, v)
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) || strings.Contains(out, fmt.Sprintf("%X", secret)) {
				t.Fatalf("%s of %T prints the secret: %s", verb, v, out)
			}
		}
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
		if got := fmt.Sprintf(verb, s); got != "[REDACTED]" {
			t.Errorf("%s = %q, want [REDACTED]", verb, got)
		}
	}
	if got := fmt.Sprint(s, &s); got != "[REDACTED] [REDACTED]" {
		t.Errorf("Sprint = %q", got)
	}
	if got := fmt.Sprintf("%v", o.In); !strings.Contains(got, "db [REDACTED]") {
		t.Errorf("struct field: %q", got)
	}
	if s.String() != "[REDACTED]" || s.GoString() != "[REDACTED]" {
		t.Error("String/GoString")
	}
}

func TestJSON(t *testing.T) {
	o := newOuter()
	b, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), secret) || !strings.Contains(string(b), `"Password":"[REDACTED]"`) {
		t.Fatalf("JSON: %s", b)
	}
	m, err := json.Marshal(map[String]int{New(secret): 1})
	if err != nil || strings.Contains(string(m), secret) {
		t.Fatalf("JSON map key: %s %v", m, err)
	}
}

func TestSlog(t *testing.T) {
	s := New(secret)
	o := newOuter()
	for name, mk := range map[string]func(*bytes.Buffer) slog.Handler{
		"text": func(b *bytes.Buffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *bytes.Buffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	} {
		var buf bytes.Buffer
		l := slog.New(mk(&buf))
		l.Info("login", "password", s, "ptr", &s, "struct", o, "nested", o.In)
		l.Info("group", slog.Group("g", slog.Any("pw", s)))
		l.With("pw", s).Info("with")
		if strings.Contains(buf.String(), secret) {
			t.Fatalf("%s handler prints the secret:\n%s", name, buf.String())
		}
		if !strings.Contains(buf.String(), "[REDACTED]") {
			t.Fatalf("%s handler: no [REDACTED] marker:\n%s", name, buf.String())
		}
	}
}

func TestReveal(t *testing.T) {
	s := New(secret)
	if s.Reveal() != secret || s.Len() != len(secret) || s.IsZero() {
		t.Fatal("Reveal, Len or IsZero wrong")
	}
	var zero String
	if zero.Reveal() != "" || zero.Len() != 0 || !zero.IsZero() || !New("").IsZero() {
		t.Fatal("zero value wrong")
	}
	b := []byte(secret)
	f := FromBytes(b)
	b[0] = 'X'
	if f.Reveal() != secret {
		t.Fatal("FromBytes does not copy")
	}
	txt, _ := s.MarshalText()
	if string(txt) != "[REDACTED]" {
		t.Fatal("MarshalText")
	}
}
