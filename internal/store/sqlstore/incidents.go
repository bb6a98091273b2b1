package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/somaagent01/sa01-secrets/internal/incident"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// closedNanos is the closed_ns column of inc: NULL while it is open.
func closedNanos(inc *incident.Incident) any {
	if !inc.Closed() {
		return nil
	}
	return inc.ClosedAt.UnixNano()
}

// incidentJSON is the data column of inc.
func incidentJSON(inc *incident.Incident) (string, error) {
	data, err := json.Marshal(inc)
	return string(data), err
}

// CreateIncident implements store.Incidents.
func (s *Store) CreateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	_, err = s.changed(ctx, "storing incident "+inc.ID, `INSERT INTO incidents (id, secret, version, opened_ns, closed_ns, data) VALUES ($1, $2, $3, $4, $5, $6)`,
		inc.ID, inc.Secret, inc.Version, inc.OpenedAt.UnixNano(), closedNanos(inc), string(data))
	return err
}

// UpdateIncident implements store.Incidents.
func (s *Store) UpdateIncident(ctx context.Context, inc *incident.Incident) error {
	data, err := json.Marshal(inc)
	if err != nil {
		return err
	}
	n, err := s.changed(ctx, "updating incident "+inc.ID, `UPDATE incidents SET closed_ns = $1, data = $2 WHERE id = $3`, closedNanos(inc), string(data), inc.ID)
	if err == nil && n == 0 {
		return fmt.Errorf("%w: incident %s", store.ErrNotFound, inc.ID)
	}
	return err
}

func (s *Store) scanIncident(r Scanner) (*incident.Incident, error) {
	var data string
	if err := r.Scan(&data); err != nil {
		return nil, err
	}
	var inc incident.Incident
	if err := json.Unmarshal([]byte(data), &inc); err != nil {
		return nil, errors.New("malformed incident record")
	}
	return &inc, nil
}

// Incident implements store.Incidents.
func (s *Store) Incident(ctx context.Context, id string) (*incident.Incident, error) {
	inc, err := s.scanIncident(s.read.QueryRowContext(ctx, `SELECT data FROM incidents WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: incident %s", store.ErrNotFound, id)
	}
	if err != nil {
		return nil, s.Fail("reading incident "+id, err)
	}
	return inc, nil
}

// ListIncidents implements store.Incidents.
func (s *Store) ListIncidents(ctx context.Context, all bool) ([]*incident.Incident, error) {
	q := `SELECT data FROM incidents`
	if !all {
		q += ` WHERE closed_ns IS NULL`
	}
	return rowsOf(ctx, s, nil, "listing incidents", s.scanIncident, q+` ORDER BY opened_ns DESC, id`)
}
