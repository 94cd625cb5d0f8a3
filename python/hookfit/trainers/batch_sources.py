"""Batch sources: data that arrives one batch at a time.

A ``PyDataset``/``Sequence`` (batches by index) or a Python generator or
iterator (batches in turn), given as ``x`` or ``validation_data``. Per
epoch, a source yields raw batches ``(x, y, sample_weight)``; the training
loop checks each one and runs it as its own ``Dataset`` with one native
call (no copy when a batch already is C-contiguous float32).

Keras 2's rules (tf-keras ``data_adapter.py``): ``y``, ``sample_weight``
and ``validation_split`` must not be given with such data, nor (hookfit is
strict where Keras 2 ignores it) ``batch_size``; ``shuffle`` shuffles the
batch order of a ``PyDataset`` each epoch and is ignored for generators; a
``PyDataset`` restarts at batch 0 every epoch, while a generator continues
where the last epoch stopped.

Prefetching: with ``workers > 1`` a thread pool (``use_multiprocessing=True``:
forked processes) reads up to ``max_queue_size`` batches ahead, in order.
A generator cannot be read by two threads at once: its pool is threads
taking turns, which still reads ahead of the training thread.
"""

from __future__ import annotations

import concurrent.futures
import itertools
import multiprocessing
import queue
import threading

import numpy as np

from hookfit.utils import rng
from hookfit.utils.arguments import is_integer
from hookfit.utils.py_dataset import PyDataset

_BATCH_FORMAT = "`x`, `(x,)`, `(x, y)`, or `(x, y, sample_weight)`"


def _is_keras_py_dataset(x) -> bool:
    """A PyDataset/Sequence of real Keras (3, or tf-keras 2): same protocol."""
    return any(
        c.__name__ in ("PyDataset", "Sequence") and c.__module__.split(".")[0] in ("keras", "tf_keras")
        for c in type(x).__mro__
    )


def is_index_dataset(x) -> bool:
    return isinstance(x, PyDataset) or _is_keras_py_dataset(x)


def is_batch_source(x) -> bool:
    """Whether ``x`` is read batch by batch (a PyDataset or an iterator)."""
    if type(x) is np.ndarray:  # the usual answer, before the class walk below
        return False
    if is_index_dataset(x):
        return True
    if isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)):
        return False
    return hasattr(x, "__next__") and hasattr(x, "__iter__")


def unpack_batch(data, where: str):
    """``(x, y, sample_weight)`` from one batch as a source gave it."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        if isinstance(data, dict):
            raise ValueError(
                f"{where} gave a dict; hookfit models have one input and one output: "
                f"yield {_BATCH_FORMAT}"
            )
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be in format {_BATCH_FORMAT}, found: {str(data)[:200]} ({where})")


def check_pool_settings(workers, use_multiprocessing, max_queue_size):
    if not is_integer(workers) or workers < 0:
        raise ValueError(f"workers must be a non-negative integer; got {workers!r}")
    if not isinstance(use_multiprocessing, bool):
        raise ValueError(f"use_multiprocessing must be True or False; got {use_multiprocessing!r}")
    if not is_integer(max_queue_size) or max_queue_size < 1:
        raise ValueError(f"max_queue_size must be a positive integer; got {max_queue_size!r}")
    return int(workers), use_multiprocessing, int(max_queue_size)


# -- reading a PyDataset with a pool ------------------------------------------------

_process_dataset = None  # the dataset, in a forked worker process


def _set_process_dataset(dataset):
    global _process_dataset
    _process_dataset = dataset


def _process_getitem(index):
    return _process_dataset[index]


def _fork_context():
    try:
        return multiprocessing.get_context("fork")
    except ValueError:  # no fork on this platform: the dataset must pickle
        return multiprocessing.get_context()


def _read_in_order(dataset, indices, workers, use_multiprocessing, max_queue_size):
    """``dataset[i]`` for each index, in order, read ahead by a pool.

    At most ``max_queue_size`` reads are in flight; closing the generator
    (an epoch cut short) cancels the rest and shuts the pool down."""
    if use_multiprocessing:
        pool = _fork_context().Pool(
            max(1, workers), initializer=_set_process_dataset, initargs=(dataset,)
        )
        submit = lambda i: pool.apply_async(_process_getitem, (i,))  # noqa: E731
        result = lambda pending: pending.get()  # noqa: E731
        shutdown = pool.terminate
    else:
        executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="hookfit-data")
        submit = lambda i: executor.submit(dataset.__getitem__, i)  # noqa: E731
        result = lambda pending: pending.result()  # noqa: E731
        shutdown = lambda: executor.shutdown(wait=True, cancel_futures=True)  # noqa: E731
    try:
        indices = iter(indices)
        in_flight = []
        for i in indices:
            in_flight.append(submit(i))
            if len(in_flight) >= max_queue_size:
                break
        while in_flight:
            batch = result(in_flight.pop(0))
            for i in indices:
                in_flight.append(submit(i))
                break
            yield batch
    finally:
        shutdown()


class IndexedSource:
    """A ``PyDataset``/``Sequence``: each epoch reads batches 0..steps-1 (in a
    shuffled order when ``shuffle``) and then calls its ``on_epoch_end``."""

    inferred_batches = None  # len() is known

    def __init__(self, dataset, *, shuffle=False, workers=1, use_multiprocessing=False, max_queue_size=10):
        self.dataset = dataset
        self.shuffle = bool(shuffle)
        # fit's settings when not the defaults (Keras 2), else the dataset's (Keras 3).
        self.workers, self.use_multiprocessing, self.max_queue_size = check_pool_settings(
            workers if workers != 1 else getattr(dataset, "workers", 1),
            use_multiprocessing or getattr(dataset, "use_multiprocessing", False),
            max_queue_size if max_queue_size != 10 else getattr(dataset, "max_queue_size", 10),
        )
        n = self.num_batches
        if not is_integer(n) or n < 0:
            raise ValueError(f"len() of {type(dataset).__name__} must be a non-negative integer; got {n!r}")
        if n == 0:
            raise ValueError(f"The PyDataset {type(dataset).__name__} has length 0; it must give at least one batch")
        self.order = None  # this epoch's batch order when shuffled

    @property
    def num_batches(self) -> int:
        n = getattr(self.dataset, "num_batches", None)  # Keras 3's name
        return len(self.dataset) if n is None else n

    def peek(self):
        """Batch 0 (read again in the epoch, as tf-keras does)."""
        return self.dataset[0]

    def start_epoch(self) -> None:
        """A fresh batch order (when shuffling), then ``on_epoch_begin``."""
        self.order = rng.generator().permutation(self.num_batches) if self.shuffle else None
        getattr(self.dataset, "on_epoch_begin", lambda: None)()

    def batches(self, steps=None, skip=0):
        """Raw batches of this epoch: ``steps`` of them at most (all by
        default), starting after ``skip`` (a resumed epoch)."""
        n = self.num_batches
        stop = n if steps is None else min(steps, n)
        indices = range(skip, stop)
        if self.order is not None:
            indices = [int(self.order[i]) for i in indices]
        if self.workers > 1 or (self.workers > 0 and self.use_multiprocessing):
            yield from _read_in_order(
                self.dataset, indices, self.workers, self.use_multiprocessing, self.max_queue_size
            )
        else:
            for i in indices:
                yield self.dataset[i]

    def end_epoch(self) -> None:
        self.dataset.on_epoch_end()

    def close(self) -> None:
        pass

    def get_state(self) -> dict:
        return {"order": None if self.order is None else np.asarray(self.order, dtype=np.int64)}

    def set_state(self, state: dict) -> None:
        order = state.get("order")
        if order is not None:
            order = np.asarray(order, dtype=np.int64)
            if order.shape != (self.num_batches,):
                raise ValueError(
                    f"the saved batch order has {order.shape[0]} batches; this dataset has "
                    f"{self.num_batches}: resume with the same data"
                )
        self.order = order


_END = object()


class _GeneratorPrefetcher:
    """Threads taking turns to read a generator into a bounded queue (a
    generator is not safe to advance from two threads at once)."""

    def __init__(self, iterator, workers, max_queue_size):
        self._iterator = iterator
        self._queue = queue.Queue(max_queue_size)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._finished = False
        self._threads = [
            threading.Thread(target=self._fill, name="hookfit-data", daemon=True) for _ in range(workers)
        ]
        for t in self._threads:
            t.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def _fill(self):
        while not self._stop.is_set():
            with self._lock:  # the read and the enqueue together keep the order
                if self._finished:
                    return
                try:
                    item = next(self._iterator)
                except StopIteration:
                    self._finished = True
                    self._put(_END)
                    return
                except BaseException as e:  # handed to the training thread
                    self._finished = True
                    self._put((_END, e))
                    return
                if not self._put(item):
                    return

    def __next__(self):
        item = self._queue.get()
        if item is _END or (isinstance(item, tuple) and len(item) == 2 and item[0] is _END):
            self._queue.put(item)  # later reads see the end too
            if item is not _END:
                raise item[1]
            raise StopIteration
        return item

    def close(self):
        self._stop.set()
        for t in self._threads:
            t.join(timeout=5)


class GeneratorSource:
    """A Python generator or iterator: batches in turn, each epoch taking
    ``steps`` of them (all that are left by default); it is not restarted."""

    num_batches = None
    inferred_batches = None  # batches of the first full pass, once read (validation)

    def __init__(self, iterator, *, workers=1, use_multiprocessing=False, max_queue_size=10):
        workers, use_multiprocessing, max_queue_size = check_pool_settings(
            workers, use_multiprocessing, max_queue_size
        )
        if use_multiprocessing:
            raise ValueError(
                "use_multiprocessing=True needs a keras.utils.PyDataset (or Sequence): a "
                "generator cannot be shared between processes without repeating its data. "
                "Wrap the data in a PyDataset, or read the generator with threads (workers=N)."
            )
        self._iterator = iterator
        self.workers, self.max_queue_size = workers, max_queue_size
        self._prefetcher = None  # started with the first epoch (after a peek)

    def peek(self):
        """The first batch, which stays first (to check and build on)."""
        try:
            first = next(self._iterator)
        except StopIteration:
            raise ValueError(
                "the generator gave no batches: it was empty or already exhausted "
                "(a generator can be read only once; create a new one per fit)"
            ) from None
        self._iterator = itertools.chain([first], self._iterator)
        return first

    def start_epoch(self) -> None:
        pass

    def batches(self, steps=None, skip=0):
        if self._prefetcher is None and self.workers > 1:
            self._prefetcher = _GeneratorPrefetcher(self._iterator, self.workers, self.max_queue_size)
        source = self._prefetcher if self._prefetcher is not None else self._iterator
        taken = skip
        while steps is None or taken < steps:
            try:
                batch = next(source)
            except StopIteration:
                return
            taken += 1
            yield batch

    def end_epoch(self) -> None:
        pass

    def close(self) -> None:
        if self._prefetcher is not None:
            self._prefetcher.close()

    def get_state(self) -> dict:
        return {}

    def set_state(self, state: dict) -> None:
        pass


def make_source(x, *, shuffle=False, workers=1, use_multiprocessing=False, max_queue_size=10):
    """The batch source for ``x`` (a PyDataset or an iterator)."""
    if is_index_dataset(x):
        return IndexedSource(
            x, shuffle=shuffle, workers=workers,
            use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
        )
    return GeneratorSource(
        x, workers=workers, use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size
    )
