"""Utilities: reproducible randomness and the Keras-format progress bar."""

from hookfit.utils.progbar import Progbar
from hookfit.utils.rng import set_random_seed

__all__ = ["Progbar", "set_random_seed"]


def __getattr__(name):
    # plotting needs matplotlib (an optional extra): import it only on use.
    if name == "plotting":
        import importlib

        return importlib.import_module("hookfit.utils.plotting")
    raise AttributeError(f"module 'hookfit.utils' has no attribute {name!r}")
