#!/usr/bin/env bash
# The round engine's benchmarks in docs/benchmarks.md: p = 16, n = 10^7, embedded and clustered (workers
# on the data link, and on the event bus for comparison), flag against mean at several chunk sizes (3 runs
# each, the two rules alternating so their ratio is measured under the same conditions), then memory
# against model size at a fixed store budget. Each run measures 8 rounds after 16 unmeasured ones: the JIT
# still compiles through the first dozen 640 MB rounds, and on 2 cores that shows in every figure.
# Run from the repository root after `mvn -B -q package -DskipTests`, on an otherwise idle machine:
#   bash deploy/bench/load.sh [OUT_DIR]      (about 50 minutes on 2 cores; results as JSON in OUT_DIR)
set -euo pipefail
out="${1:-target/bench}"
jar="target/flagagg.jar"
spill="${TMPDIR:-/tmp}/flagagg-bench-spill"
mkdir -p "$out/load" "$out/mem"
java_cmd=(java --add-modules jdk.incubator.vector -Xms2g -Xmx2g -XX:MaxDirectMemorySize=1g -jar "$jar")

run() { # transport chunk_kib rule rep
  local extra=()
  case "$1" in
    clustered) extra=(--cluster --transport link --server-jvm -Xms2g --server-jvm -Xmx2g) ;;
    clustered-bus) extra=(--cluster --transport bus --server-jvm -Xms2g --server-jvm -Xmx2g) ;;
  esac
  "${java_cmd[@]}" loadtest "${extra[@]}" --workers 16 --dim 10000000 --rounds 8 --warmup 16 --rule "$3" \
    --chunk-coords "$(($2 * 256))" --memory-budget 768 --spill-dir "$spill" --json "$out/load/$1-$2-$3-$4.json" > /dev/null 2>&1
}
for rep in 1 2 3; do
  for kib in 64 256 1024 4096; do
    for rule in mean flag; do run embedded "$kib" "$rule" "$rep"; done
  done
done
for rep in 1 2 3; do
  for kib in 64 256 1024 4096; do
    for rule in mean flag; do run clustered "$kib" "$rule" "$rep"; done
  done
  for rule in mean flag; do run clustered-bus 256 "$rule" "$rep"; done
done
for n in 1000000 4000000 16000000 64000000; do
  java --add-modules jdk.incubator.vector -Xms512m -Xmx512m -XX:MaxDirectMemorySize=384m -jar "$jar" \
    loadtest --workers 8 --dim "$n" --rounds 2 --warmup 1 --rule flag --memory-budget 128 \
    --spill-dir "$spill" --json "$out/mem/$n.json" > /dev/null 2>&1
done
python3 - "$out" <<'PY'
import glob, json, statistics, sys
out = sys.argv[1]
def runs(pattern):
    return [json.load(open(f)) for f in sorted(glob.glob(f"{out}/{pattern}"))]
for transport, kibs in (("embedded", (64, 256, 1024, 4096)), ("clustered", (64, 256, 1024, 4096)), ("clustered-bus", (256,))):
    for kib in kibs:
        flag, mean = runs(f"load/{transport}-{kib}-flag-*.json"), runs(f"load/{transport}-{kib}-mean-*.json")
        ratios = [f["latency_ms"]["p50"] / m["latency_ms"]["p50"] for f, m in zip(flag, mean)]
        for rule, rs in (("mean", mean), ("flag", flag)):
            print(f"{transport} {kib} KiB {rule}: whole {statistics.median(r['gbps'] for r in rs):.2f} GB/s, "
                  f"receiving {statistics.median(r['transfer_gbps'] for r in rs):.2f} GB/s, "
                  f"p50 {statistics.median(r['latency_ms']['p50'] for r in rs):.0f} ms "
                  f"{[round(r['latency_ms']['p50']) for r in rs]}, whole GB/s {[round(r['gbps'], 2) for r in rs]}; "
                  + ", ".join(f"{k} {statistics.median(r['timings_ms'][k] for r in rs):.0f}"
                              for k in ("open_to_close", "fold_cpu", "solve", "output", "close_to_output")))
        print(f"  FA / mean latency: {statistics.median(ratios):.2f} {[round(x, 2) for x in ratios]}")
for f in sorted(glob.glob(f"{out}/mem/*.json"), key=lambda p: int(p.split('/')[-1][:-5])):
    r = json.load(open(f))
    print(f"dim {r['dim']}: peak heap {r['peak_heap_mb']:.0f} MiB, RSS {r['peak_rss_mb']:.0f} MiB, "
          f"store peak {r.get('store_peak_mb', 0):.0f} MiB, spilled {r.get('store_spilled_mb', 0):.0f} MiB")
PY
