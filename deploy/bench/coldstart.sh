#!/usr/bin/env bash
# The cold-start figures in docs/benchmarks.md ("Cold start", issue 20): FA at p = 16, n = 10^7 through the
# embedded engine, JVM flags of load.sh. Two measures, REPS runs each:
#  - same run: one JVM, 2 unmeasured rounds, then 22 rounds; from the round log, the throughput of rounds
#    3-10 (8 rounds after 2 of warm-up) against rounds 17-24 (8 after 16): gradient bytes over the rounds'
#    open-to-close plus close-to-output time;
#  - pairs: loadtest's own whole-round GB/s with --warmup 2 --rounds 8 and with --warmup 16 --rounds 8,
#    alternating which goes first.
# Set JARS to compare builds in the same session (interleaved), e.g. JARS="before.jar target/flagagg.jar".
# Run from the repository root after `mvn -B -q package -DskipTests`:
#   bash deploy/bench/coldstart.sh [OUT_DIR]      (about 3 minutes per jar and repetition on 2 cores)
set -euo pipefail
out="${1:-target/bench/coldstart}"
jars=(${JARS:-target/flagagg.jar})
reps="${REPS:-3}"
spill="${TMPDIR:-/tmp}/flagagg-bench-spill"
mkdir -p "$out"
load() { # jar warmup rounds name [extra...]
  local jar="$1" warmup="$2" rounds="$3" name="$4"
  shift 4
  java --add-modules jdk.incubator.vector -Xms2g -Xmx2g -XX:MaxDirectMemorySize=1g "$@" -jar "$jar" loadtest \
    --workers 16 --dim 10000000 --rule flag --warmup "$warmup" --rounds "$rounds" --memory-budget 768 \
    --spill-dir "$spill" --round-log "$out/$name.jsonl" --json "$out/$name.json" > /dev/null 2>&1
}
for rep in $(seq 1 "$reps"); do
  for j in "${!jars[@]}"; do
    rm -f "$out/same-$j-$rep.jsonl"
    load "${jars[$j]}" 2 22 "same-$j-$rep"
    first=(2 16)
    [ $((rep % 2)) -eq 0 ] && first=(16 2)
    for w in "${first[@]}"; do
      rm -f "$out/pair-$j-$w-$rep.jsonl"
      load "${jars[$j]}" "$w" 8 "pair-$j-$w-$rep"
    done
  done
done
python3 - "$out" "${jars[@]}" <<'PY'
import glob, json, statistics, sys
out, jars = sys.argv[1], sys.argv[2:]
def gbps(records):
    return sum(r["bytes_in"] for r in records) / 1e6 / sum(
        r["timings_ms"]["open_to_close"] + r["timings_ms"]["close_to_output"] for r in records)
for j, jar in enumerate(jars):
    early, late, ratios = [], [], []
    for f in sorted(glob.glob(f"{out}/same-{j}-*.jsonl")):
        rounds = [json.loads(line) for line in open(f)]
        e, l = gbps(rounds[2:10]), gbps(rounds[16:24])
        early.append(e); late.append(l); ratios.append(e / l)
    print(f"{jar} same run: rounds 3-10 {statistics.median(early):.2f} GB/s {[round(x, 2) for x in early]}, "
          f"rounds 17-24 {statistics.median(late):.2f} {[round(x, 2) for x in late]}, "
          f"ratio {statistics.median(ratios):.2f} {[round(x, 2) for x in ratios]}")
    w2 = [json.load(open(f))["gbps"] for f in sorted(glob.glob(f"{out}/pair-{j}-2-*.json"))]
    w16 = [json.load(open(f))["gbps"] for f in sorted(glob.glob(f"{out}/pair-{j}-16-*.json"))]
    first = [json.loads(open(f).readline())["timings_ms"] for f in sorted(glob.glob(f"{out}/same-{j}-*.jsonl"))]
    print(f"{jar} pairs: --warmup 2 {statistics.median(w2):.2f} GB/s {[round(x, 2) for x in w2]}, --warmup 16 "
          f"{statistics.median(w16):.2f} {[round(x, 2) for x in w16]}, ratio "
          f"{statistics.median(a / b for a, b in zip(w2, w16)):.2f}; first round open-to-close ms "
          f"{[round(t['open_to_close']) for t in first]}, fold cpu {[round(t['fold_cpu']) for t in first]}")
PY
