"""EpochIterator: the Keras 2 batch stream, and its position saved and restored."""

import numpy as np
import pytest

import hookfit as keras
from hookfit._native import Dataset
from hookfit.trainers import EpochIterator


def _dataset(n=10):
    return Dataset(np.arange(n, dtype=np.float32).reshape(n, 1), np.zeros((n, 1), np.float32))


def _run_epoch(it):
    """(pass, first batch, batches) runs of one epoch, with the installed order."""
    runs = []
    for first, n in it.segments():
        runs.append((it.pass_index, first, n, None if it.order is None else it.order.copy()))
        it.step += n
    it.end_epoch()
    return runs


def test_stream_of_passes_with_steps_per_epoch():
    it = EpochIterator(_dataset(10), 4, epochs=3, steps_per_epoch=2, shuffle=False)
    assert it.batches_per_pass == 3 and it.total_steps == 9
    epochs = [[(p, f, n) for p, f, n, _ in _run_epoch(it)] for _ in range(3)]
    # Epoch windows slide over the passes: [0,1] [2 | 0] [1,2].
    assert epochs == [[(0, 0, 2)], [(0, 2, 1), (1, 0, 1)], [(1, 1, 2)]]
    assert it.batch_rows(2, 1) == (8, 2)  # the partial last batch


def test_ran_out_is_flagged():
    it = EpochIterator(_dataset(10), 4, epochs=2, steps_per_epoch=4, shuffle=False)
    _run_epoch(it)
    assert not it.ran_out
    _run_epoch(it)  # 6 batches in the stream: the second epoch gets 2
    assert it.ran_out and it.exhausted


def test_state_roundtrip_continues_identically():
    keras.utils.set_random_seed(3)
    it = EpochIterator(_dataset(10), 3, epochs=4, shuffle=True)
    _run_epoch(it)
    state = it.get_state()
    rest = [_run_epoch(it) for _ in range(3)]
    keras.utils.set_random_seed(99)  # a different stream, then restore
    other = EpochIterator(_dataset(10), 3, epochs=4, shuffle=True)
    other.set_state(state)
    again = [_run_epoch(other) for _ in range(3)]
    for a, b in zip(rest, again):
        for (pa, fa, na, oa), (pb, fb, nb, ob) in zip(a, b):
            assert (pa, fa, na) == (pb, fb, nb)
            np.testing.assert_array_equal(oa, ob)


def test_state_for_other_data_is_refused():
    it = EpochIterator(_dataset(10), 3, epochs=2)
    _run_epoch(it)
    state = it.get_state()
    with pytest.raises(ValueError, match="same training data"):
        EpochIterator(_dataset(12), 3, epochs=2).set_state(state)
