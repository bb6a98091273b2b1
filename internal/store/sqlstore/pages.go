package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// likeEscape escapes s for a LIKE pattern with ESCAPE '\'.
func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// nameRange adds the conditions that keep s.name under prefix and after
// after to where, numbering placeholders from len(*args)+1.
func (s *Store) nameRange(where *[]string, args *[]any, prefix, after string) {
	c := s.d.Collate
	add := func(cond string, v any) {
		*args = append(*args, v)
		*where = append(*where, fmt.Sprintf(cond, len(*args)))
	}
	if after > prefix {
		add("s.name > $%d"+c, after)
	} else {
		add("s.name >= $%d"+c, prefix)
	}
	if end, ok := prefixEnd(prefix); ok {
		add("s.name < $%d"+c, end)
	}
}

// SecretPage implements store.Pages: a range of the unique index of names
// from q.After, filtered and limited.
func (s *Store) SecretPage(ctx context.Context, q store.SecretPageQuery) (store.SecretPage, error) {
	if q.Limit <= 0 {
		q.Limit = 1
	}
	var where []string
	var args []any
	s.nameRange(&where, &args, q.Prefix, q.After)
	if !q.Deleted {
		where = append(where, "s.deleted_at IS NULL")
	}
	if q.Search != "" {
		args = append(args, "%"+likeEscape(strings.ToLower(q.Search))+"%")
		where = append(where, fmt.Sprintf(`lower(s.name) LIKE $%d ESCAPE '\'`, len(args)))
	} else {
		// The folder's own secrets; its subfolders are listed apart.
		args = append(args, likeEscape(q.Prefix)+"%/%")
		where = append(where, fmt.Sprintf(`s.name NOT LIKE $%d ESCAPE '\'`, len(args)))
	}
	args = append(args, q.Limit+1)
	stmt := `SELECT ` + SecretColumns + ` FROM secrets s WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY s.name` + s.d.Collate + fmt.Sprintf(` LIMIT $%d`, len(args))
	var pg store.SecretPage
	var err error
	if pg.Secrets, err = rowsOf(ctx, s, nil, "listing a page of secrets", scanSecret, stmt, args...); err != nil {
		return store.SecretPage{}, err
	}
	if len(pg.Secrets) > q.Limit {
		pg.Secrets = pg.Secrets[:q.Limit]
		pg.Next = pg.Secrets[q.Limit-1].Name
	}
	return pg, nil
}

// SecretFolders implements store.Pages. It skips from folder to folder on
// the index of names: one short range read per folder, never a read of
// every name under the prefix.
func (s *Store) SecretFolders(ctx context.Context, prefix string, deleted bool, limit int) ([]string, error) {
	c := s.d.Collate
	end, bounded := prefixEnd(prefix)
	var out []string
	from := prefix
	for len(out) < limit {
		args := []any{from, likeEscape(prefix) + "%/%"}
		stmt := `SELECT s.name FROM secrets s WHERE s.name >= $1` + c + ` AND s.name LIKE $2 ESCAPE '\'`
		if bounded {
			args = append(args, end)
			stmt += ` AND s.name < $3` + c
		}
		if !deleted {
			stmt += ` AND s.deleted_at IS NULL`
		}
		var name string
		err := s.read.QueryRowContext(ctx, stmt+` ORDER BY s.name`+c+` LIMIT 1`, args...).Scan(&name)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return nil, s.Fail("listing folders", err)
		}
		f, _, ok := strings.Cut(strings.TrimPrefix(name, prefix), "/")
		if !ok || !strings.HasPrefix(name, prefix) {
			break // LIKE matched past the prefix case-insensitively: the range forbids it
		}
		out = append(out, f)
		next, ok := prefixEnd(prefix + f + "/")
		if !ok {
			break
		}
		from = next // past every name of the folder
	}
	return out, nil
}

// LastAccess implements store.Pages, on the index of audit events by
// secret and seq.
func (s *Store) LastAccess(ctx context.Context, name string, actions []string) (audit.Entry, bool, error) {
	if len(actions) == 0 {
		return audit.Entry{}, false, nil
	}
	args := []any{name, audit.Success}
	var in []string
	for _, a := range actions {
		args = append(args, a)
		in = append(in, fmt.Sprintf("$%d", len(args)))
	}
	e, err := scanEntry(s.read.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_events
		WHERE secret = $1 AND outcome = $2 AND action IN (`+strings.Join(in, ", ")+`) ORDER BY seq DESC LIMIT 1`, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return audit.Entry{}, false, nil
	}
	if err != nil {
		return audit.Entry{}, false, s.Fail("reading the last access of "+name, err)
	}
	return e, true, nil
}

// AuditPage implements store.Pages, newest first by seq. A filter on the
// secret or the identity is served by its index. Other filters alone (a
// rare action, failures, an old time range) would scan the whole table
// for one page: such a page examines one window of events, and the next
// page goes on below it.
func (s *Store) AuditPage(ctx context.Context, q store.AuditPageQuery) (store.AuditPage, error) {
	if q.Limit <= 0 {
		q.Limit = 1
	}
	if q.Window <= 0 {
		q.Window = store.DefaultAuditWindow
	}
	f := auditFilterOf(q.Secret, q.Service, q.Action, q.Outcome, q.Since, q.Until)
	if q.Before > 0 {
		f.add("seq < $%d", q.Before)
	}
	var low int64
	if q.Secret == "" && q.Service == "" && (q.Action != "" || q.Outcome != "" || !q.Since.IsZero() || !q.Until.IsZero()) {
		top := q.Before
		if top == 0 {
			h, err := s.AuditHead(ctx)
			if err != nil {
				return store.AuditPage{}, err
			}
			top = h.Seq + 1
		}
		if low = top - q.Window; low > 1 {
			f.add("seq >= $%d", low)
		}
	}
	f.args = append(f.args, q.Limit+1)
	stmt := `SELECT ` + auditColumns + ` FROM audit_events` + f.sql() + fmt.Sprintf(` ORDER BY seq DESC LIMIT $%d`, len(f.args))
	es, err := s.entries(ctx, stmt, f.args...)
	if err != nil {
		return store.AuditPage{}, err
	}
	pg := store.AuditPage{Events: es}
	switch {
	case len(es) > q.Limit:
		pg.Events = es[:q.Limit]
		pg.Next = pg.Events[q.Limit-1].Seq
	case low > 1:
		// The window ran out before the page filled: go on below it,
		// unless every event below is older than since.
		pg.Next, pg.LookedTo = low, low
		if !q.Since.IsZero() {
			var ns int64
			err := s.read.QueryRowContext(ctx, `SELECT time_ns FROM audit_events WHERE seq < $1 ORDER BY seq DESC LIMIT 1`, low).Scan(&ns)
			if err == nil && ns < q.Since.UnixNano() {
				pg.Next = 0
			}
		}
	}
	return pg, nil
}

var _ store.Pages = (*Store)(nil)
