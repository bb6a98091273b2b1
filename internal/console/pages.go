package console

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/secrets"
)

// Access.

type accessData struct {
	Name       string // the secret of /ui/access/{name}, or ""
	Readers    []Reader
	Identities []Identity
	Actions    []string
	Query      AccessQuery
	Decision   *Decision
}

// simulatorActions are the actions the simulator offers: the YAML
// policy's, then the operators' of the role table.
var simulatorActions = []string{"read", "list", "write", "rotate", "destroy", "incident-open", "audit"}

// handleAccess: GET /ui/access/{name} lists who can read the secret; GET
// /ui/access?identity=I&action=A&secret=S asks the simulator.
func (c *Console) handleAccess(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ss := sessionFrom(ctx)
	d := accessData{Actions: simulatorActions}
	if r.PathValue("name") != "" {
		name, err := secretName(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Name = name
		if d.Readers, err = c.b.Readers(ctx, ss.who, name); err != nil {
			c.fail(w, r, err)
			return
		}
		d.Query = AccessQuery{Action: "read", Secret: name}
	}
	ids, err := c.b.Identities(ctx, ss.who)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d.Identities = ids
	q := r.URL.Query()
	if q.Has("identity") {
		aq := AccessQuery{Identity: q.Get("identity"), Action: q.Get("action"), Secret: q.Get("secret")}
		if len(aq.Identity) > 64 || len(aq.Action) > 32 {
			c.fail(w, r, inputError("identity or action: too long"))
			return
		}
		if err := secrets.ValidateName(aq.Secret); err != nil {
			c.fail(w, r, err)
			return
		}
		dec, err := c.b.Explain(ctx, ss.who, aq)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		d.Query, d.Decision = aq, &dec
	}
	title := "Access"
	if d.Name != "" {
		title = "Who can read " + d.Name
	}
	p := c.newPage(r, title, "access")
	p.Data = d
	c.render(w, r, http.StatusOK, "access", p)
}

// Audit.

type auditData struct {
	Query   AuditQuery
	Form    url.Values // the filters as given, for the form and the links
	Page    AuditPage
	Chain   ChainState
	NextURL string
	CSVURL  string
	JSONURL string
}

// auditQuery reads the filters of the audit page.
func (c *Console) auditQuery(r *http.Request) (AuditQuery, url.Values, error) {
	in := r.URL.Query()
	form := url.Values{}
	var q AuditQuery
	for _, f := range []struct {
		name string
		dst  *string
	}{{"secret", &q.Secret}, {"identity", &q.Identity}, {"action", &q.Action}, {"outcome", &q.Outcome}} {
		s := strings.TrimSpace(in.Get(f.name))
		if len(s) > maxQueryLen {
			return q, nil, inputError("%s: at most %d bytes", f.name, maxQueryLen)
		}
		if s != "" {
			form.Set(f.name, s)
		}
		*f.dst = s
	}
	if q.Outcome != "" && q.Outcome != audit.Success && q.Outcome != audit.Failure {
		return q, nil, inputError("outcome: want success or failure")
	}
	now := c.now()
	for _, f := range []struct {
		name string
		dst  *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		s := strings.TrimSpace(in.Get(f.name))
		if s == "" {
			continue
		}
		t, err := audit.ParseTime(s, now)
		if err != nil {
			return q, nil, inputError("%s: %s", f.name, err.Error())
		}
		*f.dst = t
		form.Set(f.name, s)
	}
	if s := in.Get("before"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 1 {
			return q, nil, inputError("before: want an event number")
		}
		q.Before = n
	}
	return q, form, nil
}

// handleAudit: GET /ui/audit with filters shows a page of events, newest
// first, and the chain's badge.
func (c *Console) handleAudit(w http.ResponseWriter, r *http.Request) {
	q, form, err := c.auditQuery(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	ctx := r.Context()
	ss := sessionFrom(ctx)
	pg, err := c.b.QueryAudit(ctx, ss.who, q)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cs, err := c.b.ChainState(ctx, ss.who)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	d := auditData{Query: q, Form: form, Page: pg, Chain: cs}
	enc := form.Encode()
	if pg.Next != 0 {
		nv := url.Values{}
		for k, v := range form {
			nv[k] = v
		}
		nv.Set("before", strconv.FormatInt(pg.Next, 10))
		d.NextURL = Prefix + "audit?" + nv.Encode()
	}
	d.CSVURL, d.JSONURL = Prefix+"audit.csv", Prefix+"audit.json"
	if enc != "" {
		d.CSVURL += "?" + enc
		d.JSONURL += "?" + enc
	}
	p := c.newPage(r, "Audit", "audit")
	p.Data = d
	c.render(w, r, http.StatusOK, "audit", p)
}

// downloadBatch is the page size of a download: memory stays bounded by
// one page whatever the number of events.
const downloadBatch = 1000

// Bounds of an audit download: at most MaxDownloadEvents events
// (Options.DownloadLimit; a longer
// download ends with a line saying where it stopped, so that the next
// download goes on with before=), written within DownloadTimeout (past
// the listener's write timeout, which would cut a long file short).
const (
	MaxDownloadEvents = 200_000
	DownloadTimeout   = 5 * time.Minute
)

// handleAuditDownload: GET /ui/audit.csv and /ui/audit.json download every
// event the filters select, newest first. The download is audited.
func (c *Console) handleAuditDownload(format string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		q, form, err := c.auditQuery(r)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		ctx := r.Context()
		ss := sessionFrom(ctx)
		if !c.b.Can(ctx, ss.who, ActAudit, "") {
			c.fail(w, r, ErrDenied)
			return
		}
		q.Limit = downloadBatch
		// The first page is read before anything is written, so that a
		// refusal is a page and not a broken file.
		pg, err := c.b.QueryAudit(ctx, ss.who, q)
		if err != nil {
			c.fail(w, r, err)
			return
		}
		if err := c.b.Record(ctx, audit.Event{Action: ActionAuditExport, Outcome: audit.Success, Detail: format + " " + form.Encode()}); err != nil {
			c.fail(w, r, err)
			return
		}
		deadline := time.Now().Add(DownloadTimeout)
		_ = http.NewResponseController(w).SetWriteDeadline(deadline)
		ctx, cancel := context.WithDeadline(ctx, deadline)
		defer cancel()
		name := "sa01-audit-" + c.now().UTC().Format("20060102T150405Z") + "." + format
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
		bw := bufio.NewWriterSize(w, 64<<10)
		var cw *csv.Writer
		first := true
		if format == "csv" {
			w.Header().Set("Content-Type", "text/csv; charset=utf-8")
			cw = csv.NewWriter(bw)
			_ = cw.Write([]string{"seq", "time", "identity", "actor", "action", "secret", "version", "outcome", "reason", "request_id", "source", "detail", "hash", "decision_id"})
		} else {
			w.Header().Set("Content-Type", "application/json")
			bw.WriteString("[")
		}
		n, lastSeq, truncated := 0, int64(0), int64(0)
		for {
			for _, e := range pg.Events {
				if n == c.opts.DownloadLimit {
					truncated = lastSeq
					break
				}
				n, lastSeq = n+1, e.Seq
				if cw != nil {
					_ = cw.Write([]string{strconv.FormatInt(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), cell(e.Service), cell(e.Actor),
						cell(e.Action), cell(e.Secret), strconv.Itoa(e.Version), cell(e.Outcome), cell(e.Reason), cell(e.RequestID), cell(e.Source), cell(e.Detail), e.Hash, cell(e.DecisionID)})
					continue
				}
				b, _ := json.Marshal(e)
				if !first {
					bw.WriteString(",")
				}
				bw.WriteString("\n")
				bw.Write(b)
				first = false
			}
			if truncated != 0 || pg.Next == 0 || ctx.Err() != nil {
				break
			}
			q.Before = pg.Next
			if pg, err = c.b.QueryAudit(ctx, ss.who, q); err != nil {
				if ctx.Err() != nil {
					break // the timeout: said below
				}
				// Headers are gone: end the file visibly incomplete.
				c.log.Error("console: audit download failed midway", "err", safeErr(err))
				if cw != nil {
					cw.Flush()
				}
				bw.WriteString("\n!!! download incomplete: the store failed !!!\n")
				_ = bw.Flush()
				return
			}
		}
		note := ""
		switch {
		case truncated != 0:
			note = fmt.Sprintf("truncated after %d events: download the rest with before=%d", n, truncated)
		case ctx.Err() != nil:
			note = "incomplete: the download took longer than " + DownloadTimeout.String()
		}
		if cw != nil {
			cw.Flush()
			if note != "" {
				bw.WriteString("\n!!! download " + note + " !!!\n")
			}
		} else {
			if note != "" {
				b, _ := json.Marshal(map[string]string{"sa01_download": note})
				if !first {
					bw.WriteString(",")
				}
				bw.WriteString("\n")
				bw.Write(b)
			}
			bw.WriteString("\n]\n")
		}
		_ = bw.Flush()
	}
}

// cell is a field of an event as a cell of the download: escaped and kept
// from being read as a formula as `audit query --format csv` writes it.
func cell(s string) string { return audit.CSVCell(s) }

// Keys.

// handleKeys: GET /ui/keys is the key ring and what is due for rotation.
func (c *Console) handleKeys(w http.ResponseWriter, r *http.Request) {
	ss := sessionFrom(r.Context())
	kr, err := c.b.Keys(r.Context(), ss.who)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "Keys and rotation", "keys")
	p.Data = kr
	c.render(w, r, http.StatusOK, "keys", p)
}

// Incidents.

type incidentsData struct {
	All       bool
	Incidents []*incident.Incident
}

// handleIncidents: GET /ui/incidents[?all=1] lists incidents with the
// policy's clock.
func (c *Console) handleIncidents(w http.ResponseWriter, r *http.Request) {
	all := r.URL.Query().Get("all") == "1"
	ss := sessionFrom(r.Context())
	incs, err := c.b.Incidents(r.Context(), ss.who, all)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "Incidents", "incidents")
	p.Data = incidentsData{All: all, Incidents: incs}
	c.render(w, r, http.StatusOK, "incidents", p)
}

type incidentData struct {
	Incident *incident.Incident
	Report   *incident.Report
}

// incidentID checks the {id} of the path: INC-YYYYMMDD-xxxxxx.
func incidentID(r *http.Request) (string, error) {
	id := r.PathValue("id")
	if len(id) < 5 || len(id) > 64 || !strings.HasPrefix(id, "INC-") {
		return "", inputError("incident: not an incident ID")
	}
	for i := 0; i < len(id); i++ {
		ch := id[i]
		if !(ch >= '0' && ch <= '9' || ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch == '-') {
			return "", inputError("incident: not an incident ID")
		}
	}
	return id, nil
}

// handleIncident: GET /ui/incident/{id}.
func (c *Console) handleIncident(w http.ResponseWriter, r *http.Request, ss *session, id, _ string) {
	inc, err := c.b.Incident(r.Context(), ss.who, id)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "Incident "+inc.ID, "incidents")
	p.Data = incidentData{Incident: inc}
	c.render(w, r, http.StatusOK, "incident", p)
}

// maxNoteLen bounds a reason, a report note or a review.
const maxNoteLen = 4096

func noteField(r *http.Request, name string, required bool) (string, error) {
	s := strings.TrimSpace(r.PostFormValue(name))
	if required && s == "" {
		return "", inputError("%s: required", name)
	}
	if len(s) > maxNoteLen {
		return "", inputError("%s: at most %d bytes", name, maxNoteLen)
	}
	return s, nil
}

// openIncident: POST /ui/incidents/open/{name} with a reason.
func (c *Console) openIncident(r *http.Request, ss *session, name string) (string, error) {
	reason, err := noteField(r, "reason", true)
	if err != nil {
		return "", err
	}
	inc, err := c.b.OpenIncident(r.Context(), ss.who, name, reason)
	if err != nil {
		return "", err
	}
	return Prefix + "incident/" + inc.ID, nil
}

// onIncident checks the incident ID of the path and the text field of the
// form, and calls h with them.
func (c *Console) onIncident(field string, required bool, h func(w http.ResponseWriter, r *http.Request, ss *session, id, text string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, err := incidentID(r)
		text := ""
		if err == nil && field != "" {
			text, err = noteField(r, field, required)
		}
		if err != nil {
			c.fail(w, r, err)
			return
		}
		h(w, r, sessionFrom(r.Context()), id, text)
	}
}

// handleReportIncident: POST /ui/incident/{id}/report writes the report
// and shows it.
func (c *Console) handleReportIncident(w http.ResponseWriter, r *http.Request, ss *session, id, note string) {
	rep, err := c.b.ReportIncident(r.Context(), ss.who, id, note)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	p := c.newPage(r, "Incident "+id, "incidents")
	p.Flash = "Report written."
	p.Data = incidentData{Incident: rep.Incident, Report: rep}
	c.render(w, r, http.StatusOK, "incident", p)
}

// handleCloseIncident: POST /ui/incident/{id}/close with the review.
func (c *Console) handleCloseIncident(w http.ResponseWriter, r *http.Request, ss *session, id, review string) {
	if _, err := c.b.CloseIncident(r.Context(), ss.who, id, review); err != nil {
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"incident/"+id, http.StatusSeeOther)
}
