"""Utilities: reproducible randomness, data helpers and the Keras-format
progress bar (``keras.utils``)."""

from hookfit.utils.dataset_utils import split_dataset
from hookfit.utils.numerical_utils import normalize, to_categorical
from hookfit.utils.progbar import Progbar
from hookfit.utils.py_dataset import PyDataset, Sequence
from hookfit.utils.rng import set_random_seed

__all__ = [
    "Progbar",
    "PyDataset",
    "Sequence",
    "normalize",
    "set_random_seed",
    "split_dataset",
    "to_categorical",
]


def __getattr__(name):
    # plotting needs matplotlib (an optional extra): import it only on use.
    if name == "plotting":
        import importlib

        return importlib.import_module("hookfit.utils.plotting")
    raise AttributeError(f"module 'hookfit.utils' has no attribute {name!r}")
