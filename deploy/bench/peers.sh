#!/usr/bin/env bash
# flagagg aggregate against ByzFL / Flower (or numpy and torch implementations of the same definitions when
# those are not installed) on one file of p = 16 gradients of n = 10^7 float32, the issue-20 setting
# (docs/benchmarks.md). Builds nothing: run `mvn -B -q package -DskipTests` first.
#   bash deploy/bench/peers.sh [RUNS] [FILE]   (FILE is made under $TMPDIR when absent, and deleted after)
set -euo pipefail
cd "$(dirname "$0")/../.."
runs="${1:-3}"
file="${2:-${TMPDIR:-/tmp}/flagagg-peers-g.bin}"
made=()
if [ ! -f "$file" ]; then
  made=(--make "$file" --workers 16)
  trap 'rm -f "$file"' EXIT
fi
python3 client/python/bench/peers.py "${made[@]}" --file "$file" --dim 10000000 --runs "$runs" --jar target/flagagg.jar
