package remote

import (
	"errors"
	"fmt"
	"net/http"
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
