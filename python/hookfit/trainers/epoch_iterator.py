"""``EpochIterator``: where the fit loop is, explicitly, so it can be saved.

Keras 2 (arrays): the training data are a stream of ``epochs -
initial_epoch`` passes, each pass a fresh permutation (when shuffling) cut
into ``ceil(n / batch_size)`` batches, the last one partial. Each fit-epoch
takes ``steps_per_epoch`` batches (default: one pass) from that stream
without restarting at pass boundaries. When the stream runs out, training
stops after that epoch, with Keras 2's warning.

The whole position is in a few numbers — the epoch, the stream step, the
stream step at which the epoch began, the pass whose order is installed —
plus that pass's permutation and the state of hookfit's random generator.
``get_state``/``set_state`` read and restore them (for BackupAndRestore);
a fit that is running exposes its iterator as ``model._epoch_iterator``,
and reads the position back after ``on_train_begin``.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from hookfit.utils import rng

logger = logging.getLogger("hookfit")


class EpochIterator:
    """Batches of a fit over ``dataset`` (a ``hookfit._native.Dataset``).

    Args:
        dataset: the training rows; its order is set here, one pass at a time.
        batch_size: rows per batch.
        epochs, initial_epoch: as in ``fit``.
        steps_per_epoch: batches per epoch (default: one pass).
        shuffle: ``True`` (a new permutation per pass), ``False`` or
            ``"batch"`` (rows shuffled within each batch, as Keras 2).
    """

    def __init__(self, dataset, batch_size, *, epochs, initial_epoch=0, steps_per_epoch=None, shuffle=True):
        self.dataset = dataset
        self.n_rows = dataset.n_rows
        self.batch_size = batch_size
        self.batches_per_pass = math.ceil(self.n_rows / batch_size)
        self.steps_per_epoch = steps_per_epoch or self.batches_per_pass
        self.epochs = epochs
        self.shuffle = shuffle
        self.total_steps = max(0, epochs - initial_epoch) * self.batches_per_pass
        self.epoch = initial_epoch  # the epoch running, or next to run
        self.step = 0  # batches taken from the stream so far
        self.epoch_start_step = 0
        self.pass_index = -1  # pass whose order is installed in the dataset
        self.ran_out = False  # set when an epoch was cut short by the stream's end
        # Set by a restored backup of a run that had stopped: no more batches.
        self.stopped = False

    # -- position ---------------------------------------------------------------

    @property
    def exhausted(self) -> bool:
        return self.step >= self.total_steps

    @property
    def batch_in_epoch(self) -> int:
        return self.step - self.epoch_start_step

    @property
    def at_epoch_start(self) -> bool:
        return self.step == self.epoch_start_step

    @property
    def batches_left_in_epoch(self) -> int:
        """Batches the current epoch still has to run (the stream may end first)."""
        end = min(self.epoch_start_step + self.steps_per_epoch, self.total_steps)
        return max(0, end - self.step)

    @property
    def order(self):
        """The installed pass's row order (a read-only view), or None.

        Read from the dataset when asked (backups, tests) rather than at each
        pass: making the view costs more than the C permutation itself."""
        return self.dataset.order if self.pass_index >= 0 else None

    def end_epoch(self) -> None:
        self.epoch += 1
        self.epoch_start_step = self.step

    def warn_ran_out(self) -> None:
        logger.warning(
            "Your input ran out of data; interrupting training. Make sure that your "
            "dataset or generator can generate at least `steps_per_epoch * epochs` "
            "batches (in this case, %d batches). You may need to use the repeat() "
            "function when building your dataset.",
            self.steps_per_epoch * self.epochs,
        )

    # -- batches ----------------------------------------------------------------

    def draw_seed(self) -> int:
        """A pass's shuffle seed (a data-parallel fit draws it on rank 0)."""
        return int(rng.generator().bit_generator.random_raw())

    def _start_pass(self, p: int) -> None:
        if self.shuffle == "batch":
            # One draw from hookfit's stream seeds the pass (a data-parallel
            # fit draws it on rank 0, so every rank shuffles alike).
            order = np.arange(self.n_rows, dtype=np.int64)
            gen = np.random.default_rng(self.draw_seed())
            for s in range(0, self.n_rows, self.batch_size):
                gen.shuffle(order[s : s + self.batch_size])
        elif self.shuffle:
            # One 64-bit draw from hookfit's stream seeds a permutation made in
            # C (~4 us per 1000 rows, against ~15 us for NumPy's shuffle); the
            # stream's state and the order are what a resume restores.
            self.dataset.shuffle(self.draw_seed())
            self.pass_index = p
            return
        else:
            order = None
        self.dataset.set_order(order)
        self.pass_index = p

    def segments(self):
        """Yield ``(first_batch, n_batches)`` runs of the current epoch, each
        within one pass (whose order is installed first). The caller advances
        ``self.step`` by the batches it ran."""
        end = min(self.epoch_start_step + self.steps_per_epoch, self.total_steps)
        if end < self.epoch_start_step + self.steps_per_epoch:
            self.ran_out = True
        while self.step < end:
            self.install_pass()
            first = self.step % self.batches_per_pass
            yield first, min(self.batches_per_pass - first, end - self.step)

    def install_pass(self) -> None:
        """Install the order of the pass ``self.step`` is in, unless it is
        installed. (A loop that runs whole passes calls it directly: a
        generator from ``segments`` left after its first piece is closed
        when it is dropped, ~6.7 k instructions per epoch, callgrind.)"""
        p = self.step // self.batches_per_pass
        if p != self.pass_index:
            self._start_pass(p)

    def batch_rows(self, first: int, n_batches: int) -> tuple[int, int]:
        """(start position, row count) of ``n_batches`` batches from ``first``."""
        start = first * self.batch_size
        return start, min(self.n_rows, start + n_batches * self.batch_size) - start

    # -- state --------------------------------------------------------------------

    def get_state(self) -> dict:
        """The position, the installed permutation and the random state."""
        return {
            "epoch": self.epoch,
            "step": self.step,
            "epoch_start_step": self.epoch_start_step,
            "pass_index": self.pass_index,
            "order": None if (order := self.order) is None else order.copy(),
            "rng": rng.get_state(),
        }

    def set_state(self, state: dict) -> None:
        """Continue from a ``get_state()`` of the same fit configuration."""
        order = state["order"]
        if order is not None:
            order = np.asarray(order, dtype=np.int64)
            if order.shape != (self.n_rows,):
                raise ValueError(
                    f"saved shuffle order has {order.shape[0]} rows; this fit's data has "
                    f"{self.n_rows}: resume with the same training data"
                )
        self.epoch = int(state["epoch"])
        self.step = int(state["step"])
        self.epoch_start_step = int(state["epoch_start_step"])
        self.pass_index = int(state["pass_index"])
        self.dataset.set_order(order)
        rng.set_state(state["rng"])
