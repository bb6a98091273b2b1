package targets

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the reports as `targets status` and `status` show
// them: one row per target, tokens counted by key ID (primary, when not
// empty, marked *), and the error of each target that could not be read.
func WriteTable(w io.Writer, reps []Report, primary string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TARGET\tLOCATION\tVALUES\tTOKENS BY KEY ID\tPLAINTEXT\tUNREADABLE\tOLDEST\tSTATUS")
	for _, r := range reps {
		ids := make([]string, 0, len(r.Tokens))
		for id := range r.Tokens {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		var by []string
		for _, id := range ids {
			mark := ""
			if primary == id {
				mark = "*"
			}
			by = append(by, fmt.Sprintf("%s%s=%d", id, mark, r.Tokens[id]))
		}
		if len(by) == 0 {
			by = []string{"-"}
		}
		oldest := "-"
		if r.Oldest != nil {
			oldest = fmt.Sprintf("%dd", r.OldestAgeSeconds/86400)
		}
		st := "ok"
		switch {
		case r.Error != "":
			st = "UNREADABLE TARGET"
		case !r.OK():
			st = "FAIL"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%d\t%d\t%s\t%s\n", r.Target, r.Location, r.Total, strings.Join(by, " "), r.Plaintext, r.Unreadable, oldest, st)
	}
	tw.Flush()
	for _, r := range reps {
		if r.Error != "" {
			fmt.Fprintf(w, "%s: %s\n", r.Target, r.Error)
		}
	}
	if primary != "" {
		fmt.Fprintf(w, "(* the primary key %s)\n", primary)
	}
}
