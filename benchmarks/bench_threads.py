"""Thread scaling and contention of hookfit's native step (a script, not a test).

For each model shape it times one training step (``Network.train_batches``
over several batches, the compiled core alone) in fresh interpreters:

- ``pool 1`` / ``pool 2``: hookfit's own pool with 1 and 2 threads (the
  default OpenBLAS runs single-threaded inside its blocks);
- ``blas 2``: SciPy's bundled OpenBLAS threading the products itself (what
  hookfit did before it owned its threads: ``HOOKFIT_BLAS=scipy``);
- each of those again with a CPU-bound neighbour process on the second core
  (``+busy``): what users on shared machines and notebooks get.

Rounds are interleaved (every configuration once per round) and each figure
is the median over rounds, with the range, in ms per step; the ratios are
taken round by round. Run:

    python benchmarks/bench_threads.py              # all cases, 5 rounds
    python benchmarks/bench_threads.py --rounds 3 --cases mlp
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys

CASES = {
    "tutorial-b1024": ((784, 1), 1024),
    "mlp": ((784, 256, 128, 10), 128),
    "wide": ((784, 1024, 1024, 10), 256),
    "tabular": ((100, 512, 512, 512, 1), 1024),
}

CHILD = r"""
import json, sys, time
import numpy as np
from hookfit._native import core
dims, batch, steps = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
acts = [core.ACT_RELU] * (len(dims) - 2) + [core.ACT_LINEAR]
net = core.Network(dims[0], dims[1:], acts, [True] * (len(dims) - 1))
net.params[:] = rng.uniform(-0.05, 0.05, net.n_params)
net.configure(core.LOSS_MSE, [], core.OPT_ADAM)
n = batch * steps
data = core.Dataset(rng.random((n, dims[0]), dtype=np.float32), rng.random((n, dims[-1]), dtype=np.float32))
net.train_batches(data, 0, n, batch, 1e-4)  # warm-up
best = []
for _ in range(5):
    t = time.perf_counter()
    net.train_batches(data, 0, n, batch, 1e-4)
    best.append((time.perf_counter() - t) / steps)
print(json.dumps(sorted(best)[len(best) // 2]))
"""

CONFIGS = {
    "pool 1": {"HOOKFIT_NUM_THREADS": "1"},
    "pool 2": {"HOOKFIT_NUM_THREADS": "2"},
    "blas 2": {"HOOKFIT_BLAS": "scipy", "OPENBLAS_NUM_THREADS": "2"},
}


def _busy(stop):
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    x = 0
    while not stop.is_set():
        x += 1


def _step_ms(dims, batch, env):
    full = dict(os.environ)
    full.pop("HOOKFIT_BLAS", None)
    full.pop("HOOKFIT_NUM_THREADS", None)
    full.update(env)
    steps = max(4, min(64, int(2e8 // (batch * sum(a * b for a, b in zip(dims, dims[1:]))))))
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps([list(dims), batch, steps])],
                         env=full, capture_output=True, text=True, check=True)
    return json.loads(out.stdout) * 1e3


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--json", help="write the samples here")
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs 2 CPUs in the affinity mask (run without taskset)")
    samples = {}
    for _ in range(args.rounds):
        for case in args.cases:
            dims, batch = CASES[case]
            for busy in (False, True):
                stop = multiprocessing.Event()
                hog = multiprocessing.Process(target=_busy, args=(stop,)) if busy else None
                if hog:
                    hog.start()
                try:
                    for name, env in CONFIGS.items():
                        key = (case, name + (" +busy" if busy else ""))
                        samples.setdefault(key, []).append(_step_ms(dims, batch, env))
                finally:
                    if hog:
                        stop.set()
                        hog.join()
    print(f"{'case':16s} {'config':14s} {'ms/step median (min-max)':>28s} {'vs pool 1 (same round)':>24s}")
    for (case, name), values in samples.items():
        base = samples[(case, "pool 1" + (" +busy" if name.endswith("+busy") else ""))]
        ratios = [b / v for b, v in zip(base, values)]
        print(f"{case:16s} {name:14s} {statistics.median(values):10.3f} ({min(values):.3f}-{max(values):.3f})"
              f" {statistics.median(ratios):10.2f}x ({min(ratios):.2f}-{max(ratios):.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{c}|{n}": v for (c, n), v in samples.items()}, f, indent=1)


if __name__ == "__main__":
    main()
