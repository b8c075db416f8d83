#!/usr/bin/env python3
"""Gradient throughput into one server from P Python worker processes (default 4 at n = 10^7, rule mean).

Starts its own server from the jar (java -jar target/flagagg.jar server --port 0 --rule mean ...), runs
--warmup + --rounds rounds in which every worker process exchanges an n-value float32 gradient, and reports
the median over the measured rounds of

  in:    P * 4n bytes / (last worker's last gradient ack - first worker's first send)   [GB/s, 1e9 bytes]
  round: the same bytes / (last worker has the whole aggregate - first send)           [in, then out]

Workers start each round together (a barrier); time.monotonic() is one clock for every process on Linux.

  python3 client/python/bench/throughput.py            # the issue's figure: 4 workers, n = 10^7
  python3 client/python/bench/throughput.py --dim 1000000 --rounds 3   # a quick look
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import flagagg  # noqa: E402
from flagagg.server import LocalServer, default_jar  # noqa: E402


def worker(i, url, token, dim, rounds, barrier, out):
    x = np.random.default_rng(i).standard_normal(dim, dtype=np.float32)
    agg = np.empty(dim, dtype=np.float32)
    timings = []
    with flagagg.Client(url, token, dim=dim, slot=i) as c:
        for r in range(1, rounds + 1):
            barrier.wait()
            c.exchange(None, x, out=agg)  # the server owns the round ids
            timings.append(c.last_timing)
    out.put((i, timings, float(agg[0])))


def main(argv=None):
    ap = argparse.ArgumentParser(description="Python WebSocket workers' gradient throughput into one server")
    ap.add_argument("--jar", default=default_jar())
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--dim", type=int, default=10_000_000)
    ap.add_argument("--rounds", type=int, default=5, help="measured rounds (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=1, help="rounds before measuring (default: %(default)s)")
    ap.add_argument("--rule", default="mean")
    args = ap.parse_args(argv)

    total = args.warmup + args.rounds
    gbytes = args.workers * 4 * args.dim / 1e9
    with LocalServer(args.jar, rule=args.rule, workers=args.workers, dim=args.dim) as srv:
        ctx = mp.get_context("spawn")
        barrier, out = ctx.Barrier(args.workers), ctx.Queue()
        procs = [ctx.Process(target=worker, args=(i, srv.url, srv.token(i), args.dim, total, barrier, out))
                 for i in range(args.workers)]
        for p in procs:
            p.start()
        results = [out.get(timeout=1800) for _ in procs]
        for p in procs:
            p.join(60)
    timings = [t for _, t, _ in sorted(results)]
    rates_in, rates_round = [], []
    for r in range(args.warmup, total):
        start = min(t[r]["start"] for t in timings)
        sent = max(t[r]["sent"] for t in timings)
        done = max(t[r]["done"] for t in timings)
        rates_in.append(gbytes / (sent - start))
        rates_round.append(gbytes / (done - start))
        print(f"round {r + 1}: in {rates_in[-1]:.3f} GB/s ({sent - start:.3f} s), "
              f"whole round {rates_round[-1]:.3f} GB/s ({done - start:.3f} s)", flush=True)
    print(f"{args.workers} Python workers, n = {args.dim}, rule {args.rule}, {gbytes:.2f} GB in per round, "
          f"CRC {flagagg.CRC_BACKEND}: median in {statistics.median(rates_in):.3f} GB/s, "
          f"median whole round {statistics.median(rates_round):.3f} GB/s over {args.rounds} rounds")


if __name__ == "__main__":
    main()
