//go:build !sa01bench

package main

import "github.com/spf13/pflag"

// benchmarkFlags adds nothing to the production binary: audit cannot be
// turned off (see serve_bench.go).
func benchmarkFlags(*pflag.FlagSet, *serveOptions) {}
