#!/usr/bin/env bash
# Before/after figures of the round engine for a change (docs/benchmarks.md): two jars run the same
# loadtests in alternating pairs, so machine noise hits both alike. p = 16, n = 10^7, 1 MiB chunks,
# embedded and clustered (data link), mean and flag; then memory against model size at a fixed store budget.
# Each load run measures 8 rounds after 16 warm-up rounds, as deploy/bench/load.sh does.
#   bash deploy/bench/compare.sh BEFORE.jar AFTER.jar [REPS] [OUT_DIR]   (about 8 minutes per rep on 2 cores)
set -euo pipefail
before="$1"; after="$2"; reps="${3:-3}"; out="${4:-target/compare}"
spill="${TMPDIR:-/tmp}/flagagg-bench-spill"
mkdir -p "$out"

chunk_flag() { # the jar's chunk-size flag for 1 MiB of float32 (the flag was renamed in issue 15)
  if java -jar "$1" loadtest --help 2>&1 | grep -q -- --chunk-coords; then echo "--chunk-coords 262144"; else echo "--chunk-kib 1024"; fi
}
declare -A chunk=([before]="$(chunk_flag "$before")" [after]="$(chunk_flag "$after")")
declare -A jar=([before]="$before" [after]="$after")

load() { # side transport rule rep
  local extra=()
  [ "$2" = clustered ] && extra=(--cluster --transport link --server-jvm -Xms2g --server-jvm -Xmx2g)
  # shellcheck disable=SC2086
  java --add-modules jdk.incubator.vector -Xms2g -Xmx2g -XX:MaxDirectMemorySize=1g -jar "${jar[$1]}" loadtest \
    "${extra[@]}" --workers 16 --dim 10000000 --rounds 8 --warmup 16 --rule "$3" ${chunk[$1]} \
    --memory-budget 768 --spill-dir "$spill" --json "$out/$1-$2-$3-$4.json" > /dev/null 2>&1
}
for rep in $(seq "$reps"); do
  for transport in embedded clustered; do
    for rule in mean flag; do
      if (( rep % 2 )); then order=(before after); else order=(after before); fi
      for side in "${order[@]}"; do load "$side" "$transport" "$rule" "$rep"; done
    done
  done
done
for n in 1000000 4000000 16000000; do
  for side in before after; do
    java --add-modules jdk.incubator.vector -Xms512m -Xmx512m -XX:MaxDirectMemorySize=384m -jar "${jar[$side]}" \
      loadtest --workers 8 --dim "$n" --rounds 2 --warmup 1 --rule flag --memory-budget 128 \
      --spill-dir "$spill" --json "$out/$side-mem-$n.json" > /dev/null 2>&1
  done
done
python3 - "$out" "$reps" <<'PY'
import json, statistics, sys
out, reps = sys.argv[1], int(sys.argv[2])
def get(side, transport, rule):
    return [json.load(open(f"{out}/{side}-{transport}-{rule}-{r}.json")) for r in range(1, reps + 1)]
med = statistics.median
print("| figure | before | after | after / before (median of pairs) |")
print("|---|---|---|---|")
for transport in ("embedded", "clustered"):
    for rule in ("mean", "flag"):
        b, a = get("before", transport, rule), get("after", transport, rule)
        print(f"| {transport} {rule}, whole GB/s | {med(r['gbps'] for r in b):.2f} | {med(r['gbps'] for r in a):.2f} "
              f"| {med(y['gbps'] / x['gbps'] for x, y in zip(b, a)):.2f} |")
    fb, mb = get("before", transport, "flag"), get("before", transport, "mean")
    fa, ma = get("after", transport, "flag"), get("after", transport, "mean")
    rb = [f["latency_ms"]["p50"] / m["latency_ms"]["p50"] for f, m in zip(fb, mb)]
    ra = [f["latency_ms"]["p50"] / m["latency_ms"]["p50"] for f, m in zip(fa, ma)]
    print(f"| {transport} FA / mean p50 latency | {med(rb):.2f} | {med(ra):.2f} | {med(y / x for x, y in zip(rb, ra)):.2f} |")
for n in (1000000, 4000000, 16000000):
    b, a = (json.load(open(f"{out}/{s}-mem-{n}.json")) for s in ("before", "after"))
    print(f"| dim {n}: peak heap / RSS MiB | {b['peak_heap_mb']:.0f} / {b['peak_rss_mb']:.0f} "
          f"| {a['peak_heap_mb']:.0f} / {a['peak_rss_mb']:.0f} | {a['peak_rss_mb'] / b['peak_rss_mb']:.2f} (RSS) |")
PY
