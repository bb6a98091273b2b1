package opatest

import "syscall"

// procAttr kills OPA with the test binary, should the test process die
// before its cleanup runs.
func procAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
