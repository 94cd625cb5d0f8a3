"""Per-step timings of the compiled core (a script, never a test).

Method (as in the team's performance-limits study): the process pins itself
to one core (``--core``, default 1) with one OpenBLAS thread; each repeat
runs a case back to back for at least ``--seconds`` (0.25 s); after one
warm-up round, ``--repeats`` (11) rounds are timed, going round-robin over
the cases, and we print the median (min-max) wall time per step plus the
median CPU time of the thread (robust to other processes on the machine).
Data for a 1000-row epoch is resident in memory, as in Keras's ``fit`` on
NumPy arrays.

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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from data import ROW_OFFSETS, at_line_offset  # noqa: E402

EPOCH_ROWS, BATCH = 1000, 128
EPOCH_STEPS = -(-EPOCH_ROWS // BATCH)  # 7 x 128 + 1 x 104 = 8 steps


class Case:
    """One timed body: `steps` training/predict steps per call."""

    def __init__(self, group, name, body, steps, target=None, unit="us"):
        self.group, self.name, self.body, self.steps = group, name, body, steps
        self.target, self.unit = target, unit
        self.calls, self.wall, self.cpu = 1, [], []

    def calibrate(self, seconds):
        while True:  # enough calls to fill `seconds`
            t0 = time.perf_counter()
            for _ in range(self.calls):
                self.body()
            dt = time.perf_counter() - t0
            if dt >= seconds / 4:
                break
            self.calls *= 2
        self.calls = max(1, int(self.calls * seconds / dt))

    def repeat(self, keep):
        c0, t0 = time.thread_time_ns(), time.perf_counter_ns()
        for _ in range(self.calls):
            self.body()
        t1, c1 = time.perf_counter_ns(), time.thread_time_ns()
        if keep:
            per = 1e3 * self.calls * self.steps
            self.wall.append((t1 - t0) / per)
            self.cpu.append((c1 - c0) / per)

    def line(self):
        """Median (min-max) wall time per step, and the median CPU time: the
        CPU time of this thread excludes time the scheduler gave to other
        processes, so it stays meaningful on a busy machine."""
        scale = 1e-3 if self.unit == "ms" else 1.0
        wall, cpu = sorted(self.wall), sorted(self.cpu)
        med, lo, hi, cmed = wall[len(wall) // 2], wall[0], wall[-1], cpu[len(cpu) // 2]
        text = (f"{self.name:<50} {med * scale:8.3f} ({lo * scale:.3f}-{hi * scale:.3f}) "
                f"{self.unit}/step  cpu {cmed * scale:8.3f} (min {cpu[0] * scale:.3f})")
        if self.target is not None:
            text += f"  target <= {self.target}: {'met' if med * scale <= self.target else 'MISSED'}"
        return text


def run(cases, seconds, repeats):
    """Repeats go round-robin over the cases, so a burst of load from other
    processes hits every case alike; the first round warms up."""
    for c in cases:
        c.calibrate(seconds)
    for r in range(repeats + 1):
        for c in cases:
            c.repeat(keep=r > 0)
    group = None
    for c in cases:
        if c.group != group:
            group = c.group
            print("\n" + group)
        print(c.line(), flush=True)


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

    tut = "Tutorial model: Dense(1) on 784 inputs, MSE + MAE, RMSprop, 1000-row epoch of 7x128+104"
    cases = [Case(tut, "train, train_batches over the epoch (epoch / 8)",
                  lambda: net.train_batches(data, 0, EPOCH_ROWS, BATCH, lr), EPOCH_STEPS, 15)]

    def epoch_single_calls():
        for s in range(0, EPOCH_ROWS, BATCH):
            net.train_batch(data, s, min(BATCH, EPOCH_ROWS - s), lr)

    cases.append(Case(tut, "train, one train_batch call per step", epoch_single_calls, EPOCH_STEPS, 15))
    data_shuffled = core.Dataset(x, y)
    data_shuffled.set_order(rng.permutation(EPOCH_ROWS))
    cases.append(Case(tut, "train, shuffled (rows read through an order array)",
                      lambda: net.train_batches(data_shuffled, 0, EPOCH_ROWS, BATCH, lr), EPOCH_STEPS))
    out = np.empty((EPOCH_ROWS, 1), np.float32)
    cases.append(Case(tut, "predict, predict_batches over the epoch (epoch / 8)",
                      lambda: net.predict_batches(data, 0, EPOCH_ROWS, BATCH, out), EPOCH_STEPS, 13))

    def predict_single_calls():
        for s in range(0, EPOCH_ROWS, BATCH):
            net.predict_batch(data, s, min(BATCH, EPOCH_ROWS - s), out)

    cases.append(Case(tut, "predict, one predict_batch call per step", predict_single_calls, EPOCH_STEPS, 13))
    cases.append(Case(tut, "evaluate, test_batches over the epoch (epoch / 8)",
                      lambda: net.test_batches(data, 0, EPOCH_ROWS, BATCH), EPOCH_STEPS))

    # The Dense(1) kernels' speed depends on where the rows start inside a
    # cache line (NumPy puts an array's data 0, 16, 32 or 48 bytes into one;
    # a large array 16): the same epoch, shuffled, from each offset.
    where = "Tutorial model, shuffled epoch, rows starting N bytes into a 64-byte line"
    for offset in ROW_OFFSETS:
        x_at = at_line_offset(x, offset)
        data_at = core.Dataset(x_at, y)
        data_at.set_order(rng.permutation(EPOCH_ROWS))
        cases.append(Case(where, f"train, rows {offset} bytes into a line",
                          lambda d=data_at: net.train_batches(d, 0, EPOCH_ROWS, BATCH, lr), EPOCH_STEPS))

    mlp_group = "MLP 784-256(relu)-128(relu)-10, batch 128, MSE, RMSprop (7 full batches of the epoch)"
    y10 = rng.standard_normal((EPOCH_ROWS, 10)).astype(np.float32)
    data10 = core.Dataset(x, y10)
    mlp = mlp_model(rng)
    full = 7 * BATCH
    out10 = np.empty((EPOCH_ROWS, 10), np.float32)
    cases += [
        Case(mlp_group, "train, train_batches over 7 batches",
             lambda: mlp.train_batches(data10, 0, full, BATCH, lr), 7, 1.2, "ms"),
        Case(mlp_group, "train, one train_batch call",
             lambda: mlp.train_batch(data10, 0, BATCH, lr), 1, 1.2, "ms"),
        Case(mlp_group, "floor: its 8 matrix products alone (numpy matmul)", sgemm_floor(rng), 1, None, "ms"),
        Case(mlp_group, "predict, predict_batches over 7 batches",
             lambda: mlp.predict_batches(data10, 0, full, BATCH, out10), 7, None, "ms"),
    ]
    run(cases, *m)
    return 0


if __name__ == "__main__":
    sys.exit(main())
