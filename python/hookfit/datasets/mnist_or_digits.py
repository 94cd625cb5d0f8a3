"""The tutorial's data: MNIST when Keras's ``mnist.npz`` is present, else the embedded digits.

The Keras callback tutorial calls ``tf.keras.datasets.mnist.load_data()``,
which downloads MNIST. hookfit never downloads, so the demo and the example
scripts use this loader: the user's own MNIST file when there is one, and
otherwise the UCI handwritten digits shipped with hookfit, as 28x28 uint8
images, so the tutorial's ``reshape(-1, 784)`` and ``Dense(1, input_dim=784)``
apply unchanged.
"""

from __future__ import annotations

import os

from . import digits, mnist


def load_data(path: str = "mnist.npz"):
    """``(x_train, y_train), (x_test, y_test)`` from MNIST if ``path`` exists, else from the digits.

    Args:
        path: where MNIST would be, as for ``hookfit.datasets.mnist.load_data``.
    """
    if os.path.isfile(mnist.resolve_path(path)):
        return mnist.load_data(path)
    return digits.load_data(image_size=28)


def describe(path: str = "mnist.npz") -> str:
    """One line saying which dataset ``load_data(path)`` returns, and why."""
    mnist_path = mnist.resolve_path(path)
    if os.path.isfile(mnist_path):
        return f"MNIST, read from {mnist_path}"
    return (
        f"UCI handwritten digits (embedded, CC BY 4.0, Alpaydin & Kaynak), "
        f"{digits.N_TRAIN} train / {digits.N_TEST} test images at 28x28; "
        f"put Keras's mnist.npz at {mnist_path} to use MNIST instead"
    )
