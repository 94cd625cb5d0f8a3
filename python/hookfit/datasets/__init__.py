"""Datasets for examples and tests: MNIST from Keras's cache file, and the
UCI handwritten digits shipped with hookfit (no download, ever)."""

from . import digits, mnist, mnist_or_digits

__all__ = ["digits", "mnist", "mnist_or_digits"]
