"""The data for the example scripts: the one part that differs from the tutorial.

The tutorial calls ``tf.keras.datasets.mnist.load_data()``, which downloads.
hookfit never downloads: this reads MNIST when Keras's mnist.npz is in
~/.keras/datasets/, and otherwise uses the UCI handwritten digits shipped with
hookfit (as 28x28 images, so the tutorial's code applies unchanged). Which one
is used is said on stderr, so stdout is exactly what the tutorial prints.
"""

import sys

from hookfit.datasets import mnist_or_digits


def load_data():
    print(f"[data] {mnist_or_digits.describe()}", file=sys.stderr)
    return mnist_or_digits.load_data()
