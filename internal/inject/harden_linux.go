//go:build linux

package inject

import "golang.org/x/sys/unix"

// Harden makes the launcher not dumpable (PR_SET_DUMPABLE 0): its
// /proc/PID/environ, /proc/PID/mem and ptrace are then closed to processes
// of its own user, the command it starts among them, so the credential
// and token it holds stay its own. The command, a new program, is
// dumpable again as usual.
func Harden() error { return unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0) }
