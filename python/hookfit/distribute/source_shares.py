"""A data-parallel fit, evaluate or predict over a batch source (PyDataset,
Sequence, generator), as tf-keras's MultiWorkerMirroredStrategy defines it:
every rank holds the same source, each batch it gives is the global batch,
and rank ``r`` of ``p`` takes its contiguous share of it (uneven and tiny
last batches included), so the ranks step together by construction.

- A shuffled PyDataset's batch order of each epoch is drawn on rank 0 from
  hookfit's stream and broadcast (the order one process with the same seed
  draws); the other ranks draw nothing.
- A PyDataset's length is checked equal on every rank at the start. A
  generator's length is not known: every rank says, at each batch, whether
  it got one, so ranks whose generators differ in length all raise the
  same clear error instead of waiting for each other forever.
- The trainer's source loop (``trainers/source_loops.py``) runs each batch
  through ``train``/``test``/``predict`` here instead of the one-process
  native call, and reads ``stop_training`` through ``stopped()``.
"""

from __future__ import annotations

import numpy as np

from hookfit.distribute.parallel_run import ParallelRun


class SourceShares:
    """What the source loop calls for each batch of a data-parallel run."""

    def __init__(self, run: ParallelRun):
        self.run = run
        self.comm = run.comm

    # -- per batch ---------------------------------------------------------------

    def train(self, data) -> None:
        self.run.train_share(data, 0, data.n_rows)

    def test(self, data) -> None:
        self.run.test_share(data, 0, data.n_rows)

    def predict(self, data, out) -> None:
        self.run.predict_share(data, 0, data.n_rows, out)

    def stopped(self) -> bool:
        """``stop_training`` after a batch: agreed over ranks."""
        return self.run.stop_view.stop_training

    def epoch_stopped(self) -> bool:
        """``stop_training`` at an epoch's end: an OR over ranks."""
        return self.run.agree_stop()

    # -- per epoch ---------------------------------------------------------------

    def start_epoch(self, source) -> None:
        """Rank 0's batch order (when shuffled), the same everywhere."""
        shuffle = getattr(source, "shuffle", False)
        if not shuffle:
            source.start_epoch()
            return
        if not self.comm.is_chief:
            source.shuffle = False  # draw nothing here: rank 0's order comes next
            try:
                source.start_epoch()
            finally:
                source.shuffle = True
        else:
            source.start_epoch()
        order = np.ascontiguousarray(
            source.order if self.comm.is_chief else np.zeros(source.num_batches), dtype=np.int64
        )
        source.order = np.frombuffer(self.comm.bcast_bytes(order.tobytes()), dtype=np.int64).copy()

    def batches(self, batches, source):
        """The source's batches of a pass; for a generator, with an agreement
        at each batch that every rank got one (or none)."""
        if source.num_batches is not None:
            return batches  # a PyDataset: its length was checked equal at the start
        return self._agreed(batches)

    def _agreed(self, batches):
        comm = self.comm
        try:
            while True:
                raw = next(batches, _END)
                got = comm.allgather_bytes(b"0" if raw is _END else b"1")
                if len(set(got)) > 1:
                    raise RuntimeError(
                        "the ranks' generators gave different numbers of batches (ranks "
                        f"{[r for r, g in enumerate(got) if g == b'0']} ran out first); every rank "
                        "must read the same batches: give each rank the same generator"
                    )
                if raw is _END:
                    return
                yield raw
        finally:
            batches.close()

    def after_train_begin(self, it) -> None:
        """Rank 0's training state everywhere once every callback began
        (a callback may have restored a backup); the positions must agree."""
        self.run.sync_training_state((it.epoch, it.batch_in_epoch))


_END = object()


def source_signature(source, first_batch) -> dict:
    """What every rank's source must share: its length (None for a
    generator) and the first batch's shapes and checksum."""
    from hookfit.distribute.parallel_run import data_signature
    from hookfit.trainers.batch_sources import unpack_batch

    x, y, sw = unpack_batch(first_batch, "x, batch 0")
    if isinstance(x, dict):  # a multi-input model's batch, by input name
        x = [x[k] for k in sorted(x)]
    arrays: list = [np.asarray(a) for a in (x if isinstance(x, (list, tuple)) else [x])]
    arrays += [None if a is None else np.asarray(a) for a in (y, sw)]
    return {"batches": source.num_batches, "first_batch": data_signature(*arrays)}
