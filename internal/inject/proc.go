package inject

import (
	"fmt"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"golang.org/x/term"
)

// User is the account run --user starts the command as.
type User struct {
	Name     string
	Home     string
	Uid, Gid uint32
	Groups   []uint32
}

// ErrNotRoot is run --user by a launcher that cannot change user.
var ErrNotRoot = fmt.Errorf("run --user: the launcher must run as root to start the command as another user")

// LookupUser resolves a user name or numeric ID, with its primary and
// supplementary groups. It fails unless the launcher runs as root, the
// only launcher that can start the command as another user.
func LookupUser(name string) (*User, error) {
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	u, err := user.Lookup(name)
	if err != nil {
		if _, nerr := strconv.ParseUint(name, 10, 32); nerr == nil {
			u, err = user.LookupId(name)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("run --user %s: no such user", name)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("run --user %s: not a numeric uid/gid", name)
	}
	out := &User{Name: u.Username, Home: u.HomeDir, Uid: uint32(uid), Gid: uint32(gid)}
	gids, err := u.GroupIds()
	if err != nil {
		return nil, fmt.Errorf("run --user %s: cannot list its groups: %v", name, err)
	}
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil {
			out.Groups = append(out.Groups, uint32(n))
		}
	}
	return out, nil
}

func (u *User) credential() *syscall.Credential {
	return &syscall.Credential{Uid: u.Uid, Gid: u.Gid, Groups: u.Groups}
}

// env sets HOME, USER and LOGNAME to the user's.
func (u *User) env(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k != "HOME" && k != "USER" && k != "LOGNAME" {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+u.Home, "USER="+u.Name, "LOGNAME="+u.Name)
}

// DropCredentialEnv removes the launcher's credential and token
// (SA01_SECRETS_CREDENTIAL*, SA01_SECRETS_TOKEN*) from its own
// environment once they are read, so nothing it starts later inherits
// them. The kernel's copy in /proc/PID/environ stays as it was at exec:
// Harden keeps that from the command.
func DropCredentialEnv() {
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "SA01_SECRETS_CREDENTIAL") || strings.HasPrefix(k, "SA01_SECRETS_TOKEN") {
			_ = os.Unsetenv(k)
		}
	}
}

// terminalFD is stdin's descriptor when it is a terminal, else -1.
func terminalFD(r any) int {
	f, ok := r.(*os.File)
	if !ok {
		return -1
	}
	if !term.IsTerminal(int(f.Fd())) {
		return -1
	}
	return int(f.Fd())
}

// takeTerminal makes the launcher's process group the terminal's
// foreground group again once the command's group is gone, ignoring the
// SIGTTOU a background group gets for asking.
func takeTerminal(tty int) {
	if tty < 0 {
		return
	}
	signal.Ignore(syscall.SIGTTOU)
	defer signal.Reset(syscall.SIGTTOU)
	_ = unix.IoctlSetPointerInt(tty, unix.TIOCSPGRP, unix.Getpgrp())
}

// groupAlive reports whether a process of the group is still running (a
// zombie waiting for its reaper is not).
func groupAlive(pgid int) bool {
	if syscall.Kill(-pgid, 0) != nil {
		return false
	}
	procs, _ := filepath.Glob("/proc/[0-9]*/stat")
	if procs == nil {
		return true
	}
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold anything but ')'
		// ends it at the last one.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			return true
		}
	}
	return false
}
