#!/usr/bin/env bash
# The shape figures of sharding in docs/benchmarks.md ("Shards", issue 16), embedded (one JVM, every shard on
# the same 2 cores, so throughput cannot grow with S here):
#  1. per-shard bytes in, math wall time (fold + output), math threads' CPU time and store peak for S = 1, 2, 4 at p = 16, n = 10^7;
#  2. the control cost per round against S at n = 10^5 (the data path tiny): round latency and close-to-output.
# Runs are interleaved (S = 1, 2, 4, then again) so that a busy machine hits every S alike; medians are taken
# over the repetitions. Run from the repository root after `mvn -B -q package -DskipTests`:
#   bash deploy/bench/shards.sh [OUT_DIR] [REPS]     (about 5 minutes with REPS = 3; JSON in OUT_DIR)
set -euo pipefail
out="${1:-target/bench}/shards"
reps="${2:-3}"
jar="target/flagagg.jar"
spill="${TMPDIR:-/tmp}/flagagg-bench-spill"
mkdir -p "$out"
java_cmd=(java --add-modules jdk.incubator.vector -Xms1g -Xmx1g -XX:MaxDirectMemorySize=1g -jar "$jar")

for rep in $(seq 1 "$reps"); do
  for s in 1 2 4; do
    # 1 MiB chunks: 39 columns; 8 measured rounds after 8 warm-up rounds.
    "${java_cmd[@]}" loadtest --workers 16 --dim 10000000 --rounds 8 --warmup 8 --rule flag --shards "$s" \
      --chunk-coords 262144 --memory-budget 768 --spill-dir "$spill" --json "$out/big-$s-$rep.json" > /dev/null 2>&1
    # 64 KiB chunks: 7 columns of 10^5 coordinates, so S = 4 still has columns to own.
    "${java_cmd[@]}" loadtest --workers 16 --dim 100000 --rounds 60 --warmup 60 --rule flag --shards "$s" \
      --chunk-coords 16384 --memory-budget 64 --spill-dir "$spill" --json "$out/small-$s-$rep.json" > /dev/null 2>&1
  done
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
med = statistics.median
def runs(kind, s):
    return [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{kind}-{s}-*.json"))]
print("n = 10^7, p = 16, flag: per shard, medians over runs of the per-round means")
print("S  shard columns   MB_in   fold_ms  output_ms  math_ms  cpu_ms  store_peak_MiB  | run: GB/s  p50_ms")
for s in (1, 2, 4):
    rs = runs("big", s)
    for k in range(s):
        sh = [r["shards"][k] for r in rs]
        print(f"{s}  {k}  {str(sh[0]['columns']):10} {med(x['bytes_in'] for x in sh) / 1e6:7.1f} "
              f"{med(x['fold_ms'] for x in sh):8.1f} {med(x['output_ms'] for x in sh):9.1f} "
              f"{med(x['math_ms'] for x in sh):8.1f} {med(x['cpu_ms'] for x in sh):7.1f} "
              f"{med(x['store_peak_held_mb'] for x in sh):14.1f}")
    print(f"{s}  all {'':10} {med(r['bytes_in_per_round'] for r in rs) / 1e6:7.1f} "
          f"{med(sum(x['fold_ms'] for x in r['shards']) for r in rs):8.1f} "
          f"{med(sum(x['output_ms'] for x in r['shards']) for r in rs):9.1f} "
          f"{med(sum(x['math_ms'] for x in r['shards']) for r in rs):8.1f} "
          f"{med(sum(x['cpu_ms'] for x in r['shards']) for r in rs):7.1f} "
          f"{med(sum(x['store_peak_held_mb'] for x in r['shards']) for r in rs):14.1f}  | "
          f"{med(r['gbps'] for r in rs):.3f}  {med(r['latency_ms']['p50'] for r in rs):.0f}  "
          f"failed {sum(r['failed_rounds'] for r in rs)}")
print()
print("n = 10^5, p = 16, flag, 7 columns: control cost per round, medians over runs")
print("S  p50_ms  open_to_close  close_to_output  solve  output  (close_to_output - solve - output)   p50 / p50(S=1), same rep")
ones = runs("small", 1)
for s in (1, 2, 4):
    rs = runs("small", s)
    t = lambda key: med(r["timings_ms"][key] for r in rs)
    ratio = med(r["latency_ms"]["p50"] / o["latency_ms"]["p50"] for r, o in zip(rs, ones))
    print(f"{s}  {med(r['latency_ms']['p50'] for r in rs):6.2f}  {t('open_to_close'):13.2f}  {t('close_to_output'):15.2f}  "
          f"{t('solve'):5.2f}  {t('output'):6.2f}  {med(r['timings_ms']['close_to_output'] - r['timings_ms']['solve'] - r['timings_ms']['output'] for r in rs):8.2f}"
          f"   {ratio:.2f}  failed {sum(r['failed_rounds'] for r in rs)}")
PY
