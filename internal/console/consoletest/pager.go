package consoletest

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/console"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// pager holds the paged queries the console needs and store.Store does
// not offer yet: a page of secrets by name (keyset on the unique index of
// names), the folders under a prefix, the newest access of a secret by
// action (the audit index on secret and seq), and a page of audit events
// before a sequence number (the primary key, or the secret or service
// index). They read the store's own tables through a read-only handle. The
// store should gain them (in internal/store/sqlstore, for both drivers) as
// a page of secrets, the folders, the last access and a Before cursor in
// audit.Query; until then they live here, for SQLite only.
type pager struct {
	db     *sql.DB
	window int64 // events a page examines when no index serves its filters
}

func openPager(path string) (*pager, error) {
	q := url.Values{}
	q.Add("mode", "ro")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "query_only(1)")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(4)
	return &pager{db: db, window: AuditScanWindow}, nil
}

func (p *pager) close() { p.db.Close() }

const secretCols = `id, name, class, rotation_period, description, owner, env_name, created_at, updated_at, deleted_at, current_version`

// upper bounds the names under a prefix, as the store's List does.
func upper(prefix string) string { return prefix + "\U0010FFFF" }

// listSecrets returns up to q.Limit secrets after q.After under q.Prefix,
// by name, and the next page's After.
func (p *pager) listSecrets(ctx context.Context, q console.SecretQuery) ([]store.Secret, string, error) {
	s := `SELECT ` + secretCols + ` FROM secrets WHERE name >= ? AND name < ? AND name > ?`
	args := []any{q.Prefix, upper(q.Prefix), q.After}
	if !q.Deleted {
		s += ` AND deleted_at IS NULL`
	}
	if q.Search != "" {
		s += ` AND instr(lower(name), ?) > 0`
		args = append(args, strings.ToLower(q.Search))
	} else {
		// The folder's own secrets; its subfolders are listed apart.
		s += ` AND instr(substr(name, ?), '/') = 0`
		args = append(args, len(q.Prefix)+1)
	}
	s += ` ORDER BY name LIMIT ?`
	args = append(args, q.Limit+1)
	rows, err := p.db.QueryContext(ctx, s, args...)
	if err != nil {
		return nil, "", fmt.Errorf("consoletest: listing secrets: %w", err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		var sec store.Secret
		var rot, created, updated int64
		var deleted sql.NullInt64
		if err := rows.Scan(&sec.ID, &sec.Name, &sec.Class, &rot, &sec.Description, &sec.Owner, &sec.EnvName,
			&created, &updated, &deleted, &sec.CurrentVersion); err != nil {
			return nil, "", fmt.Errorf("consoletest: listing secrets: %w", err)
		}
		sec.RotationPeriod = time.Duration(rot) * time.Second
		sec.CreatedAt, sec.UpdatedAt = time.UnixMicro(created).UTC(), time.UnixMicro(updated).UTC()
		if deleted.Valid {
			sec.DeletedAt = time.UnixMicro(deleted.Int64).UTC()
		}
		out = append(out, sec)
	}
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("consoletest: listing secrets: %w", err)
	}
	next := ""
	if len(out) > q.Limit {
		out = out[:q.Limit]
		next = out[len(out)-1].Name
	}
	return out, next, nil
}

// folders returns the next segments under prefix that hold secrets.
func (p *pager) folders(ctx context.Context, prefix string, deleted bool) ([]string, error) {
	n := len(prefix) + 1
	s := `SELECT DISTINCT substr(name, ?1, instr(substr(name, ?1), '/') - 1) AS f FROM secrets
		WHERE name >= ?2 AND name < ?3 AND instr(substr(name, ?1), '/') > 0`
	if !deleted {
		s += ` AND deleted_at IS NULL`
	}
	rows, err := p.db.QueryContext(ctx, s+` ORDER BY f LIMIT ?4`, n, prefix, upper(prefix), console.MaxFolders)
	if err != nil {
		return nil, fmt.Errorf("consoletest: listing folders: %w", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var f string
		if err := rows.Scan(&f); err != nil {
			return nil, fmt.Errorf("consoletest: listing folders: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// last returns the newest successful access to name by one of actions.
func (p *pager) last(ctx context.Context, name string, actions []string) (console.LastAccess, error) {
	s := `SELECT service, actor, time_ns, action, version FROM audit_events
		WHERE secret = ? AND outcome = 'success' AND action IN (?` + strings.Repeat(",?", len(actions)-1) + `) ORDER BY seq DESC LIMIT 1`
	args := []any{name}
	for _, a := range actions {
		args = append(args, a)
	}
	var la console.LastAccess
	var service, actor string
	var ns int64
	err := p.db.QueryRowContext(ctx, s, args...).Scan(&service, &actor, &ns, &la.Action, &la.Version)
	if err == sql.ErrNoRows {
		return console.LastAccess{}, nil
	}
	if err != nil {
		return console.LastAccess{}, fmt.Errorf("consoletest: reading the last access: %w", err)
	}
	la.Identity, la.Time = service, time.Unix(0, ns).UTC()
	if la.Identity == "" {
		la.Identity = actor
	}
	return la, nil
}

const auditCols = `seq, prev, hash, time_ns, service, actor, action, secret, version, outcome, reason, request_id, source, detail`

// audit returns a page of events, newest first.
func (p *pager) audit(ctx context.Context, q console.AuditQuery) (console.AuditPage, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if q.Secret != "" {
		add("secret = ?", q.Secret)
	}
	if q.Identity != "" {
		add("service = ?", q.Identity)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.Outcome != "" {
		add("outcome = ?", q.Outcome)
	}
	if !q.Since.IsZero() {
		add("time_ns >= ?", q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		add("time_ns < ?", q.Until.UnixNano())
	}
	if q.Before > 0 {
		add("seq < ?", q.Before)
	}
	// Without a filter an index serves (secret, identity), a selective
	// filter (a rare action, failures, an old time range) would scan the
	// whole table for one page: the page examines one window of events,
	// and the next page goes on below it.
	var low int64
	if q.Secret == "" && q.Identity == "" && (q.Action != "" || q.Outcome != "" || !q.Since.IsZero() || !q.Until.IsZero()) {
		top := q.Before
		if top == 0 {
			var head sql.NullInt64
			if err := p.db.QueryRowContext(ctx, `SELECT max(seq) FROM audit_events`).Scan(&head); err != nil {
				return console.AuditPage{}, fmt.Errorf("consoletest: querying audit events: %w", err)
			}
			top = head.Int64 + 1
		}
		if low = top - p.window; low > 1 {
			add("seq >= ?", low)
		}
	}
	s := `SELECT ` + auditCols + ` FROM audit_events`
	if len(where) > 0 {
		s += ` WHERE ` + strings.Join(where, " AND ")
	}
	s += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, q.Limit+1)
	rows, err := p.db.QueryContext(ctx, s, args...)
	if err != nil {
		return console.AuditPage{}, fmt.Errorf("consoletest: querying audit events: %w", err)
	}
	defer rows.Close()
	var pg console.AuditPage
	for rows.Next() {
		var e audit.Entry
		var ns int64
		if err := rows.Scan(&e.Seq, &e.Prev, &e.Hash, &ns, &e.Service, &e.Actor, &e.Action, &e.Secret,
			&e.Version, &e.Outcome, &e.Reason, &e.RequestID, &e.Source, &e.Detail); err != nil {
			return console.AuditPage{}, fmt.Errorf("consoletest: querying audit events: %w", err)
		}
		e.Time = time.Unix(0, ns).UTC()
		pg.Events = append(pg.Events, e)
	}
	if err := rows.Err(); err != nil {
		return console.AuditPage{}, fmt.Errorf("consoletest: querying audit events: %w", err)
	}
	switch {
	case len(pg.Events) > q.Limit:
		pg.Events = pg.Events[:q.Limit]
		pg.Next = pg.Events[len(pg.Events)-1].Seq
	case low > 1:
		// The window ran out before the page filled: go on below it,
		// unless the events below are all older than since.
		pg.Next, pg.LookedTo = low, low
		if !q.Since.IsZero() {
			var ns int64
			err := p.db.QueryRowContext(ctx, `SELECT time_ns FROM audit_events WHERE seq < ? ORDER BY seq DESC LIMIT 1`, low).Scan(&ns)
			if err == nil && ns < q.Since.UnixNano() {
				pg.Next = 0
			}
		}
	}
	return pg, nil
}

// AuditScanWindow is how many events one page of the audit trail examines
// at most when no index serves its filters (SetAuditScanWindow changes
// it).
const AuditScanWindow = 50_000
