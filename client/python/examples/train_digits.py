#!/usr/bin/env python3
"""Data-parallel training through a flagagg server, with Byzantine workers: FA versus mean.

P worker processes each train the same small MLP on their own shard of scikit-learn's bundled digits data set
(8x8 images, 10 classes; it ships inside scikit-learn, nothing is downloaded). Every step each worker computes
its minibatch gradient, exchanges it through the server (one round per step) and applies the aggregate with
SGD, so all models stay identical. The last F workers are Byzantine: they send

  signflip  -SCALE x their true gradient (default, SCALE = 10): pulls the mean the wrong way;
  noise     Gaussian noise with SCALE x the norm of their true gradient.

They still apply the aggregate they get back, as the honest ones do. Worker 0 prints the test accuracy after
every epoch. For each rule in --rules the script starts its own server from the jar:

  java -jar target/flagagg.jar server --port 0 --tokens FILE --rule RULE --workers P --dim D ...

Run from the repository root, after `mvn -B package -DskipTests`:

  python3 client/python/examples/train_digits.py
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import flagagg  # noqa: E402
from flagagg.server import LocalServer, default_jar  # noqa: E402

HIDDEN = 64


def dimension(hidden=HIDDEN):
    """Parameters of Linear(64, hidden) -> ReLU -> Linear(hidden, 10)."""
    return 64 * hidden + hidden + hidden * 10 + 10


def load_data(seed):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    order = np.random.default_rng(seed).permutation(len(y))
    cut = int(0.8 * len(y))
    return X[order[:cut]], y[order[:cut]], X[order[cut:]], y[order[cut:]]


def worker(rank, url, token, args, steps_per_epoch, byzantine, reports):
    import torch

    from flagagg.torch import exchange_grads, flat_grads, set_flat_grads

    torch.set_num_threads(1)
    X, y, X_test, y_test = load_data(args.seed)
    shard = np.arange(rank, len(y), args.workers)  # worker `rank` sees every P-th training example
    Xs, ys = torch.from_numpy(X[shard]), torch.from_numpy(y[shard]).long()
    torch.manual_seed(args.seed)  # identical initial weights everywhere
    model = torch.nn.Sequential(torch.nn.Linear(64, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, 10))
    opt = torch.optim.SGD(model.parameters(), lr=args.lr)
    rng = np.random.default_rng(args.seed * 1000 + rank)
    round_id = 0
    epoch = 0
    exchange_s = 0.0
    try:
        with flagagg.Client(url, token) as client:
            for epoch in range(1, args.epochs + 1):
                for _ in range(steps_per_epoch):
                    batch = torch.from_numpy(rng.choice(len(ys), args.batch, replace=False))
                    opt.zero_grad()
                    torch.nn.functional.cross_entropy(model(Xs[batch]), ys[batch]).backward()
                    round_id += 1
                    if byzantine:
                        g = flat_grads(model)
                        if args.attack == "signflip":
                            bad = -args.scale * g
                        else:
                            bad = rng.standard_normal(g.size).astype(np.float32)
                            bad *= args.scale * np.linalg.norm(g) / np.linalg.norm(bad)
                        set_flat_grads(model, bad)
                    t = time.monotonic()
                    exchange_grads(client, None, model)  # the server's next round
                    exchange_s += time.monotonic() - t
                    opt.step()
                if rank == 0:
                    with torch.no_grad():
                        logits = model(torch.from_numpy(X_test))
                        acc = (logits.argmax(1).numpy() == y_test).mean()
                        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(y_test).long()).item()
                    reports.put(("epoch", epoch, float(acc), float(loss), 1000 * exchange_s / round_id))
    except flagagg.ServerError as e:
        # Under an attack the rule does not withstand, the model blows up: its gradients turn NaN, the server
        # excludes them and the rounds fail. That is this rule's result, not a crash of the example.
        reports.put(("diverged", rank, f"epoch {epoch}, round {round_id}: {type(e).__name__}: {e}", 0.0, 0.0))
    except Exception as e:  # reported to the parent, which fails the run
        reports.put(("error", rank, f"{type(e).__name__}: {e}", 0.0, 0.0))
        raise


def worker_context():
    """forkserver with torch preloaded: the workers fork from one process that imported torch once, instead
    of each importing it (seconds apiece); spawn where there is no forkserver (Windows)."""
    if "forkserver" not in mp.get_all_start_methods():
        return mp.get_context("spawn")
    ctx = mp.get_context("forkserver")
    ctx.set_forkserver_preload(["torch", "sklearn.datasets", "flagagg", "flagagg.torch", "__main__"])
    return ctx


def train(rule, args):
    X, y, _, _ = load_data(args.seed)
    steps = (len(y) // args.workers) // args.batch
    extra = ["--chunk-coords", "65536"]
    if rule == "flag":
        extra += ["--scale", args.flag_scale]
    with LocalServer(args.jar, rule=rule, workers=args.workers, dim=dimension(), args=extra) as srv:
        ctx = worker_context()
        reports = ctx.Queue()
        procs = [ctx.Process(target=worker, args=(i, srv.url, srv.token(i), args, steps,
                                                  i >= args.workers - args.byzantine, reports))
                 for i in range(args.workers)]
        for p in procs:
            p.start()
        accuracies = []
        started = time.monotonic()
        while len(accuracies) < args.epochs:
            kind, a, b, c, ms = reports.get(timeout=600)
            if kind == "diverged":
                print(f"rule {rule:5s} training diverged (worker {a} at {b})", flush=True)
                accuracies.append(float("nan"))
                break
            if kind == "error":
                for p in procs:
                    p.terminate()
                raise SystemExit(f"worker {a} failed with rule {rule}: {b}")
            accuracies.append(b)
            print(f"rule {rule:5s} epoch {a:3d}  test accuracy {b:.3f}  test loss {c:.4g}  "
                  f"({ms:.0f} ms per exchange)", flush=True)
        for p in procs:
            p.join(120)  # after a divergence the others stop once their round fails (about one deadline)
            if p.is_alive():
                p.terminate()
                p.join()
        failed = [i for i, p in enumerate(procs) if p.exitcode != 0 and not np.isnan(accuracies[-1])]
        if failed:
            raise SystemExit(f"workers {failed} exited with an error (rule {rule})")
        print(f"rule {rule}: {len(accuracies)} epochs x {steps} rounds in {time.monotonic() - started:.1f} s "
              "(worker start-up included)", flush=True)
    return accuracies


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--jar", default=default_jar(), help="the server jar (default: %(default)s)")
    ap.add_argument("--rules", default="flag,mean", help="rules to compare, comma-separated (default: %(default)s)")
    ap.add_argument("--workers", type=int, default=6, help="P worker processes (default: %(default)s)")
    ap.add_argument("--byzantine", type=int, default=1, help="F of them Byzantine (default: %(default)s)")
    ap.add_argument("--attack", choices=["signflip", "noise"], default="signflip")
    ap.add_argument("--scale", type=float, default=10.0, help="attack strength (default: %(default)s)")
    ap.add_argument("--flag-scale", choices=["paper", "norm"], default="norm",
                    help="FA output scale; 'norm' keeps the mean's learning rate meaningful (default: %(default)s)")
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if not 0 <= args.byzantine < args.workers:
        ap.error(f"--byzantine must be in [0, workers) (workers {args.workers}, byzantine {args.byzantine})")
    print(f"digits: {args.workers} workers, {args.byzantine} Byzantine ({args.attack} x{args.scale:g}), "
          f"MLP 64-{HIDDEN}-10 (dim {dimension()}), SGD lr {args.lr}, batch {args.batch}", flush=True)
    final = {}
    for rule in [r.strip() for r in args.rules.split(",") if r.strip()]:
        final[rule] = train(rule, args)[-1]
    print("final test accuracy: " + ", ".join(f"{r} {a:.3f}" if a == a else f"{r} diverged"
                                               for r, a in final.items()), flush=True)


if __name__ == "__main__":
    main()
