#!/bin/sh
# Runs the Fernet benchmarks (ours, ours with append, fernet-go, raw bound) in
# one go test run, under the shared benchmark lock, saves the raw output and
# prints the ratios of CPU time per operation (see ratios.go).
#
#   bench/fernet/run.sh [count [cpus]]    (defaults: 10 runs, -cpu 1)
#
# -cpu 1 (GOMAXPROCS=1) keeps the garbage collector's idle workers from
# spinning on the otherwise idle second CPU, which counts as CPU time of the
# allocating implementations without doing their work.
set -eu
cd "$(dirname "$0")/../.."
count=${1:-10}
cpus=${2:-1}
out=bench/fernet/results.txt
flock /tmp/sa01-bench.lock \
	go test -run='^$' -bench='^Benchmark(Encrypt|Decrypt)$' -benchmem -benchtime=300ms -count="$count" -cpu="$cpus" ./internal/fernet | tee "$out"
go run bench/fernet/ratios.go < "$out" | tee bench/fernet/ratios.md
