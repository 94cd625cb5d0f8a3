"""``PyDataset`` (Keras 3) and ``Sequence`` (Keras 2): batches by index.

A subclass implements ``__len__`` (batches per epoch) and
``__getitem__(index)`` returning one batch ``(x, y)`` or
``(x, y, sample_weight)``; ``on_epoch_end`` (and Keras 3's
``on_epoch_begin``) run once per epoch. ``fit``/``evaluate``/``predict``
read the batches through ``hookfit.trainers.batch_sources``, with a
prefetching pool when asked for one: threads when ``workers > 1``, forked
processes when ``use_multiprocessing=True``.

Where the pool settings come from: Keras 3 gives them to the ``PyDataset``
constructor, Keras 2 to ``fit``. hookfit takes ``fit``'s value when it is
not the default (``workers=1``, ``use_multiprocessing=False``,
``max_queue_size=10``), else the dataset's.
"""

from __future__ import annotations

import warnings


class PyDataset:
    """Base class for a dataset of batches read by index.

    Args:
        workers: threads (or processes) filling the prefetch queue; 1 means
            batches are read in the training thread when needed.
        use_multiprocessing: read batches in forked processes (the dataset
            is copied into each; its ``__getitem__`` must not depend on
            state changed in the parent after the epoch begins).
        max_queue_size: batches read ahead at most.

    >>> import numpy as np
    >>> class Batches(PyDataset):
    ...     def __init__(self, x, y, batch_size, **kwargs):
    ...         super().__init__(**kwargs)
    ...         self.x, self.y, self.batch_size = x, y, batch_size
    ...     def __len__(self):
    ...         return -(-len(self.x) // self.batch_size)
    ...     def __getitem__(self, i):
    ...         s = slice(i * self.batch_size, (i + 1) * self.batch_size)
    ...         return self.x[s], self.y[s]
    >>> len(Batches(np.zeros((10, 2)), np.zeros(10), 4))
    3
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers = workers
        self._use_multiprocessing = use_multiprocessing
        self._max_queue_size = max_queue_size

    def _warn_if_super_not_called(self) -> None:
        missing = [a for a in ("_workers", "_use_multiprocessing", "_max_queue_size") if not hasattr(self, a)]
        if missing and self._warns_without_super:
            warnings.warn(
                "Your `PyDataset` class should call `super().__init__(**kwargs)` in its "
                "constructor. `**kwargs` can include `workers`, `use_multiprocessing`, "
                "`max_queue_size`.",
                stacklevel=3,
            )
        for name, default in (("_workers", 1), ("_use_multiprocessing", False), ("_max_queue_size", 10)):
            if not hasattr(self, name):
                setattr(self, name, default)

    _warns_without_super = True

    @property
    def workers(self):
        self._warn_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value):
        self._workers = value

    @property
    def use_multiprocessing(self):
        self._warn_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value):
        self._use_multiprocessing = value

    @property
    def max_queue_size(self):
        self._warn_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value):
        self._max_queue_size = value

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __getitem__(self, index) returning "
            "one batch (x, y) or (x, y, sample_weight)"
        )

    @property
    def num_batches(self):
        """Batches per epoch (``len(self)``)."""
        if hasattr(type(self), "__len__"):
            return len(self)
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__(self) returning the number of batches"
        )

    def __iter__(self):
        """The batches in order (no pool: that is fit's business)."""
        for index in range(self.num_batches):
            yield self[index]

    def on_epoch_begin(self):
        """Called at the start of every epoch."""

    def on_epoch_end(self):
        """Called at the end of every epoch."""


class Sequence(PyDataset):
    """Keras 2's name for the same protocol. Keras 2 subclasses do not call
    ``super().__init__()`` (there was nothing to pass), so the pool settings
    default quietly here and come from ``fit(workers=...)``."""

    _warns_without_super = False

