//go:build !linux

package opatest

import "syscall"

func procAttr() *syscall.SysProcAttr { return nil }
