package audit

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"github.com/somaagent01/sa01-secrets/internal/scan"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// eventJSON is the flat object of `audit query --format json` and csv:
// every field present, names as in docs/audit.md.
type eventJSON struct {
	Seq       int64  `json:"seq"`
	Time      string `json:"time"`
	Service   string `json:"service"`
	Actor     string `json:"actor"`
	Action    string `json:"action"`
	Secret    string `json:"secret"`
	Version   int    `json:"version"`
	Outcome   string `json:"outcome"`
	Reason    string `json:"reason"`
	RequestID string `json:"request_id"`
	Source    string `json:"source"`
	Detail    string `json:"detail"`
	Prev      string `json:"prev"`
	Hash      string `json:"hash"`
	// DecisionID is last, so that the columns of csv output written
	// before it was printed keep their places.
	DecisionID string `json:"decision_id"`
}

var eventCSVHeader = []string{"seq", "time", "service", "actor", "action", "secret", "version", "outcome", "reason", "request_id", "source", "detail", "prev", "hash", "decision_id"}

func toEventJSON(e Entry) eventJSON {
	return eventJSON{Seq: e.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano), Service: e.Service, Actor: e.Actor, Action: e.Action,
		Secret: e.Secret, Version: e.Version, Outcome: e.Outcome, Reason: e.Reason, RequestID: e.RequestID, Source: e.Source,
		Detail: e.Detail, Prev: e.Prev, Hash: e.Hash, DecisionID: e.DecisionID}
}

func (e eventJSON) record() []string {
	return []string{strconv.FormatInt(e.Seq, 10), e.Time, e.Service, e.Actor, e.Action, e.Secret, strconv.Itoa(e.Version),
		e.Outcome, e.Reason, e.RequestID, e.Source, e.Detail, e.Prev, e.Hash, e.DecisionID}
}

// WriteEntries writes entries in format: table (with header, a header
// line), json (an array of flat objects with the field names of
// docs/audit.md), jsonl (one object a line) or csv (the same fields, with
// header, a header record; cells a spreadsheet would run as formulas are
// prefixed with ').
func WriteEntries(w io.Writer, es []Entry, format string, header bool) error {
	switch format {
	case "json":
		out := make([]eventJSON, len(es))
		for i, e := range es {
			out[i] = toEventJSON(e)
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	case "jsonl":
		enc := json.NewEncoder(w)
		for _, e := range es {
			if err := enc.Encode(toEventJSON(e)); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		cw := csv.NewWriter(w)
		if header {
			_ = cw.Write(eventCSVHeader)
		}
		for _, e := range es {
			_ = cw.Write(csvSafe(printable(toEventJSON(e).record())))
		}
		cw.Flush()
		return cw.Error()
	case "table", "":
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		if header {
			fmt.Fprintln(tw, "SEQ\tTIME\tSERVICE\tACTOR\tACTION\tSECRET\tVERSION\tOUTCOME\tREASON\tREQUEST\tSOURCE\tOPA DECISION")
		}
		for _, e := range es {
			v := "-"
			if e.Version > 0 {
				v = strconv.Itoa(e.Version)
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Seq, e.Time.UTC().Format(time.RFC3339Nano),
				dash(e.Service), dash(e.Actor), dash(e.Action), dash(e.Secret), v, dash(e.Outcome), dash(e.Reason), dash(e.RequestID), dash(e.Source),
				dash(e.DecisionID))
		}
		return tw.Flush()
	}
	return fmt.Errorf("audit: unknown format %q: want table, json, jsonl or csv", format)
}

// csvSafe keeps spreadsheet programs from running a cell as a formula.
func csvSafe(rec []string) []string {
	for i, s := range rec {
		if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
			rec[i] = "'" + s
		}
	}
	return rec
}

// CSVCell returns a field of an event as a cell of an audit CSV, as
// WriteEntries writes them: the characters a terminal would act on
// escaped (a field may come from a request: `cat` of the file must not
// run an escape sequence), then prefixed with ' when a spreadsheet would
// run it as a formula.
func CSVCell(s string) string {
	return csvSafe([]string{scan.Printable(s)})[0]
}

// dash returns a table cell: "-" for an empty field, else the field with
// every character a terminal would act on escaped, quoted when it needs
// to be (a field may come from a request: an escape sequence or a newline
// in it must not forge a line on the reader's terminal).
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return scan.PrintableName(s)
}

// printable escapes, in place, the characters a terminal would act on in
// each field of a CSV record.
func printable(rec []string) []string {
	for i, s := range rec {
		rec[i] = scan.Printable(s)
	}
	return rec
}
