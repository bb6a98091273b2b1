package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

var _ store.Incidents = (*DB)(nil)

func closedNanos(inc *incident.Incident) any {
	if !inc.Closed() {
		return nil
	}
	return inc.ClosedAt.UnixNano()
}

// CreateIncident implements store.Incidents.
func (d *DB) CreateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	_, err = d.pool.Exec(ctx, `INSERT INTO incidents (id, secret, version, opened_ns, closed_ns, data) VALUES ($1,$2,$3,$4,$5,$6)`,
		inc.ID, inc.Secret, inc.Version, inc.OpenedAt.UnixNano(), closedNanos(inc), string(data))
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("%w: incident %s exists", store.ErrConflict, inc.ID)
	}
	if err != nil {
		return fmt.Errorf("postgres: storing incident: %w", err)
	}
	return nil
}

// UpdateIncident implements store.Incidents.
func (d *DB) UpdateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	tag, err := d.pool.Exec(ctx, `UPDATE incidents SET closed_ns = $1, data = $2 WHERE id = $3`, closedNanos(inc), string(data), inc.ID)
	if err != nil {
		return fmt.Errorf("postgres: updating incident: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: incident %s", store.ErrNotFound, inc.ID)
	}
	return nil
}

// Incident implements store.Incidents.
func (d *DB) Incident(ctx context.Context, id string) (*incident.Incident, error) {
	var data string
	err := d.pool.QueryRow(ctx, `SELECT data FROM incidents WHERE id = $1`, id).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: incident %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: reading incident: %w", err)
	}
	var inc incident.Incident
	if err := json.Unmarshal([]byte(data), &inc); err != nil {
		return nil, fmt.Errorf("postgres: incident %s: malformed record", id)
	}
	return &inc, nil
}

// ListIncidents implements store.Incidents.
func (d *DB) ListIncidents(ctx context.Context, all bool) ([]*incident.Incident, error) {
	q := `SELECT data FROM incidents`
	if !all {
		q += ` WHERE closed_ns IS NULL`
	}
	rows, err := d.pool.Query(ctx, q+` ORDER BY opened_ns DESC, id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: listing incidents: %w", err)
	}
	defer rows.Close()
	var out []*incident.Incident
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("postgres: listing incidents: %w", err)
		}
		var inc incident.Incident
		if err := json.Unmarshal([]byte(data), &inc); err != nil {
			return nil, errors.New("postgres: listing incidents: malformed record")
		}
		out = append(out, &inc)
	}
	return out, rows.Err()
}
