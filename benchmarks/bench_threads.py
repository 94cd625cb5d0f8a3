"""Thread scaling and contention of hookfit's native step (a script, not a test).

For each model shape it times one training step (``Network.train_batches``
over several batches, the compiled core alone) in fresh interpreters:

- ``pool 1`` / ``pool 2``: hookfit's own pool with 1 and 2 threads (the
  default OpenBLAS runs single-threaded inside its blocks), set by
  ``HOOKFIT_NUM_THREADS`` (a count the user sets is used as it is);
- ``default``: no thread setting, what users get: the pool's threads, each
  job on the CPUs other processes leave free (``hookfit.config``);
- ``blas 2``: SciPy's bundled OpenBLAS threading the products itself (what
  hookfit did before it owned its threads: ``HOOKFIT_BLAS=scipy``);
- each of those again with a CPU-bound neighbour process on the second core
  (``+busy``): what users on shared machines and notebooks get;
- ``pool 1 x2 at once``: two copies of the 1-thread step, one per CPU, timed
  together: a perfect 2-thread split of the step can at most be twice one
  thread alone over this (the machine's own ceiling: two busy cores of a
  shared VM do not each run at one core's speed);
- with ``--keras``: Keras 3 (jax backend, ``fit`` on the same shapes, Adam
  and MSE) at 1 thread (XLA's one-thread flags, and the child pinned to one
  CPU: the flags alone left it running as fast as 2 threads, measured on a
  Zen 4 VM) and 2 threads (its default), as a peer;
- with ``--torch-python PYTHON`` (an interpreter with torch): a plain
  PyTorch loop (``nn.Linear``/ReLU, Adam, MSE, the same shapes) at 1 and 2
  intra-op threads, as a peer.

The cases are the issue's two-thread targets: 784-1024-1024-10 at batch 256,
100-512-512-512-1 at 1024, 784-256-128-10 at 128 and Dense(1) (784 inputs)
at 1024. ``--crossover`` instead times, in this process, the pieces hookfit
splits only above a size (Adam's update over n parameters, the Dense(1)
step at n rows) at 1 and 2 threads: how the split sizes in csrc/ were chosen.

Every child works for 0.5 s before it is timed: on a VM, a vCPU that was
idle runs slowly for its first ~0.1 s of work, and a one-call warm-up timed
the 2-thread MLP step mostly in that start (0.9-1.2x where the split gives
1.6-1.8x).

Rounds are interleaved (every configuration once per round) and each figure
is the median over rounds, with the range, in ms per step; the ratios are
taken round by round. Run:

    python benchmarks/bench_threads.py              # all cases, 5 rounds
    python benchmarks/bench_threads.py --rounds 3 --cases mlp
    python benchmarks/bench_threads.py --keras          # with the Keras 3 peer
    python benchmarks/bench_threads.py --torch-python ~/venvs/torch/bin/python
    python benchmarks/bench_threads.py --crossover
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import time

CASES = {  # the two-thread targets
    "dense1-b1024": ((784, 1), 1024),
    "mlp": ((784, 256, 128, 10), 128),
    "wide": ((784, 1024, 1024, 10), 256),
    "tabular": ((100, 512, 512, 512, 1), 1024),
}

# Seconds every child works before it is timed (see the docstring); handed
# to the children in their environment.
WARM_S = 0.5

CHILD = r"""
import json, os, sys, time
WARM_S = float(os.environ["HOOKFIT_BENCH_WARM_S"])
import numpy as np
from hookfit._native import core
dims, batch, steps, *start_at = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
acts = [core.ACT_RELU] * (len(dims) - 2) + [core.ACT_LINEAR]
net = core.Network(dims[0], dims[1:], acts, [True] * (len(dims) - 1))
net.params[:] = rng.uniform(-0.05, 0.05, net.n_params)
net.configure(core.LOSS_MSE, [], core.OPT_ADAM)
n = batch * steps
data = core.Dataset(rng.random((n, dims[0]), dtype=np.float32), rng.random((n, dims[-1]), dtype=np.float32))
# Warm up for a fixed time, not one call: on a VM a vCPU that was idle
# runs slowly for its first ~0.1 s of work (a 2-thread MLP step measured
# 2.0 ms over its first ten 12 ms calls, then 1.1 ms).
warm_until = time.perf_counter() + WARM_S
while time.perf_counter() < warm_until:
    net.train_batches(data, 0, n, batch, 1e-4)
if start_at:  # a pair run: both copies start their timing together
    while time.time() < start_at[0]:
        pass
best = []
for _ in range(5):
    t = time.perf_counter()
    net.train_batches(data, 0, n, batch, 1e-4)
    best.append((time.perf_counter() - t) / steps)
print(json.dumps(sorted(best)[len(best) // 2]))
"""

KERAS_CHILD = r"""
import json, os, sys, time
WARM_S = float(os.environ["HOOKFIT_BENCH_WARM_S"])
os.environ["KERAS_BACKEND"] = "jax"
import numpy as np
import keras
dims, batch, steps = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
layers = [keras.Input((dims[0],))]
layers += [keras.layers.Dense(u, activation="relu") for u in dims[1:-1]]
layers += [keras.layers.Dense(dims[-1])]
model = keras.Sequential(layers)
model.compile(optimizer=keras.optimizers.Adam(1e-4), loss="mse")
n = batch * steps
x = rng.random((n, dims[0]), dtype=np.float32)
y = rng.random((n, dims[-1]), dtype=np.float32)
model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)  # compile
warm_until = time.perf_counter() + WARM_S  # every thread past its start (see CHILD)
while time.perf_counter() < warm_until:
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
times = []
for _ in range(5):
    t = time.perf_counter()
    model.fit(x, y, batch_size=batch, epochs=1, verbose=0, shuffle=False)
    times.append((time.perf_counter() - t) / steps)
print(json.dumps(sorted(times)[len(times) // 2]))
"""

TORCH_CHILD = r"""
import json, os, sys, time
WARM_S = float(os.environ["HOOKFIT_BENCH_WARM_S"])
import numpy as np
import torch
torch.set_num_threads(int(os.environ["HOOKFIT_PEER_THREADS"]))
dims, batch, steps = json.loads(sys.argv[1])
rng = np.random.default_rng(0)
layers = []
for i, (a, b) in enumerate(zip(dims, dims[1:])):
    layers.append(torch.nn.Linear(a, b))
    if i < len(dims) - 2:
        layers.append(torch.nn.ReLU())
model = torch.nn.Sequential(*layers)
opt = torch.optim.Adam(model.parameters(), lr=1e-4)
n = batch * steps
x = torch.from_numpy(rng.random((n, dims[0]), dtype=np.float32))
y = torch.from_numpy(rng.random((n, dims[-1]), dtype=np.float32))

def epoch():
    for s in range(0, n, batch):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x[s:s + batch]), y[s:s + batch])
        loss.backward()
        opt.step()

warm_until = time.perf_counter() + WARM_S  # every thread past its start (see CHILD)
while time.perf_counter() < warm_until:
    epoch()
times = []
for _ in range(5):
    t = time.perf_counter()
    epoch()
    times.append((time.perf_counter() - t) / steps)
print(json.dumps(sorted(times)[len(times) // 2]))
"""

TORCH_CONFIGS = {
    "torch 1": {"HOOKFIT_PEER_THREADS": "1", "OMP_NUM_THREADS": "1"},
    "torch 2": {"HOOKFIT_PEER_THREADS": "2", "OMP_NUM_THREADS": "2"},
}

ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"

# A config holding this key runs its child pinned to one CPU (the first;
# the busy neighbour takes the last).
PIN_ONE = "_pin_one_cpu"

KERAS_CONFIGS = {
    "keras 1": {"XLA_FLAGS": ONE_THREAD_XLA, PIN_ONE: "1"},
    "keras 2": {},
}

PAIR = "pool 1 x2 at once"

CONFIGS = {
    "pool 1": {"HOOKFIT_NUM_THREADS": "1"},
    "pool 2": {"HOOKFIT_NUM_THREADS": "2"},
    "default": {},  # no thread setting: the pool yields the CPUs other processes use
    "blas 2": {"HOOKFIT_BLAS": "scipy", "OPENBLAS_NUM_THREADS": "2"},
}


def _busy(stop):
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    x = 0
    while not stop.is_set():
        x += 1


def _child_args(dims, batch, env):
    """The environment (env over no thread settings) and the JSON argument
    (shape, batch, steps of about 2e8 multiply-adds) of a child run."""
    full = dict(os.environ)
    for key in ("HOOKFIT_BLAS", "HOOKFIT_NUM_THREADS", "XLA_FLAGS", "OMP_NUM_THREADS",
                "HOOKFIT_PEER_THREADS"):
        full.pop(key, None)
    full.update(env)
    full["HOOKFIT_BENCH_WARM_S"] = str(WARM_S)
    steps = max(4, min(64, int(2e8 // (batch * sum(a * b for a, b in zip(dims, dims[1:]))))))
    return full, [list(dims), batch, steps]


def _step_ms(dims, batch, env, child=CHILD, python=None):
    env = dict(env)
    pin = env.pop(PIN_ONE, None)
    full, arg = _child_args(dims, batch, env)
    cpu = min(os.sched_getaffinity(0))
    out = subprocess.run([python or sys.executable, "-c", child, json.dumps(arg)],
                         env=full, capture_output=True, text=True, check=True,
                         preexec_fn=(lambda: os.sched_setaffinity(0, {cpu})) if pin else None)
    return json.loads(out.stdout) * 1e3


def _pair_step_ms(dims, batch):
    """The 1-thread step of two copies running at once, one pinned to each
    CPU (the slower copy's time): what a perfect 2-thread split could
    reach on this machine is twice one thread alone over this."""
    full, arg = _child_args(dims, batch, CONFIGS["pool 1"])
    start_at = time.time() + 3.0  # after both interpreters have imported and warmed up
    arg = json.dumps(arg + [start_at])
    cpus = sorted(os.sched_getaffinity(0))[:2]
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, arg], env=full, stdout=subprocess.PIPE, text=True,
                              preexec_fn=lambda c=cpu: os.sched_setaffinity(0, {c}))
             for cpu in cpus]
    times = [json.loads(p.communicate()[0]) * 1e3 for p in procs]
    if any(p.returncode for p in procs):
        raise RuntimeError("a pair copy failed")
    return max(times)


def _median_range(values, digits=2):
    return f"{statistics.median(values):.{digits}f} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def crossover(rounds):
    """Adam's update and the Dense(1) step at sizes around their split
    thresholds, 1 vs 2 threads, interleaved in this process."""
    import time

    import numpy as np

    from hookfit._native import core

    def per_call(fn, calls):
        fn()
        t = time.perf_counter()
        for _ in range(calls):
            fn()
        return (time.perf_counter() - t) / calls * 1e6

    def adam(n):
        spec = {"kind": core.OPT_ADAM}
        p, g = np.ones(n, np.float32), np.full(n, 1e-3, np.float32)
        slots = [np.zeros(n, np.float32) for _ in range(3)]
        return lambda: core.opt_apply(spec, p, g, slots, 1e-3, 1), max(10, 2_000_000 // n)

    def dense1(rows):
        rng = np.random.default_rng(0)
        net = core.Network(784, [1], [core.ACT_LINEAR], [True])
        net.configure(core.LOSS_MSE, [], core.OPT_ADAM)
        data = core.Dataset(rng.random((4 * rows, 784), dtype=np.float32),
                            rng.random((4 * rows, 1), dtype=np.float32))
        return lambda: net.train_batches(data, 0, 4 * rows, rows, 1e-4), 20

    pieces = [(f"adam n={n}", adam(n)) for n in (32768, 65536, 131072, 262144, 1048576)]
    pieces += [(f"dense1 b={b} (4 steps)", dense1(b)) for b in (256, 512, 1024, 2048)]
    print(f"{'piece':24s} {'1 thread us':>22s} {'2 threads us':>22s} {'speed-up':>20s}")
    before = core.get_threads()
    for name, (fn, calls) in pieces:
        one, two = [], []
        for _ in range(rounds):
            core.set_threads(1)
            one.append(per_call(fn, calls))
            core.set_threads(2)
            two.append(per_call(fn, calls))
        ratios = [a / b for a, b in zip(one, two)]
        print(f"{name:24s} {_median_range(one, 1):>22s} {_median_range(two, 1):>22s} {_median_range(ratios):>20s}")
    core.set_threads(before)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--json", help="write the samples here")
    parser.add_argument("--keras", action="store_true", help="add Keras 3 (jax) at 1 and 2 threads")
    parser.add_argument("--torch-python", metavar="PYTHON",
                        help="an interpreter with torch: add the PyTorch loop at 1 and 2 threads")
    parser.add_argument("--crossover", action="store_true", help="time the split sizes instead")
    args = parser.parse_args(argv)
    if len(os.sched_getaffinity(0)) < 2:
        sys.exit("needs 2 CPUs in the affinity mask (run without taskset)")
    if args.crossover:
        crossover(args.rounds)
        return
    configs = [(name, env, CHILD, None) for name, env in CONFIGS.items()]
    if args.keras:
        configs += [(name, env, KERAS_CHILD, None) for name, env in KERAS_CONFIGS.items()]
    if args.torch_python:
        configs += [(name, env, TORCH_CHILD, args.torch_python) for name, env in TORCH_CONFIGS.items()]
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
                    for name, env, child, python in configs:
                        key = (case, name + (" +busy" if busy else ""))
                        samples.setdefault(key, []).append(_step_ms(dims, batch, env, child, python))
                    if not busy:
                        samples.setdefault((case, PAIR), []).append(_pair_step_ms(dims, batch))
                finally:
                    if hog:
                        stop.set()
                        hog.join()
    print("Medians over rounds (min-max); ratios taken round by round. 'speed-up' is pool 1's")
    print("time over this row's in the same round and condition (>1: faster than hookfit on")
    print("one thread); 'keras 2 / this' and 'torch 2 / this' say how much faster this row")
    print("is than that peer at 2 threads, in the same round and condition.")
    print(f"{'case':16s} {'config':14s} {'ms/step':>22s} {'speed-up vs pool 1':>22s} {'keras 2 / this':>18s}"
          f" {'torch 2 / this':>18s}")
    for (case, name), values in samples.items():
        if name == PAIR:
            continue
        busy = " +busy" if name.endswith("+busy") else ""
        base = samples[(case, "pool 1" + busy)]
        ratios = [b / v for b, v in zip(base, values)]
        vs = []
        for peer_name in ("keras 2", "torch 2"):
            peer = samples.get((case, peer_name + busy))
            vs.append(_median_range([k / v for k, v in zip(peer, values)]) if peer else "")
        print(f"{case:16s} {name:14s} {_median_range(values, 3):>22s} {_median_range(ratios):>22s}"
              f" {vs[0]:>18s} {vs[1]:>18s}")
    print()
    print("The ceiling of a 2-thread split: pool 1 alone, and the same 1-thread step while a")
    print("second copy runs it on the other CPU (the slower copy); ceiling = 2 x alone / paired.")
    for case in args.cases:
        alone, paired = samples[(case, "pool 1")], samples[(case, PAIR)]
        ceiling = [2 * a / p for a, p in zip(alone, paired)]
        print(f"{case:16s} paired {_median_range(paired, 3):>22s}   ceiling {_median_range(ceiling)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({f"{c}|{n}": v for (c, n), v in samples.items()}, f, indent=1)


if __name__ == "__main__":
    main()
