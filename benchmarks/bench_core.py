"""Per-step timings of the compiled core (a script, never a test).

Method (as in the team's performance-limits study): the process pins itself
to one core (``--core``, default 1) with one OpenBLAS thread; each repeat
runs the body back to back for at least ``--seconds`` (0.25 s) with
``perf_counter``; after one warm-up repeat, ``--repeats`` (11) repeats are
timed and we print the median (min-max) per step. Data for a 1000-row epoch
is resident in memory, as in Keras's ``fit`` on NumPy arrays.

    python benchmarks/bench_core.py            # all cases
    python benchmarks/bench_core.py --quick    # 3 short repeats

Targets (issue 2): tutorial train step <= 15 us, predict <= 13 us,
MLP 784-256-128-10 train step <= 1.2 ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

# Must be set before numpy/scipy load OpenBLAS.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402

from hookfit import _core as core  # noqa: E402

EPOCH_ROWS, BATCH = 1000, 128
EPOCH_STEPS = -(-EPOCH_ROWS // BATCH)  # 7 x 128 + 1 x 104 = 8 steps


def measure(body, steps_per_call, seconds, repeats):
    """Per-step microseconds: (wall median, min, max, CPU-time median).

    The CPU time of this thread (time.thread_time) excludes the time the
    scheduler gave to other processes, so it stays meaningful on a busy
    machine; the wall-clock figures are the ones to quote on a quiet one.
    """
    calls = 1
    while True:  # calibrate: enough calls to fill `seconds`
        t0 = time.perf_counter()
        for _ in range(calls):
            body()
        dt = time.perf_counter() - t0
        if dt >= seconds / 4:
            break
        calls *= 2
    calls = max(1, int(calls * seconds / dt))
    wall, cpu = [], []
    for r in range(repeats + 1):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(calls):
            body()
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        if r:  # the first repeat warms up
            wall.append((t1 - t0) / 1e3 / (calls * steps_per_call))
            cpu.append((c1 - c0) / 1e3 / (calls * steps_per_call))
    wall.sort()
    cpu.sort()
    return wall[len(wall) // 2], wall[0], wall[-1], cpu[len(cpu) // 2]


def report(name, stats, target=None, unit="us"):
    med, lo, hi, cpu = stats
    scale = 1e-3 if unit == "ms" else 1.0
    line = (f"{name:<52} {med * scale:8.3f} ({lo * scale:.3f}-{hi * scale:.3f}) {unit}/step"
            f"  cpu {cpu * scale:8.3f}")
    if target is not None:
        line += f"  target <= {target} {unit}: {'met' if med * scale <= target else 'MISSED'}"
    print(line, flush=True)


def tutorial_model(rng):
    net = core.Network(784, [1], [core.ACT_LINEAR], [True])
    limit = np.sqrt(6.0 / (784 + 1))
    kernel, _ = net.layer_weights(0)
    kernel[...] = rng.uniform(-limit, limit, kernel.shape)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    return net


def mlp_model(rng):
    net = core.Network(784, [256, 128, 10], [core.ACT_RELU, core.ACT_RELU, core.ACT_LINEAR],
                       [True, True, True])
    for i in range(net.n_layers):
        kernel, _ = net.layer_weights(i)
        limit = np.sqrt(6.0 / sum(kernel.shape))
        kernel[...] = rng.uniform(-limit, limit, kernel.shape)
    net.configure(core.LOSS_MSE, [], core.OPT_RMSPROP)
    return net


def sgemm_floor(rng):
    """The matrix products of one MLP training step, through NumPy's BLAS:
    3 forward, 3 weight gradients, 2 input gradients (128.9 MFLOP). What
    this machine's single-core sgemm needs before any other work."""
    f = np.float32
    x = rng.standard_normal((BATCH, 784)).astype(f)
    w = [rng.standard_normal(s).astype(f) for s in ((784, 256), (256, 128), (128, 10))]
    a = [np.empty((BATCH, s), f) for s in (256, 128, 10)]
    dw = [np.empty_like(v) for v in w]
    dx = [None, np.empty((BATCH, 256), f), np.empty((BATCH, 128), f)]
    inputs = [x, a[0], a[1]]

    def body():
        for i in range(3):
            np.matmul(inputs[i], w[i], out=a[i])
        for i in (2, 1, 0):
            np.matmul(inputs[i].T, a[i], out=dw[i])
            if dx[i] is not None:
                np.matmul(a[i], w[i].T, out=dx[i])

    return body


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--core", type=int, default=1, help="CPU to pin to (-1: do not pin)")
    ap.add_argument("--seconds", type=float, default=0.25)
    ap.add_argument("--repeats", type=int, default=11)
    ap.add_argument("--quick", action="store_true", help="3 repeats of 0.1 s")
    args = ap.parse_args(argv)
    if args.quick:
        args.seconds, args.repeats = 0.1, 3
    if args.core >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.core})
    m = (args.seconds, args.repeats)
    print(f"hookfit core, SIMD path: {core.cpu_features()}; pinned to "
          f"{sorted(os.sched_getaffinity(0)) if hasattr(os, 'sched_getaffinity') else '?'}; "
          f"OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}; "
          f"{args.repeats} repeats of >= {args.seconds} s, median (min-max)")

    rng = np.random.default_rng(0)
    x = rng.standard_normal((EPOCH_ROWS, 784)).astype(np.float32)
    y = (x @ rng.standard_normal((784, 1)).astype(np.float32) * 0.05).astype(np.float32)
    data = core.Dataset(x, y)
    net = tutorial_model(rng)
    lr = 0.001

    print("\nTutorial model: Dense(1) on 784 inputs, MSE + MAE, RMSprop, 1000-row epoch of 7x128+104")
    report("train, train_batches over the epoch (epoch / 8)",
           measure(lambda: net.train_batches(data, 0, EPOCH_ROWS, BATCH, lr), EPOCH_STEPS, *m), 15)

    def epoch_single_calls():
        for s in range(0, EPOCH_ROWS, BATCH):
            net.train_batch(data, s, min(BATCH, EPOCH_ROWS - s), lr)

    report("train, one train_batch call per step", measure(epoch_single_calls, EPOCH_STEPS, *m), 15)

    data_shuffled = core.Dataset(x, y)
    data_shuffled.set_order(rng.permutation(EPOCH_ROWS))
    report("train, shuffled (rows read through an order array)",
           measure(lambda: net.train_batches(data_shuffled, 0, EPOCH_ROWS, BATCH, lr), EPOCH_STEPS, *m))

    out = np.empty((EPOCH_ROWS, 1), np.float32)
    report("predict, predict_batches over the epoch (epoch / 8)",
           measure(lambda: net.predict_batches(data, 0, EPOCH_ROWS, BATCH, out), EPOCH_STEPS, *m), 13)

    def predict_single_calls():
        for s in range(0, EPOCH_ROWS, BATCH):
            net.predict_batch(data, s, min(BATCH, EPOCH_ROWS - s), out)

    report("predict, one predict_batch call per step", measure(predict_single_calls, EPOCH_STEPS, *m), 13)
    report("evaluate, test_batches over the epoch (epoch / 8)",
           measure(lambda: net.test_batches(data, 0, EPOCH_ROWS, BATCH), EPOCH_STEPS, *m))

    print("\nMLP 784-256(relu)-128(relu)-10, batch 128, MSE, RMSprop (7 full batches of the epoch)")
    y10 = rng.standard_normal((EPOCH_ROWS, 10)).astype(np.float32)
    data10 = core.Dataset(x, y10)
    mlp = mlp_model(rng)
    full = 7 * BATCH
    report("train, train_batches over 7 batches",
           measure(lambda: mlp.train_batches(data10, 0, full, BATCH, lr), 7, *m), 1.2, unit="ms")
    report("train, one train_batch call", measure(lambda: mlp.train_batch(data10, 0, BATCH, lr), 1, *m),
           1.2, unit="ms")
    report("floor: the step's 8 matrix products alone (numpy matmul, out=)",
           measure(sgemm_floor(rng), 1, *m), unit="ms")
    out10 = np.empty((EPOCH_ROWS, 10), np.float32)
    report("predict, predict_batches over 7 batches",
           measure(lambda: mlp.predict_batches(data10, 0, full, BATCH, out10), 7, *m), unit="ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
