// Package local holds the handle of a store opened on this machine, for
// the verbs that work without a server: the store, its audit recorder,
// the configuration it was opened under and the caller. The packages that
// build a verb group's backend over it (secrets, rotate, targets, respond,
// registry) take the handle from here, so that they need no store driver:
// internal/store/open opens it.
package local

import (
	"context"

	"github.com/somaagent01/sa01-secrets/internal/audit"
	"github.com/somaagent01/sa01-secrets/internal/config"
	"github.com/somaagent01/sa01-secrets/internal/store"
)

// Handle is the local store with its audit recorder; Ctx carries the
// local operator as caller.
type Handle struct {
	Ctx      context.Context
	Config   *config.Config
	Store    store.Store
	Recorder audit.Recorder
}

// Close closes the store.
func (h *Handle) Close() error { return h.Store.Close() }
