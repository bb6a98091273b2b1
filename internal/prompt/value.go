package prompt

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"

	"github.com/somaagent01/sa01-secrets/internal/fault"
)

// Value reads a value of at most limit bytes (one more is read, so the
// caller can tell a longer one): all of the file named file when it is
// not "" (fileFlag names it in errors; one that cannot be opened is a
// fault.Usage error), else a line typed at in when in is a terminal, with a
// Hidden prompt naming name on w, else all of in.
func Value(in io.Reader, w io.Writer, name, file, fileFlag string, limit int) ([]byte, error) {
	what := "reading the value from stdin"
	if file != "" {
		f, err := os.Open(file)
		if err != nil {
			return nil, fault.New(fault.Usage, fmt.Errorf("%s: cannot open %s", fileFlag, file), "")
		}
		defer f.Close()
		in, what = f, fileFlag+": reading "+file
	} else if f, ok := in.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		b, err := Hidden(f, w, "value for "+name+" (not echoed): ", limit)
		if err != nil {
			return nil, fmt.Errorf("reading the value from the terminal: %w", err)
		}
		return b, nil
	}
	b, err := io.ReadAll(io.LimitReader(in, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", what, err)
	}
	return b, nil
}
