package identity

import (
	"testing"
	"time"
)

func TestCredentialState(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		cred Credential
		want string
	}{
		{Credential{ExpiresAt: now.Add(DueWindow + time.Hour)}, "live"},
		{Credential{ExpiresAt: now.Add(DueWindow - time.Hour)}, "due"},
		{Credential{ExpiresAt: now}, "expired"},
		{Credential{ExpiresAt: now.Add(time.Hour), RevokedAt: now}, "revoked"},
	} {
		if got := c.cred.State(now); got != c.want {
			t.Errorf("State(expires %v, revoked %v) = %s, want %s", c.cred.ExpiresAt, c.cred.RevokedAt, got, c.want)
		}
	}
}
