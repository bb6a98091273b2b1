package scan

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestInputsSelect(t *testing.T) {
	for _, tc := range []struct {
		name  string
		in    Inputs
		paths []string
		want  []string
		err   error
	}{
		{"nothing: the current directory", Inputs{}, nil, []string{"."}, nil},
		{"paths", Inputs{}, []string{"a", "b"}, []string{"a", "b"}, nil},
		{"git alone", Inputs{Git: "repo"}, nil, nil, nil},
		{"stdin alone", Inputs{Stdin: strings.NewReader("")}, nil, nil, nil},
		{"paths and git", Inputs{Git: "repo"}, []string{"a"}, nil, ErrInputs},
		{"staged and image", Inputs{Staged: true, Image: "x.tar"}, nil, nil, ErrInputs},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.in.Select(tc.paths)
			if !errors.Is(err, tc.err) || (err == nil && !slices.Equal(tc.in.Paths, tc.want)) {
				t.Fatalf("Select = %v, Paths %q; want %v, %q", err, tc.in.Paths, tc.err, tc.want)
			}
		})
	}
}
