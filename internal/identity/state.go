package identity

import "time"

// State names the credential's state at now: "revoked", "expired", "due"
// (expiring within DueWindow) or "live".
func (c Credential) State(now time.Time) string {
	switch {
	case !c.RevokedAt.IsZero():
		return "revoked"
	case !now.Before(c.ExpiresAt):
		return "expired"
	case c.ExpiresAt.Before(now.Add(DueWindow)):
		return "due"
	}
	return "live"
}
