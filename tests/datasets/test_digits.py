"""hookfit.datasets.digits: the embedded UCI handwritten digits."""

import csv
import gzip
import hashlib
from importlib import resources

import numpy as np
import pytest

from hookfit.datasets import digits

# The file's SHA-256, as recorded in hookfit/datasets/NOTICE.md.
DIGITS_SHA256 = "09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22"


def read_file_rows():
    """The data file read independently of the loader: (pixels (n, 64) int, labels (n,) int)."""
    data = resources.files("hookfit.datasets").joinpath("digits.csv.gz")
    with data.open("rb") as raw, gzip.open(raw, "rt") as text:
        rows = np.array([[int(float(v)) for v in row] for row in csv.reader(text)])
    return rows[:, :64], rows[:, 64]


def sorted_rows(a):
    """Rows of a 2-D array in lexicographic order (a multiset fingerprint)."""
    return a[np.lexsort(a.T[::-1])]


def test_data_file_is_the_attributed_one():
    data = resources.files("hookfit.datasets").joinpath("digits.csv.gz")
    assert hashlib.sha256(data.read_bytes()).hexdigest() == DIGITS_SHA256
    notice = resources.files("hookfit.datasets").joinpath("NOTICE.md").read_text()
    assert DIGITS_SHA256 in notice
    assert "CC BY 4.0" in notice and "Alpaydin" in notice and "Kaynak" in notice
    assert "Alpaydin" in digits.load_data.__doc__ and "CC BY 4.0" in digits.load_data.__doc__


def test_default_is_mnist_shaped():
    (x_train, y_train), (x_test, y_test) = digits.load_data()
    assert x_train.shape == (797, 28, 28) and y_train.shape == (797,)
    assert x_test.shape == (1000, 28, 28) and y_test.shape == (1000,)
    for a in (x_train, y_train, x_test, y_test):
        assert a.dtype == np.uint8
    assert x_train.max() == 255 and x_train.min() == 0
    # The tutorial's preprocessing applies unchanged.
    assert x_train.reshape(-1, 784).shape == (797, 784)


def test_28x28_frame_has_a_4_pixel_empty_margin_and_a_20x20_digit():
    (x_train, _), (x_test, _) = digits.load_data()
    x = np.concatenate([x_train, x_test])
    inner = np.zeros((28, 28), dtype=bool)
    inner[4:24, 4:24] = True
    assert not x[:, ~inner].any()
    assert (x[:, inner].reshape(len(x), -1).max(axis=1) > 0).all()


def test_raw_8x8_is_the_file_scaled_to_0_255():
    pixels, labels = read_file_rows()
    (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=8)
    assert x_train.shape == (797, 8, 8) and x_test.shape == (1000, 8, 8)
    got = np.concatenate([x_train, x_test]).reshape(-1, 64).astype(np.int64)
    got_labels = np.concatenate([y_train, y_test]).astype(np.int64)
    expected = np.rint(pixels * 255 / 16).astype(np.int64)
    # Train and test together are exactly the file's rows (no row lost, none repeated).
    table = np.column_stack([expected, labels])
    assert np.array_equal(sorted_rows(np.column_stack([got, got_labels])), sorted_rows(table))


def test_28x28_is_a_bilinear_resize_of_the_8x8_grid():
    # Independent per-pixel bilinear sampling with the half-pixel convention.
    (raw, _), _ = digits.load_data(image_size=8)
    (big, _), _ = digits.load_data(image_size=28)
    pixels, _ = read_file_rows()
    file_order_lookup = {tuple(np.rint(p * 255 / 16).astype(int)): p for p in pixels}
    for k in (0, 1, 100, 796):
        source = file_order_lookup[tuple(raw[k].reshape(-1).astype(int))].reshape(8, 8)
        expected = np.empty((20, 20))
        for i in range(20):
            for j in range(20):
                u = min(max((i + 0.5) * 8 / 20 - 0.5, 0.0), 7.0)
                v = min(max((j + 0.5) * 8 / 20 - 0.5, 0.0), 7.0)
                i0, j0 = int(u), int(v)
                i1, j1 = min(i0 + 1, 7), min(j0 + 1, 7)
                fu, fv = u - i0, v - j0
                expected[i, j] = (
                    source[i0, j0] * (1 - fu) * (1 - fv)
                    + source[i0, j1] * (1 - fu) * fv
                    + source[i1, j0] * fu * (1 - fv)
                    + source[i1, j1] * fu * fv
                )
        expected = np.rint(expected * 255 / 16)
        assert np.abs(big[k, 4:24, 4:24].astype(int) - expected).max() <= 1


def test_split_is_deterministic_and_mixes_classes():
    (a_x, a_y), (a_tx, a_ty) = digits.load_data()
    (b_x, b_y), (b_tx, b_ty) = digits.load_data()
    assert np.array_equal(a_x, b_x) and np.array_equal(a_y, b_y)
    assert np.array_equal(a_tx, b_tx) and np.array_equal(a_ty, b_ty)
    # The file comes in class order 0..9, 0..9, ...; shuffled, every class shows
    # up in the tutorial's first slices and in both parts.
    assert set(a_y[:128]) == set(range(10))
    assert set(a_ty[:128]) == set(range(10))
    assert np.bincount(a_y, minlength=10).min() >= 50
    assert np.bincount(a_ty, minlength=10).min() >= 80
    # Pinned so that a change of the split is a visible, deliberate change.
    assert a_y[:12].tolist() == [2, 8, 2, 6, 6, 7, 1, 9, 8, 5, 2, 8]


def test_split_gives_the_tutorials_batch_counts():
    # fit(x_train[:1000], validation_split=0.5, batch_size=128): 4 + 4 batches;
    # evaluate/predict(x_test[:1000], batch_size=128): 8 batches.
    (x_train, _), (x_test, _) = digits.load_data()
    n = len(x_train[:1000])
    n_fit = int(n * (1 - 0.5))  # Keras 2 keeps the first rows for training
    assert -(-n_fit // 128) == 4 and -(-(n - n_fit) // 128) == 4
    assert -(-len(x_test[:1000]) // 128) == 8


def test_results_are_fresh_writable_copies():
    (x_train, y_train), _ = digits.load_data()
    x_train[:] = 0
    y_train[:] = 0
    (again, again_y), _ = digits.load_data()
    assert again.any() and again_y.any()


@pytest.mark.parametrize("bad", [0, 7, 16, 32, "28", None, True, 28.5])
def test_bad_image_size_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="image_size must be 28 .* or 8"):
        digits.load_data(image_size=bad)


def test_reachable_as_keras_datasets_after_import_hookfit_as_keras():
    import hookfit as keras

    (x_train, _), _ = keras.datasets.digits.load_data()
    assert x_train.shape == (797, 28, 28)
    assert keras.datasets.mnist.load_data is not None


@pytest.mark.parametrize("image_size", [8, 28])
def test_images_and_labels_stay_paired(image_size):
    # A nearest-class-mean classifier fit on the training part recognises most
    # test digits only if every image kept its own label through the shuffle.
    (x_train, y_train), (x_test, y_test) = digits.load_data(image_size=image_size)
    x_train = x_train.reshape(len(x_train), -1).astype(float)
    x_test = x_test.reshape(len(x_test), -1).astype(float)
    means = np.stack([x_train[y_train == c].mean(axis=0) for c in range(10)])
    distances = ((x_test[:, None, :] - means[None, :, :]) ** 2).sum(axis=2)
    accuracy = (distances.argmin(axis=1) == y_test).mean()
    assert accuracy > 0.85
