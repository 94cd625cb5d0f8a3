"""In-process implementation "floor": the machine's physical floor for a
step, measured in the same rounds as everything else.

The machine is shared: its memory bandwidth changes by 2x with the load of
its neighbours, and absolute microseconds move with it. A floor measured in
the same rounds turns every step time into a load-independent ratio.

- Dense(1) cases (memory-bound): one plain vector read of the step's rows
  (``hookfit._core._read_floats``: a sum with several vector accumulators,
  in C, nothing else), over the epoch's rows: a training step cannot read
  its batch fewer than once. (An sgemv, as before, does more than read and
  hid part of the gap.)
- MLP cases (compute-bound): the step's matrix products alone, through the
  core's own product (its BLAS, its blocks: ``hookfit._core._gemm``) into
  preallocated outputs: forward (3), weight gradients (3), input gradients
  of layers 2 and 3 (2) for fit; forward only for evaluate/predict.

Rows are read in order (the prefetcher's best case), so the floor is a
lower bound for a shuffled epoch too.
"""

from __future__ import annotations

import itertools

import data
import numpy as np
from peer_protocol import Declined
from timing import Workload

NAME = "floor"


def setup():
    from hookfit import _core

    def make(case):
        if case.keras_only or case.per != "step":
            raise Declined("a floor exists for steps only")
        x, _ = data.for_case(case)
        n_val = int(len(x) * case.validation_split)
        x = x[: len(x) - n_val]
        n, b = len(x), case.batch
        starts = range(0, n, b)
        if case.model == "mlp":
            rng = np.random.default_rng(0)
            sizes = [784, 256, 128, 10]
            ws = [rng.standard_normal((i, o)).astype(np.float32) for i, o in itertools.pairwise(sizes)]
            acts = [np.empty((b, o), np.float32) for o in sizes[1:]]
            grads = [np.empty_like(w) for w in ws]
            dins = [np.empty((b, i), np.float32) for i in sizes[1:-1]]

            def epoch():
                for s in starts:
                    xb = x[s : s + b]
                    m = len(xb)  # the last batch is partial
                    h = xb
                    for w, out in zip(ws, acts):
                        _core._gemm(h, w, out[:m])
                        h = out[:m]
                    if case.kind != "fit":
                        continue
                    inputs = [xb] + [a[:m] for a in acts[:-1]]
                    for k in (2, 1, 0):
                        _core._gemm(inputs[k], acts[k][:m], grads[k], trans_a=True)
                        if k:
                            _core._gemm(acts[k][:m], ws[k], dins[k - 1][:m], trans_b=True)

        else:
            rows = np.ascontiguousarray(x, dtype=np.float32)

            def epoch():
                _core._read_floats(rows)

        steps = case.steps

        def fn(scale):
            for _ in range(scale):
                epoch()

        return Workload(case.name, fn, steps, amortizes=True)

    return {}, make
