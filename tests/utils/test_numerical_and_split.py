"""to_categorical, normalize and split_dataset against Keras 3's numbers.

split_dataset: Keras 3's implementation needs TensorFlow (it returns
tf.data.Datasets), which the test extra does not install; it is checked
against Keras's size rules and against its shuffle (Python's random.shuffle
seeded with `seed`), reproduced here from its source.
"""

import random

import numpy as np
import pytest

import hookfit as keras
from hookfit.utils import normalize, split_dataset, to_categorical


@pytest.fixture
def k3(keras3):
    return keras3


@pytest.mark.parametrize("labels, num_classes", [
    ([0, 2, 1, 2], None),
    ([[1], [0], [3]], 5),
    (np.array([[0, 1], [2, 0]]), 3),
    (np.array([3.0, 1.0]), None),
])
def test_to_categorical_matches_keras3(k3, labels, num_classes):
    ours = to_categorical(labels, num_classes)
    theirs = np.asarray(k3.utils.to_categorical(labels, num_classes))
    np.testing.assert_array_equal(ours, theirs)
    assert ours.shape == theirs.shape
    assert ours.dtype == np.float32  # Keras 2's default dtype


def test_to_categorical_refuses_bad_labels():
    with pytest.raises(TypeError, match="strings.*np.unique"):
        to_categorical(np.array(["cat", "dog"]))
    with pytest.raises(ValueError, match=">= 0"):
        to_categorical([0, -1])
    with pytest.raises(ValueError, match="out of range for num_classes=2"):
        to_categorical([0, 2], num_classes=2)
    with pytest.raises(ValueError, match="integer class ids"):
        to_categorical([0.5])
    assert to_categorical([1, 0], dtype="int64").dtype == np.int64


@pytest.mark.parametrize("axis, order", [(-1, 2), (1, 1), (-1, np.inf)])
def test_normalize_matches_keras3(k3, axis, order):
    x = np.random.default_rng(0).normal(size=(6, 4))
    x[2] = 0.0  # a zero row stays zero
    np.testing.assert_allclose(normalize(x, axis, order), np.asarray(k3.utils.normalize(x, axis, order)),
                               rtol=1e-6, atol=1e-12)


def test_normalize_axis_0_follows_keras2():
    # Keras 3 turns axis=0 into -1 when re-expanding the norms (`axis or -1`)
    # and fails on non-square input; Keras 2 divides each column by its norm.
    x = np.random.default_rng(1).normal(size=(6, 4))
    np.testing.assert_allclose(normalize(x, axis=0), x / np.linalg.norm(x, axis=0, keepdims=True))


def test_normalize_errors():
    with pytest.raises(ValueError, match="out of range"):
        normalize(np.ones((2, 2)), axis=2)
    with pytest.raises(TypeError, match="real numbers"):
        normalize(np.array(["a"]))


def test_split_sizes_follow_keras():
    x = np.arange(10)
    assert [len(p) for p in split_dataset(x, left_size=0.8)] == [8, 2]
    assert [len(p) for p in split_dataset(x, right_size=3)] == [7, 3]
    assert [len(p) for p in split_dataset(x, left_size=0.25)] == [2, 8]  # round(2.5) == 2
    left, right = split_dataset(x, left_size=2, right_size=3)  # the middle is dropped
    np.testing.assert_array_equal(left, [0, 1])
    np.testing.assert_array_equal(right, [7, 8, 9])
    with pytest.raises(ValueError, match="At least one of the `left_size` or `right_size`"):
        split_dataset(x)
    with pytest.raises(ValueError, match="`left_size` should be either a positive integer smaller than 10"):
        split_dataset(x, left_size=10)
    with pytest.raises(ValueError, match="greater than 1"):
        split_dataset(x, left_size=0.6, right_size=0.6)
    with pytest.raises(ValueError, match="right side dataset split will be empty"):
        split_dataset(np.arange(3), left_size=0.9)
    with pytest.raises(TypeError, match="Invalid `left_size` Type"):
        split_dataset(x, left_size="half")


def test_split_tuples_and_keras_shuffle():
    x = np.arange(20).reshape(10, 2)
    y = np.arange(10)
    (lx, ly), (rx, ry) = split_dataset((x, y), left_size=0.7, shuffle=True, seed=123)
    # Keras: random.seed(seed); random.shuffle(list_of_samples).
    rows = list(range(10))
    random.seed(123)
    random.shuffle(rows)
    np.testing.assert_array_equal(ly, rows[:7])
    np.testing.assert_array_equal(ry, rows[7:])
    np.testing.assert_array_equal(lx, x[rows[:7]])
    with pytest.raises(ValueError, match="same length"):
        split_dataset((x, y[:5]), left_size=0.5)
    # hookfit's stream decides an unseeded shuffle: reproducible with set_random_seed.
    keras.utils.set_random_seed(3)
    a = split_dataset(y, left_size=0.5, shuffle=True)
    keras.utils.set_random_seed(3)
    b = split_dataset(y, left_size=0.5, shuffle=True)
    np.testing.assert_array_equal(a[0], b[0])


def test_keras_spelling():
    assert keras.utils.to_categorical is to_categorical
    assert keras.utils.set_random_seed is keras.utils.rng.set_random_seed
