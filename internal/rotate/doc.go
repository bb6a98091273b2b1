// Package rotate carries the Fernet keys through their life cycle (NIST SP
// 800-57 states: pending, active, decrypt-only, retired, compromised) and
// re-encrypts the store under the active key with zero downtime.
//
// A Rotator runs each operation under a lock on the store (and on the env
// file it edits): Rotate on one node (new key, re-encrypt, rewrite the env
// file), or Stage, Promote, Reencrypt and Retire across several replicas.
// The Engine re-encrypts in batches, each update a compare-and-swap on the
// old token, keeping each token's timestamp, so that it is safe to run
// from two nodes at once and to kill at any point: running it again moves
// only what is left. The keys live in the env file (package dotenv edits
// it; EnvRing and SetEnvRing read and write the two key variables); the
// store keeps each key's ID, state and dates, never the key. Status judges
// the schedule: the 90-day rotation period, the 30-day retention of
// decrypt-only keys, and every secret's own rotation period. See
// docs/rotation.md.
package rotate
