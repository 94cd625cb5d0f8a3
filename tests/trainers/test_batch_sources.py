"""Batch sources on their own: order, epochs, the prefetching pool, errors."""

import os
import threading
import time
import warnings

import numpy as np
import pytest

import hookfit as keras
from hookfit.trainers.batch_sources import (
    GeneratorSource, IndexedSource, is_batch_source, make_source, unpack_batch,
)
from hookfit.utils import PyDataset, Sequence


class Numbered(PyDataset):
    """Batch i is ([[i]], [[i]]); records which thread or process read it."""

    def __init__(self, n=8, delay=0.0, **kwargs):
        super().__init__(**kwargs)
        self.n, self.delay = n, delay
        self.readers = set()
        self.ends = self.begins = 0

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if self.delay:
            time.sleep(self.delay)
        self.readers.add((os.getpid(), threading.get_ident()))
        return np.full((1, 1), i, np.float32), np.full((1, 1), i, np.float32), np.ones(1)

    def on_epoch_begin(self):
        self.begins += 1

    def on_epoch_end(self):
        self.ends += 1


def ids(batches):
    return [int(b[0][0, 0]) for b in batches]


def test_what_counts_as_a_source():
    assert is_batch_source(Numbered())
    assert is_batch_source(iter([1]))
    assert is_batch_source(x for x in [])
    assert not is_batch_source(np.zeros(3)) and not is_batch_source([1, 2])


def test_unpack_batch_forms():
    assert unpack_batch((1, 2), "w") == (1, 2, None)
    assert unpack_batch([1, 2, 3], "w") == (1, 2, 3)
    assert unpack_batch(1, "w") == (1, None, None)
    assert unpack_batch((1,), "w") == (1, None, None)
    with pytest.raises(ValueError, match=r"`\(x, y\)`, or `\(x, y, sample_weight\)`"):
        unpack_batch((1, 2, 3, 4), "w")
    with pytest.raises(ValueError, match="dict"):
        unpack_batch({"x": 1}, "w")


@pytest.mark.parametrize("workers, mp", [(1, False), (3, False), (2, True)])
def test_indexed_source_reads_in_order_with_any_pool(workers, mp):
    ds = Numbered(n=9, delay=0.002)
    source = IndexedSource(ds, workers=workers, use_multiprocessing=mp, max_queue_size=3)
    source.start_epoch()
    assert ids(source.batches()) == list(range(9))
    assert ids(source.batches(steps=4)) == [0, 1, 2, 3]  # every epoch restarts at 0
    assert ids(source.batches(steps=20)) == list(range(9))  # no more than there are
    assert ids(source.batches(steps=5, skip=2)) == [2, 3, 4]
    source.end_epoch()
    assert ds.begins == 1 and ds.ends == 1
    if mp:
        # Read in other processes (the parent's set saw none of them).
        assert ds.readers == set()
    elif workers > 1:
        assert len({t for _, t in ds.readers}) > 1 or threading.get_ident() not in {t for _, t in ds.readers}


def test_thread_pool_really_prefetches():
    # 8 reads of 50 ms on 4 threads: well under the 400 ms a serial read takes.
    ds = Numbered(n=8, delay=0.05)
    source = IndexedSource(ds, workers=4, max_queue_size=8)
    source.start_epoch()
    t0 = time.perf_counter()
    assert ids(source.batches()) == list(range(8))
    assert time.perf_counter() - t0 < 0.3


def test_pool_stops_reading_when_the_epoch_is_cut_short():
    ds = Numbered(n=50, delay=0.001)
    source = IndexedSource(ds, workers=2, max_queue_size=4)
    source.start_epoch()
    batches = source.batches()
    assert ids([next(batches), next(batches)]) == [0, 1]
    batches.close()
    read = len(ds.readers)  # threads: at most 2 + max_queue_size batches were asked for
    time.sleep(0.02)
    assert len(ds.readers) == read


def test_shuffle_permutes_batches_per_epoch_from_hookfit_stream():
    keras.utils.set_random_seed(0)
    source = IndexedSource(Numbered(n=10), shuffle=True)
    source.start_epoch()
    first = ids(source.batches())
    source.start_epoch()
    second = ids(source.batches())
    assert sorted(first) == sorted(second) == list(range(10)) and first != second
    keras.utils.set_random_seed(0)
    source.start_epoch()
    assert ids(source.batches()) == first


def test_pool_settings_from_fit_or_dataset():
    ds = Numbered(workers=3, max_queue_size=5)
    s = IndexedSource(ds)  # fit's defaults: the dataset's own (Keras 3)
    assert (s.workers, s.use_multiprocessing, s.max_queue_size) == (3, False, 5)
    s = IndexedSource(ds, workers=2, max_queue_size=7)  # given to fit (Keras 2)
    assert (s.workers, s.max_queue_size) == (2, 7)
    with pytest.raises(ValueError, match="max_queue_size must be a positive integer"):
        IndexedSource(Numbered(), max_queue_size=0)
    with pytest.raises(ValueError, match="workers must be a non-negative integer"):
        IndexedSource(Numbered(), workers=-1)


def _one_batch_without_super(base):
    """A subclass of ``base`` written the Keras 2 way: no super().__init__()."""

    class NoSuper(base):
        def __init__(self):
            pass

        def __len__(self):
            return 1

        def __getitem__(self, i):
            return np.zeros((1, 1)), np.zeros((1, 1))

    return NoSuper()


def test_pydataset_without_super_warns_but_sequence_does_not():
    with pytest.warns(UserWarning, match=r"super\(\).__init__"):
        assert _one_batch_without_super(PyDataset).workers == 1
    old_sequence = _one_batch_without_super(Sequence)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert old_sequence.workers == 1
    assert len(list(old_sequence)) == 1


def test_empty_pydataset_is_refused():
    with pytest.raises(ValueError, match="has length 0"):
        IndexedSource(Numbered(n=0))


def test_generator_source_continues_across_epochs():
    source = GeneratorSource(iter(range(7)))
    assert source.peek() == 0
    assert list(source.batches(steps=3)) == [0, 1, 2]  # the peeked batch stays first
    assert list(source.batches(steps=3)) == [3, 4, 5]
    assert list(source.batches()) == [6]
    assert list(source.batches()) == []


def test_generator_prefetch_threads_keep_order_and_errors():
    def gen():
        yield from range(20)
        raise RuntimeError("disk gone")

    source = GeneratorSource(gen(), workers=3, max_queue_size=2)
    got = list(source.batches(steps=5))
    assert got == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="disk gone"):
        list(source.batches())
    source.close()


def test_generator_refusals():
    with pytest.raises(ValueError, match="use_multiprocessing=True needs a keras.utils.PyDataset"):
        GeneratorSource(iter([]), use_multiprocessing=True)
    with pytest.raises(ValueError, match="gave no batches"):
        GeneratorSource(iter([])).peek()
    assert isinstance(make_source(iter([1])), GeneratorSource)
    assert isinstance(make_source(Numbered()), IndexedSource)
