"""Dataset.shuffle: permutations made in C from a seed (csrc/hf_shuffle.c)."""

from __future__ import annotations

import collections
import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import _reference as reference
from hookfit import errors


def _shuffled(n, seed):
    data = core.Dataset(np.zeros((n, 1), np.float32))
    data.shuffle(seed)
    return data.order


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), seed=st.integers(0, 2**64 - 1))
def test_a_permutation_identical_to_the_numpy_twin(n, seed):
    order = _shuffled(n, seed)
    assert order.dtype == np.int64 and order.shape == (n,)
    assert sorted(order.tolist()) == list(range(n))
    np.testing.assert_array_equal(order, reference.permutation(n, seed))


def test_same_seed_same_order_and_seeds_differ():
    np.testing.assert_array_equal(_shuffled(1000, 7), _shuffled(1000, 7))
    assert not np.array_equal(_shuffled(1000, 7), _shuffled(1000, 8))


def test_every_order_of_four_rows_is_about_equally_likely():
    counts = collections.Counter(tuple(_shuffled(4, seed)) for seed in range(24_000))
    assert set(counts) == set(itertools.permutations(range(4)))
    # 24 orders, 1000 expected each: a chi-square of 24 cells, 23 degrees of
    # freedom; 60 is far in its tail (p < 1e-4) for an unbiased shuffle.
    chi2 = sum((c - 1000) ** 2 / 1000 for c in counts.values())
    assert chi2 < 60, counts


def test_rows_are_visited_in_the_shuffled_order():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    data = core.Dataset(x)
    data.shuffle(3)
    net = core.Network(2, [2], [core.ACT_LINEAR], [False])
    kernel, _ = net.layer_weights(0)
    kernel[...] = np.eye(2)
    out = np.empty((6, 2), np.float32)
    net.predict_batches(data, 0, 6, 4, out)
    np.testing.assert_array_equal(out, x[data.order])


@pytest.mark.parametrize("seed", [-1, 2**64, 1.5, True, "1", None])
def test_bad_seeds_are_refused(seed):
    data = core.Dataset(np.zeros((3, 1)))
    with pytest.raises(errors.DtypeError, match="seed must be an integer"):
        data.shuffle(seed)
    with pytest.raises(TypeError, match="seed must be an integer"):
        reference.Dataset(np.zeros((3, 1))).shuffle(seed)
