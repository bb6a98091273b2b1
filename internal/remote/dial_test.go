package remote

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/somaagent01/sa01-secrets/client"
	"github.com/somaagent01/sa01-secrets/internal/fault"
	"github.com/somaagent01/sa01-secrets/internal/server"
)

// Fault gives the server's failures the classes the same failures have on
// the local store.
func TestFault(t *testing.T) {
	for _, c := range []struct {
		err  error
		want fault.Class
	}{
		{&client.APIError{Status: http.StatusGone, Code: server.CodeCompromised}, fault.Denied},
		{&client.APIError{Status: http.StatusGone, Code: server.CodeGone}, fault.NotFound},
		{&client.APIError{Status: http.StatusBadRequest, Code: server.CodeInvalid}, fault.Usage},
		{&client.APIError{Status: http.StatusInternalServerError, Code: server.CodeIntegrity}, fault.InvalidToken},
		{&client.APIError{Status: http.StatusServiceUnavailable, Code: server.CodeKeyNotExpected}, fault.InvalidToken},
		{&client.APIError{Status: http.StatusInternalServerError, Code: server.CodeKeyNotLoaded}, fault.InvalidToken},
		{fmt.Errorf("x: %w", client.ErrUnauthenticated), fault.Denied},
		{fmt.Errorf("x: %w", client.ErrNotFound), fault.NotFound},
		{fmt.Errorf("x: %w", client.ErrConflict), fault.Conflict},
		{fmt.Errorf("x: %w", client.ErrUnavailable), fault.Unavailable},
		{&UnsupportedError{Verb: "key rotate"}, fault.Usage},
	} {
		var fe *fault.Error
		if err := Fault(c.err, "read"); !errors.As(err, &fe) || fe.Class != c.want {
			t.Errorf("Fault(%v) = %v, want class %d", c.err, err, c.want)
		}
	}
	if Fault(nil, "read") != nil {
		t.Error("Fault(nil) is not nil")
	}
	plain := errors.New("other")
	if Fault(plain, "read") != plain {
		t.Error("Fault changed an error it does not know")
	}
}

// TestGrantsNameVariables: a server's list that grants a secret under no
// variable, or under one that is not a name ("A=B" would set A in run's
// child), is refused, not handed to run.
func TestGrantsNameVariables(t *testing.T) {
	for _, page := range []string{`{"secrets":[{"readable":true}]}`, `{"secrets":[{"name":"a/b","env":"LANG=C X","readable":true}]}`,
		`{"secrets":[{"name":"a/","readable":true}]}`} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, page) }))
		c, _ := client.New(srv.URL, client.WithToken("sa01s_"+strings.Repeat("T", 43)))
		gs, err := New(c, false).Granted(context.Background())
		srv.Close()
		if !errors.Is(err, errAnswer) || gs != nil {
			t.Errorf("%s: %v, grants %+v", page, err, gs)
		}
	}
}
