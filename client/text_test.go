package client

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
)

// TestValuesAreText: Put sent a value that is not UTF-8 text as a JSON
// string, which encoding/json marshals with U+FFFD in place of each bad
// byte, and the server stored the changed value. Put and Import refuse it
// now with ErrNotText, naming the secret, before anything is sent; a
// version an older server stored so is refused by the server, and Get
// says ErrNotText rather than returning a changed value.
func TestValuesAreText(t *testing.T) {
	t.Parallel()
	srv := start(t)
	ctx := context.Background()
	var puts atomic.Int32
	counting := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		if r.Method != "GET" && !strings.HasPrefix(r.URL.Path, "/v1/auth/") {
			puts.Add(1)
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c, _ := New(srv.URL, WithHTTPClient(counting))
	defer c.Close()
	if err := c.Login(ctx, srv.Credentials["gateway"]); err != nil {
		t.Fatal(err)
	}
	bin := "sk-CANARY\xff\xfe"
	_, err := c.Put(ctx, "llm/bin", bin, nil)
	if !errors.Is(err, ErrNotText) || !strings.Contains(err.Error(), "llm/bin") || strings.Contains(err.Error(), "CANARY") {
		t.Fatalf("Put: %v, want ErrNotText naming the secret", err)
	}
	_, err = c.Import(ctx, []ImportEntry{{Name: "ok", Value: "v"}, {Name: "bin", Value: bin}}, ImportOptions{Prefix: "llm/"})
	if !errors.Is(err, ErrNotText) || !strings.Contains(err.Error(), "llm/bin") {
		t.Fatalf("Import: %v, want ErrNotText naming the secret", err)
	}
	if n := puts.Load(); n != 0 {
		t.Fatalf("%d writes were sent", n)
	}
	if err := srv.Plant("llm/bin", "", bin); err != nil {
		t.Fatal(err)
	}
	s, err := c.Get(ctx, "llm/bin")
	var ae *APIError
	if !errors.Is(err, ErrNotText) || !errors.As(err, &ae) || ae.Status != http.StatusUnprocessableEntity || s.Value() != "" {
		t.Fatalf("Get of a stored value that is not text: %q, %v; want ErrNotText", s.Value(), err)
	}
	if !strings.Contains(err.Error(), "llm/bin") || strings.Contains(err.Error(), "CANARY") {
		t.Errorf("error %q", err)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
