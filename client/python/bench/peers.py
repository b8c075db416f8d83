#!/usr/bin/env python3
"""`flagagg aggregate` against other aggregators on the same file of p float32 gradients (docs/benchmarks.md).

For each rule, in interleaved runs (so machine noise hits all alike), it times
  flagagg      the whole process: java [JVM flags] -jar flagagg.jar aggregate --rule R --binary ... FILE,
               and the aggregation alone (the sum of the --report timings);
  numpy line   the whole process python3 -c "np.fromfile(F).reshape(p, -1).mean(axis=0).tofile(OUT)";
  peers        with the data already in memory (loading excluded, as the peers' own benchmarks do):
               ByzFL's and Flower's aggregators when those packages import, and otherwise plain numpy and
               torch implementations of flagagg's definitions written below (the output says which ran).
It prints the medians, the ratios to flagagg's whole process, and how far each peer's aggregate is from
flagagg's (max |difference| / max |flagagg|), so a different definition shows.

  python3 client/python/bench/peers.py --make /tmp/g.bin --workers 16 --dim 10000000   # the issue's file
  python3 client/python/bench/peers.py --file /tmp/g.bin --dim 10000000 --runs 3
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

RULES = ["krum", "multikrum", "median", "trmean", "geomed", "mean", "flag"]
NUMPY_LINE = ("import numpy as np; a = np.fromfile({f!r}, '<f4').reshape({p}, -1); "
              "a.mean(axis=0).tofile({o!r})")


def make_file(path: str, p: int, n: int, seed: int = 1) -> None:
    """3/4 of the workers near a shared direction, the rest scaled opposite: a Byzantine-like file."""
    rng = np.random.default_rng(seed)
    d = rng.standard_normal(n, dtype=np.float32)
    with open(path, "wb") as out:
        for i in range(p):
            g = d if i < 3 * p // 4 else -(i - 3 * p // 4 + 2) * d
            (g + np.float32(0.5) * rng.standard_normal(n, dtype=np.float32)).astype("<f4").tofile(out)


# ---- flagagg's definitions, written again in numpy (docs/algorithm.md) --------------------------------------

def gram(a: np.ndarray, block: int = 1 << 20) -> np.ndarray:
    """G = A A^T in float64, folded over column blocks so memory stays at one float64 block."""
    g = np.zeros((a.shape[0], a.shape[0]))
    for k in range(0, a.shape[1], block):
        b = a[:, k:k + block].astype(np.float64)
        g += b @ b.T
    return g


def krum_scores(g: np.ndarray, f: int) -> np.ndarray:
    """Sum of squared distances to the p - f - 2 nearest others (the paper's and flagagg's count)."""
    p = g.shape[0]
    d = np.maximum(np.diag(g)[:, None] + np.diag(g)[None, :] - 2 * g, 0)
    np.fill_diagonal(d, np.inf)
    return np.sort(d, axis=1)[:, :p - f - 2].sum(axis=1)


def combine(a: np.ndarray, idx, coeffs, block: int = 1 << 20) -> np.ndarray:
    out = np.empty(a.shape[1])
    for k in range(0, a.shape[1], block):
        out[k:k + block] = np.asarray(coeffs) @ a[idx, k:k + block].astype(np.float64)
    return out


def np_krum(a, f, m):
    return a[int(np.argmin(krum_scores(gram(a), f)))].astype(np.float64)


def np_multikrum(a, f, m):
    m = m or a.shape[0] - f
    chosen = np.sort(np.argsort(krum_scores(gram(a), f), kind="stable")[:m])
    return combine(a, chosen, np.full(m, 1.0 / m))


def np_median(a, f, m):
    return np.median(a, axis=0)


def np_trmean(a, f, m):
    return np.sort(a, axis=0)[f:a.shape[0] - f].astype(np.float64).mean(axis=0)


def np_geomed(a, f, m, tol=1e-12, steps=1000):
    """Smoothed Weiszfeld in Gram space from the mean, delta = 1e-6 x median norm (GeometricMedianRule)."""
    g = gram(a)
    p = g.shape[0]
    norms = np.sqrt(np.diag(g))
    delta = max(1e-6 * np.median(norms), np.finfo(float).tiny)
    b = np.full(p, 1.0 / p)
    for _ in range(steps):
        gb = g @ b
        dist = np.sqrt(np.maximum(np.diag(g) - 2 * gb + b @ gb, 0))
        w = 1 / np.maximum(dist, delta)
        nb = w / w.sum()
        done = np.abs(nb - b) @ norms <= tol * (nb @ norms)
        b = nb
        if done:
            break
    return combine(a, np.arange(p), b)


def np_mean(a, f, m):
    return a.mean(axis=0, dtype=np.float64)


NUMPY = {"krum": np_krum, "multikrum": np_multikrum, "median": np_median, "trmean": np_trmean,
         "geomed": np_geomed, "mean": np_mean}


def torch_impls():
    import torch

    def t_gram(t):
        g = torch.zeros(t.shape[0], t.shape[0], dtype=torch.float64)
        for k in range(0, t.shape[1], 1 << 20):
            b = t[:, k:k + (1 << 20)].double()
            g += b @ b.T
        return g.numpy()

    def t_krum(t, f, m):
        return t[int(np.argmin(krum_scores(t_gram(t), f)))].double().numpy()

    def t_multikrum(t, f, m):
        m = m or t.shape[0] - f
        chosen = np.sort(np.argsort(krum_scores(t_gram(t), f), kind="stable")[:m])
        return t[torch.from_numpy(chosen)].double().mean(dim=0).numpy()

    def t_median(t, f, m):  # torch.median takes the lower middle value; flagagg the mean of the two at even p
        s = t.sort(dim=0).values
        p = t.shape[0]
        return ((s[(p - 1) // 2].double() + s[p // 2].double()) / 2).numpy()

    return {
        "krum": t_krum,
        "multikrum": t_multikrum,
        "median": t_median,
        "trmean": lambda t, f, m: t.sort(dim=0).values[f:t.shape[0] - f].double().mean(dim=0).numpy(),
        "mean": lambda t, f, m: t.double().mean(dim=0).numpy(),
    }, torch


# ---- the peers' own aggregators, when installed -------------------------------------------------------------

def byzfl_impls():
    import byzfl  # noqa: F401  (ByzFL's aggregators take the p x n array; Krum uses p - f - 1 neighbours)
    return {
        "krum": lambda a, f, m: np.asarray(byzfl.Krum(f=f)(a)),
        "multikrum": lambda a, f, m: np.asarray(byzfl.MultiKrum(f=f)(a)),
        "median": lambda a, f, m: np.asarray(byzfl.Median()(a)),
        "trmean": lambda a, f, m: np.asarray(byzfl.TrMean(f=f)(a)),
        "geomed": lambda a, f, m: np.asarray(byzfl.GeometricMedian()(a)),
        "mean": lambda a, f, m: np.asarray(byzfl.Average()(a)),
    }


def flower_impls():
    from flwr.server.strategy import aggregate as fl  # Flower's legacy helpers on lists of ndarrays

    def results(a):
        return [([row], 1) for row in a]

    return {
        "krum": lambda a, f, m: fl.aggregate_krum(results(a), f, 0)[0],
        "multikrum": lambda a, f, m: fl.aggregate_krum(results(a), f, m or a.shape[0] - f)[0],
        "median": lambda a, f, m: fl.aggregate_median(results(a))[0],
        "trmean": lambda a, f, m: fl.aggregate_trimmed_avg(results(a), f / a.shape[0])[0],
        "mean": lambda a, f, m: fl.aggregate(results(a))[0],
    }


# ---- running ------------------------------------------------------------------------------------------------

def timed_process(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    done = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - t0
    if done.returncode != 0:
        sys.exit(f"peers: {' '.join(cmd)} failed: {done.stderr.strip().splitlines()[-1:]}")
    return elapsed


def distance(x: np.ndarray, ref: np.ndarray) -> float:
    return float(np.max(np.abs(np.asarray(x, dtype=np.float64) - ref)) / max(np.max(np.abs(ref)), 1e-300))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--file", help="little-endian float32 gradients back to back")
    ap.add_argument("--make", metavar="FILE", help="write a synthetic file first (then --workers and --dim)")
    ap.add_argument("--workers", type=int, default=16, help="p, for --make (default 16)")
    ap.add_argument("--dim", type=int, required=True, help="n, the dimension of each gradient")
    ap.add_argument("--f", type=int, default=3, help="Byzantine workers tolerated (default 3)")
    ap.add_argument("--m", type=int, default=0, help="multikrum's m (default 0: p - f)")
    ap.add_argument("--rules", default=",".join(RULES), help="comma-separated (default: all of " + ",".join(RULES) + ")")
    ap.add_argument("--runs", type=int, default=3, help="interleaved runs; medians are reported (default 3)")
    ap.add_argument("--jar", default=os.path.join(os.path.dirname(__file__), "../../../target/flagagg.jar"))
    ap.add_argument("--java", default="java")
    ap.add_argument("--jvm", default="--add-modules jdk.incubator.vector", help="JVM flags (the README's)")
    ap.add_argument("--json", help="also write every measurement here")
    args = ap.parse_args()
    if args.make:
        make_file(args.make, args.workers, args.dim)
        args.file = args.make
    if not args.file:
        ap.error("--file or --make is required")
    size = os.path.getsize(args.file)
    if size == 0 or size % (4 * args.dim):
        sys.exit(f"peers: {args.file} has {size} bytes, not a positive multiple of 4 * dim")
    p = size // (4 * args.dim)
    rules = [r for r in args.rules.split(",") if r]

    peers = {}
    notes = []
    for name, load in (("ByzFL", byzfl_impls), ("Flower", flower_impls)):
        try:
            peers[name] = (load(), "numpy")
        except Exception as e:  # noqa: BLE001  (absent or an API this script does not know)
            notes.append(f"{name}: not available ({type(e).__name__}: {e}); using the definitions below instead")
    if not peers:
        peers["numpy"] = (NUMPY, "numpy")
        try:
            impls, torch = torch_impls()
            torch.set_num_threads(os.cpu_count() or 1)
            peers["torch"] = (impls, "torch")
        except ImportError:
            notes.append("torch: not installed")

    a = np.fromfile(args.file, "<f4").reshape(p, -1)
    tensor = None
    times = {}
    errors = {}
    tmp = tempfile.mkdtemp(prefix="flagagg-peers-")
    java = [args.java, *args.jvm.split(), "-jar", args.jar, "aggregate", "--binary", "--dim", str(args.dim),
            "--f", str(args.f), "--m", str(args.m)]
    for run in range(args.runs):
        out = os.path.join(tmp, "numpy.bin")
        times.setdefault(("numpy line", "process"), []).append(
            timed_process([sys.executable, "-c", NUMPY_LINE.format(f=args.file, p=p, o=out)]))
        for rule in rules:
            out = os.path.join(tmp, rule + ".bin")
            report = os.path.join(tmp, rule + ".json")
            times.setdefault((rule, "flagagg"), []).append(
                timed_process(java + ["--rule", rule, "--out", out, "--report", report, args.file]))
            timings = json.load(open(report))["timings_ms"]
            times.setdefault((rule, "flagagg alone"), []).append(sum(timings.values()) / 1000)
            ref = np.fromfile(out, "<f4").astype(np.float64)
            for name, (impls, kind) in peers.items():
                if rule not in impls:
                    continue
                data = a
                if kind == "torch":
                    if tensor is None:
                        tensor = torch.from_numpy(a)
                    data = tensor
                t0 = time.perf_counter()
                x = impls[rule](data, args.f, args.m)
                times.setdefault((rule, name), []).append(time.perf_counter() - t0)
                errors[(rule, name)] = distance(x, ref)

    versions = {"python": platform.python_version(), "numpy": np.__version__}
    if "torch" in peers:
        versions["torch"] = torch.__version__
    print(f"# {p} gradients of n = {args.dim} float32 ({size / 1e6:.0f} MB), f = {args.f}, m = {args.m or p - args.f}; "
          f"medians of {args.runs} interleaved runs; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
    print("# " + ", ".join(f"{k} {v}" for k, v in versions.items()) + f"; JVM flags: {args.jvm}")
    for note in notes:
        print("# " + note)
    numpy_line = statistics.median(times[("numpy line", "process")])
    print(f"# the numpy mean line, whole process: {numpy_line:.2f} s")
    names = list(peers)
    print("| rule | flagagg, whole process | its aggregation alone | "
          + " | ".join(f"{n} in memory (x flagagg whole; rel. diff)" for n in names)
          + " | flagagg / numpy line |")
    print("|---|---|---|" + "---|" * len(names) + "---|")
    for rule in rules:
        whole = statistics.median(times[(rule, "flagagg")])
        alone = statistics.median(times[(rule, "flagagg alone")])
        cells = []
        for n in names:
            if (rule, n) in times:
                t = statistics.median(times[(rule, n)])
                cells.append(f"{t:.3f} s ({whole / t:.2f}x; {errors[(rule, n)]:.1e})")
            else:
                cells.append("none")
        print(f"| {rule} | {whole:.2f} s | {alone:.3f} s | " + " | ".join(cells) + f" | {whole / numpy_line:.2f} |")
    if args.json:
        with open(args.json, "w") as out:
            json.dump({"file": args.file, "p": p, "dim": args.dim, "versions": versions, "notes": notes,
                       "times": {f"{r}/{n}": v for (r, n), v in times.items()},
                       "errors": {f"{r}/{n}": v for (r, n), v in errors.items()}}, out, indent=1)
    for f in os.listdir(tmp):
        os.remove(os.path.join(tmp, f))
    os.rmdir(tmp)


if __name__ == "__main__":
    main()
