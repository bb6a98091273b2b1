package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Incidents = (*DB)(nil)

func nullNanos(inc *incident.Incident) sql.NullInt64 {
	if !inc.Closed() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: inc.ClosedAt.UnixNano(), Valid: true}
}

// CreateIncident implements store.Incidents.
func (d *DB) CreateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	return d.withTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO incidents (id, secret, version, opened_ns, closed_ns, data) VALUES (?,?,?,?,?,?)`,
			inc.ID, inc.Secret, inc.Version, inc.OpenedAt.UnixNano(), nullNanos(inc), string(data))
		if err != nil {
			if strings.Contains(err.Error(), "UNIQUE") {
				return fmt.Errorf("%w: incident %s exists", store.ErrConflict, inc.ID)
			}
			return fmt.Errorf("sqlite: storing incident: %w", err)
		}
		return nil
	})
}

// UpdateIncident implements store.Incidents.
func (d *DB) UpdateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	return d.withTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE incidents SET closed_ns = ?, data = ? WHERE id = ?`, nullNanos(inc), string(data), inc.ID)
		if err != nil {
			return fmt.Errorf("sqlite: updating incident: %w", err)
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: incident %s", store.ErrNotFound, inc.ID)
		}
		return nil
	})
}

// Incident implements store.Incidents.
func (d *DB) Incident(ctx context.Context, id string) (*incident.Incident, error) {
	var data string
	err := d.read.QueryRowContext(ctx, `SELECT data FROM incidents WHERE id = ?`, id).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: incident %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: reading incident: %w", err)
	}
	var inc incident.Incident
	if err := json.Unmarshal([]byte(data), &inc); err != nil {
		return nil, fmt.Errorf("sqlite: incident %s: malformed record", id)
	}
	return &inc, nil
}

// ListIncidents implements store.Incidents.
func (d *DB) ListIncidents(ctx context.Context, all bool) ([]*incident.Incident, error) {
	q := `SELECT data FROM incidents`
	if !all {
		q += ` WHERE closed_ns IS NULL`
	}
	rows, err := d.read.QueryContext(ctx, q+` ORDER BY opened_ns DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: listing incidents: %w", err)
	}
	defer rows.Close()
	var out []*incident.Incident
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("sqlite: listing incidents: %w", err)
		}
		var inc incident.Incident
		if err := json.Unmarshal([]byte(data), &inc); err != nil {
			return nil, fmt.Errorf("sqlite: listing incidents: malformed record")
		}
		out = append(out, &inc)
	}
	return out, rows.Err()
}
