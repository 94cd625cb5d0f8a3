"""The UCI handwritten digits, shipped inside hookfit: a real dataset with no download.

The data is the "Optical Recognition of Handwritten Digits" set by
E. Alpaydin and C. Kaynak (1998), UCI Machine Learning Repository,
https://doi.org/10.24432/C50P49, licensed CC BY 4.0. The file
``digits.csv.gz`` is the copy scikit-learn ships of its test part
(``optdigits.tes``: 1797 rows of 64 pixels in 0..16, then the label),
unmodified; see ``NOTICE.md`` next to it.
"""

from __future__ import annotations

import functools
import gzip
from importlib import resources

import numpy as np

# 797 + 1000 = 1797 rows. The split is sized for the Keras callback tutorial,
# which takes ``x_train[:1000]`` and ``x_test[:1000]`` from MNIST:
# - 1000 test rows: evaluate/predict with batch 128 run the tutorial's 8 batches;
# - 797 train rows: fit with validation_split=0.5 and batch 128 runs its
#   4 training and 4 validation batches (398 + 399 rows), as on 1000 MNIST rows.
N_TRAIN = 797
N_TEST = 1000

# The rows of the file come in class order (0, 1, ..., 9, 0, 1, ...), so they
# are shuffled once before the split. RandomState's stream is frozen by NumPy's
# compatibility policy (NEP 19), so the split is the same on every NumPy.
_SPLIT_SEED = 0

_IMAGE_SIZES = (28, 8)


def load_data(image_size: int = 28):
    """Loads the UCI handwritten digits in the shape of Keras's MNIST.

    Args:
        image_size: 28 (default) for MNIST-like 28x28 images: each 8x8 digit is
            scaled from 0..16 to 0..255, resized to 20x20 (bilinear) and
            centred in a 28x28 frame with a 4-pixel margin, as MNIST centres
            its 20x20 digits, so ``x.reshape(-1, 784)`` feeds a
            ``Dense(..., input_dim=784)`` model unchanged. 8 for the original
            8x8 grid, scaled to 0..255.

    Returns:
        Tuple of NumPy arrays ``(x_train, y_train), (x_test, y_test)``:
        ``x`` is uint8 of shape ``(n, image_size, image_size)``, ``y`` is
        uint8 class ids 0..9, with 797 training and 1000 test rows (a fixed
        shuffle, then a fixed split; see ``N_TRAIN``).

    Raises:
        ValueError: if ``image_size`` is neither 28 nor 8.

    License:
        E. Alpaydin and C. Kaynak, "Optical Recognition of Handwritten Digits",
        UCI Machine Learning Repository (1998), https://doi.org/10.24432/C50P49,
        CC BY 4.0 (https://creativecommons.org/licenses/by/4.0/).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()
    >>> x_train.shape, x_test.shape, x_train.dtype
    ((797, 28, 28), (1000, 28, 28), dtype('uint8'))
    """
    if isinstance(image_size, bool) or image_size not in _IMAGE_SIZES:
        raise ValueError(
            f"image_size must be 28 (MNIST-like 28x28 images) or 8 (the original "
            f"8x8 grid), got {image_size!r}."
        )
    pixels, labels = _read_rows()
    if image_size == 28:
        images = _to_mnist_frame(pixels)
    else:
        images = _to_uint8(pixels)
    order = np.random.RandomState(_SPLIT_SEED).permutation(len(labels))
    train, test = order[:N_TRAIN], order[N_TRAIN:]
    return (images[train], labels[train]), (images[test], labels[test])


@functools.lru_cache(maxsize=1)
def _read_rows():
    """The file's rows as (pixels (1797, 8, 8) float64 in 0..16, labels uint8)."""
    source = resources.files(__package__).joinpath("digits.csv.gz")
    with source.open("rb") as raw, gzip.open(raw, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.float64)
    pixels = table[:, :64].reshape(-1, 8, 8)
    labels = table[:, 64].astype(np.uint8)
    # Cached arrays are shared: make them read-only so no caller can alter them
    # (every public result is a fresh copy made by fancy indexing).
    pixels.flags.writeable = False
    labels.flags.writeable = False
    return pixels, labels


def _to_uint8(values):
    """Scale 0..16 to 0..255 and round to uint8."""
    return np.rint(np.asarray(values) * (255.0 / 16.0)).clip(0, 255).astype(np.uint8)


def _to_mnist_frame(pixels):
    """(n, 8, 8) in 0..16 -> (n, 28, 28) uint8: a 20x20 digit centred with a 4-pixel margin."""
    resize = _bilinear_matrix(8, 20)
    digits = np.einsum("ij,njk,lk->nil", resize, pixels, resize)
    framed = np.zeros((len(pixels), 28, 28), dtype=np.uint8)
    framed[:, 4:24, 4:24] = _to_uint8(digits)
    return framed


def _bilinear_matrix(n_in: int, n_out: int):
    """(n_out, n_in) weights of 1-D linear interpolation with pixel centres aligned.

    Output pixel ``i`` samples the input at ``(i + 0.5) * n_in / n_out - 0.5``
    (the half-pixel convention of PIL and OpenCV), clamped to the edge pixels;
    applying it along both axes is a bilinear resize.
    """
    where = (np.arange(n_out) + 0.5) * (n_in / n_out) - 0.5
    where = np.clip(where, 0.0, n_in - 1)
    left = np.floor(where).astype(int)
    right = np.minimum(left + 1, n_in - 1)
    frac = where - left
    weights = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(weights, (rows, left), 1.0 - frac)
    np.add.at(weights, (rows, right), frac)
    return weights
