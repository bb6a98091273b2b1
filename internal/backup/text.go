package backup

import (
	"fmt"
	"io"
	"os"

	"golang.org/x/term"
)

// WriteText writes sum under title as `backup` and `backup --verify` show
// it: where the backup comes from, its sections, its checksum and whether
// it is authenticated, and what was checked.
func (sum Summary) WriteText(w io.Writer, title string) {
	fmt.Fprintln(w, title)
	fmt.Fprintf(w, "  format %d, made %s by sa01-secrets %s from %s\n", sum.Format, sum.CreatedAt.Format("2006-01-02T15:04:05Z"), orDash(sum.Software), orDash(sum.Source))
	for _, s := range sum.Sections {
		note := ""
		if s.Unknown {
			note = "  (unknown to this binary: skipped"
			if s.Critical {
				note += "; a restore needs a newer sa01-secrets"
			}
			note += ")"
		}
		fmt.Fprintf(w, "  %-18s %10d rows%s\n", s.Name, s.Rows, note)
	}
	fmt.Fprintf(w, "  %d bytes, sha256 %s\n", sum.Bytes, sum.SHA256)
	switch {
	case sum.Authenticated:
		fmt.Fprintf(w, "  authenticated: MAC under key %s\n", sum.KeyID)
	case sum.KeyID != "":
		fmt.Fprintf(w, "  NOT authenticated: its MAC is under key %s, which is not loaded\n", sum.KeyID)
	default:
		fmt.Fprintln(w, "  NOT authenticated: written without a key")
	}
	if sum.BindingsChecked+sum.BindingsUnchecked > 0 {
		fmt.Fprintf(w, "  row bindings: %d checked, %d under keys not loaded\n", sum.BindingsChecked, sum.BindingsUnchecked)
	}
	if sum.Audit != nil {
		fmt.Fprintf(w, "  audit chain intact: %d events, head %s, %d checkpoints matched\n", sum.Audit.Events, sum.Audit.Head, sum.Audit.Checkpoints)
	}
}

// orDash prints "-" for an empty field.
func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteText writes rep under title as `restore` and `migrate` show it: the
// rows loaded, then verify and audit verify on the store they filled.
func (rep Report) WriteText(w io.Writer, title string) {
	fmt.Fprintf(w, "%s: %d rows\n", title, rep.Backup.Rows)
	if rep.Store != nil {
		fmt.Fprintf(w, "  verify: %d versions, %d passed, %d failed\n", rep.Store.Versions, rep.Store.Passed, rep.Store.Failed)
	}
	if rep.Audit.OK() {
		fmt.Fprintf(w, "  audit verify: chain intact, %d events, head %s\n", rep.Audit.Events, rep.Audit.Head)
	} else {
		fmt.Fprintf(w, "  audit verify: chain BROKEN: %s\n", rep.Audit.Problem.Error())
	}
}

// ProgressTo returns an Options.Progress that draws each section's
// progress on w when w is a terminal, and nil otherwise.
func ProgressTo(w io.Writer) func(Progress) {
	f, ok := w.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return func(p Progress) {
		size, end := "", ""
		if p.Bytes > 0 { // a migrate's rows go through no stream
			size = fmt.Sprintf("  %8.1f MB", float64(p.Bytes)/1e6)
		}
		if p.Done {
			end = "\n"
		}
		fmt.Fprintf(w, "\r%-18s %12d rows%s%s", p.Section, p.Rows, size, end)
	}
}
