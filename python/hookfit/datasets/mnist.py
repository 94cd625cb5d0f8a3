"""MNIST from the ``mnist.npz`` file Keras keeps in ``~/.keras/datasets/``.

hookfit never downloads: a Keras user already has the file, anyone else can
copy it there (or pass its absolute path). The format is Keras's: an ``.npz``
with the arrays ``x_train``, ``y_train``, ``x_test`` and ``y_test``.
"""

from __future__ import annotations

import os
import zipfile

import numpy as np

_KEYS = ("x_train", "y_train", "x_test", "y_test")
_ORIGIN = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"


def datasets_dir() -> str:
    """The folder Keras caches datasets in: ``$KERAS_HOME/datasets`` or ``~/.keras/datasets``."""
    keras_home = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    return os.path.join(keras_home, "datasets")


def resolve_path(path: str | os.PathLike | None = "mnist.npz") -> str:
    """Where ``load_data(path)`` looks: ``path`` itself if absolute, else inside
    ``datasets_dir()``; ``None`` means ``"mnist.npz"``."""
    if path is None:
        path = "mnist.npz"
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"path must be a file name or path such as 'mnist.npz'; got "
            f"{type(path).__name__} {path!r}"
        )
    return os.path.join(datasets_dir(), os.path.expanduser(os.fspath(path)))


def load_data(path: str | os.PathLike | None = "mnist.npz"):
    """Loads the MNIST dataset, as ``keras.datasets.mnist.load_data`` does, without downloading.

    Args:
        path: the file name inside ``~/.keras/datasets/`` (``$KERAS_HOME/datasets``
            when ``KERAS_HOME`` is set), as in Keras, or an absolute path
            (``str`` or ``pathlib.Path``); ``None`` means ``"mnist.npz"``.

    Returns:
        Tuple of NumPy arrays ``(x_train, y_train), (x_test, y_test)``, as stored
        in the file (for Keras's file: uint8 images (60000, 28, 28) and
        (10000, 28, 28), uint8 labels 0..9).

    Raises:
        FileNotFoundError: if the file is absent; the message says where to put it.
        TypeError: if ``path`` is not a string or path.
        ValueError: if the file is not an ``.npz`` or lacks one of the four arrays,
            or an ``x`` and its ``y`` have different numbers of rows.

    License:
        Yann LeCun and Corinna Cortes hold the copyright of the MNIST dataset,
        a derivative work of the NIST datasets, available under the terms of
        CC BY-SA 3.0 (https://creativecommons.org/licenses/by-sa/3.0/).

    Example:

    >>> (x_train, y_train), (x_test, y_test) = load_data()  # doctest: +SKIP
    >>> x_train.shape  # doctest: +SKIP
    (60000, 28, 28)
    """
    full_path = resolve_path(path)
    if not os.path.isfile(full_path):
        raise FileNotFoundError(
            f"MNIST file not found: {full_path}. hookfit does not download data. "
            f"Copy Keras's mnist.npz (from another machine's ~/.keras/datasets/, "
            f"or {_ORIGIN}) to {full_path}, or pass its absolute path as "
            f"load_data(path=...). For data that needs no file, use "
            f"hookfit.datasets.digits.load_data()."
        )
    try:
        archive = np.load(full_path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(
            f"{full_path} is not a readable .npz archive ({error}); replace it "
            f"with Keras's mnist.npz."
        ) from error
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError(
            f"{full_path} holds a single array, not an .npz archive of "
            f"{list(_KEYS)}; replace it with Keras's mnist.npz."
        )
    with archive:
        missing = [key for key in _KEYS if key not in archive.files]
        if missing:
            raise ValueError(
                f"{full_path} lacks the array(s) {missing}; a Keras mnist.npz "
                f"holds {list(_KEYS)}, this file holds {sorted(archive.files)}."
            )
        x_train, y_train, x_test, y_test = (archive[key] for key in _KEYS)
    for part, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        if len(x) != len(y):
            raise ValueError(
                f"{full_path}: x_{part} has {len(x)} rows but y_{part} has "
                f"{len(y)}; each image needs one label."
            )
    return (x_train, y_train), (x_test, y_test)
