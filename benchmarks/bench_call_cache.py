"""Where evaluate's and predict's "per step" excess over the core comes from.

Run: ``python benchmarks/bench_call_cache.py`` (``--rounds N``, ``--rows N``).

``run.py`` reports a step as (call - 8-row call) / steps: the 8-row call's
time stands for the call's fixed cost. But the two calls do not run that
fixed cost in the same state. A loop of 1000-row calls streams the 3 MB of
rows through the caches in every call, so each call's Python set-up starts
with cold caches; a loop of 8-row calls keeps its set-up hot. The
difference, a per-call cost, is then counted as per-step time.

This script times, on the tutorial model (784 -> 1, batch 128), in
interleaved rounds and pinned to one core, three things per step:

* ``core``: the core's run of all the batches alone (``test_batches`` /
  ``predict_batches``), in a loop;
* ``as run.py``: (call - 8-row call) / steps, each in its own loop;
* ``core, cold`` and ``same cache state``: the same two with a 12 MB write
  before every call (of both loops), so that each call starts from caches
  holding none of its data or code.

Medians (min-max) over rounds; the ratios (``as run.py`` / ``core``, ``same
cache state`` / ``core, cold``) are taken round by round. A second table
times one ``save_weights`` of the model to a ``.weights.h5`` file (what
``ModelCheckpoint(save_weights_only=True)`` writes; in /dev/shm when there
is one, so that the disk's fsync is not what is timed), in a tight loop and
after the same 12 MB write (inside ``fit``, a save follows the epoch's pass
over the data). Needs h5py for that table (``hookfit[h5]``).
A script, never a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from peer_protocol import ONE_THREAD_ENV  # noqa: E402

for _key, _value in ONE_THREAD_ENV.items():
    os.environ[_key] = _value

import numpy as np  # noqa: E402
from report import fmt  # noqa: E402
from timing import Stat  # noqa: E402

BATCH = 128
CALLS = 60  # calls per sample; the median call is kept


def _pin() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        core = cpus[-1]
        os.sched_setaffinity(0, {core})
        return f"pinned to CPU {core}"
    except (AttributeError, OSError) as e:
        return f"not pinned ({e})"


def _median_call_us(fn, flush) -> float:
    times = []
    for _ in range(CALLS):
        if flush is not None:
            flush()
        t = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t)
    return statistics.median(times) / 1e3


def _stat(values) -> str:
    return fmt(Stat.of(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--rows", type=int, default=1000)
    args = parser.parse_args()
    where = _pin()

    import hookfit as keras
    from hookfit import _core

    rng = np.random.default_rng(0)
    x = rng.random((args.rows, 784), dtype=np.float32)
    y = rng.random((args.rows, 1), dtype=np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
    model.compile(optimizer=keras.optimizers.RMSprop(0.1), loss="mse", metrics=["mae"])
    model.evaluate(x[:8], y[:8], verbose=0)  # builds the network
    network = model._loop_network()
    data = _core.Dataset(x, y)
    out = np.empty((args.rows, 1), np.float32)
    steps = -(-args.rows // BATCH)
    source, sink = np.ones(3 << 20, np.float32), np.empty(3 << 20, np.float32)

    def flush():
        np.copyto(sink, source)

    kinds = {
        "evaluate": (
            lambda: network.test_batches(data, 0, args.rows, BATCH),
            lambda: model.evaluate(x, y, batch_size=BATCH, verbose=0),
            lambda: model.evaluate(x[:8], y[:8], batch_size=BATCH, verbose=0),
        ),
        "predict": (
            lambda: network.predict_batches(data, 0, args.rows, BATCH, out),
            lambda: model.predict(x, batch_size=BATCH, verbose=0),
            lambda: model.predict(x[:8], batch_size=BATCH, verbose=0),
        ),
    }
    columns = ("core", "as run.py", "core, cold", "same cache state")
    rows = {(k, c): [] for k in kinds for c in columns}
    for kind, (core, full, tiny) in kinds.items():  # warm-up
        for fn in (core, full, tiny):
            _median_call_us(fn, None)
    for _ in range(args.rounds):
        for kind, (core, full, tiny) in kinds.items():
            rows[kind, "core"].append(_median_call_us(core, None) / steps)
            rows[kind, "as run.py"].append((_median_call_us(full, None) - _median_call_us(tiny, None)) / steps)
            rows[kind, "core, cold"].append(_median_call_us(core, flush) / steps)
            rows[kind, "same cache state"].append(
                (_median_call_us(full, flush) - _median_call_us(tiny, flush)) / steps
            )

    saves = _save_times(model, flush, args.rounds)
    print(f"tutorial model, {args.rows} rows, batch {BATCH} ({steps} steps), {args.rounds} rounds, {where}")
    print("| call | per step, µs: " + " | ".join(columns)
          + " | as run.py / core | same cache state / core, cold |")
    print("|---|" + "---|" * (len(columns) + 2))
    for kind in kinds:
        core, plain, cold, same = (rows[kind, c] for c in columns)
        print(
            f"| {kind} | " + " | ".join(_stat(rows[kind, c]) for c in columns) + " | "
            f"{_stat([a / c for a, c in zip(plain, core)])} | {_stat([s / c for s, c in zip(same, cold)])} |"
        )
    if saves is not None:
        print()
        print("| save_weights to .weights.h5, µs per call | tight loop | after a 12 MB write |")
        print("|---|---|---|")
        print(f"| tutorial model | {_stat(saves[0])} | {_stat(saves[1])} |")


def _save_times(model, flush, rounds):
    """(hot, cold) µs per save, one median per round; None without h5py."""
    try:
        import h5py  # noqa: F401
    except ImportError:
        return None
    ram = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    where = tempfile.mkdtemp(prefix="hookfit-bench-", dir=ram)
    try:
        path = os.path.join(where, "ckpt.weights.h5")
        save = lambda: model.save_weights(path)  # noqa: E731
        _median_call_us(save, None)  # the file's layout is learned in the first saves
        hot, cold = [], []
        for _ in range(rounds):
            hot.append(_median_call_us(save, None))
            cold.append(_median_call_us(save, flush))
        return hot, cold
    finally:
        shutil.rmtree(where, ignore_errors=True)


if __name__ == "__main__":
    main()
