//go:build sa01bench

package main

import "github.com/spf13/pflag"

// benchmarkFlags adds, to the benchmark build only (go build -tags
// sa01bench, as bench/server does), the flag that serves with no audit
// sink, to measure what auditing costs. The production binary has no way
// to turn audit off.
func benchmarkFlags(f *pflag.FlagSet, o *serveOptions) {
	f.BoolVar(&o.NoAudit, "benchmark-without-audit", false, "record no audit events (benchmarks only: breaks the audit policy)")
	_ = f.MarkHidden("benchmark-without-audit")
}
