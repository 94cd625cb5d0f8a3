"""hookfit: Keras-compatible training of dense networks with a C hot path.

Code written for Keras 2 runs after ``import hookfit as keras``:

>>> import hookfit as keras
>>> model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
>>> model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
...               loss="mean_squared_error", metrics=["mean_absolute_error"])
"""

from __future__ import annotations

import importlib

from hookfit import (
    activations, backend, callbacks, initializers, layers, losses, metrics, optimizers,
    regularizers, utils,
)
from hookfit.layers import Input
from hookfit.models import Model, Sequential

__version__ = "0.1.0"

__all__ = [
    "Input",
    "Model",
    "Sequential",
    "activations",
    "backend",
    "callbacks",
    "config",
    "datasets",
    "distribute",
    "initializers",
    "layers",
    "losses",
    "metrics",
    "models",
    "optimizers",
    "regularizers",
    "saving",
    "utils",
]

# Sub-packages imported on first use (they are not needed to train).
_LAZY = ("config", "datasets", "distribute", "saving", "demo")


def __getattr__(name):
    if name in _LAZY:
        module = importlib.import_module(f"hookfit.{name}")
        globals()[name] = module
        return module
    if name.startswith("__"):
        raise AttributeError(f"module 'hookfit' has no attribute {name!r}")
    from hookfit.unsupported import unsupported

    raise unsupported(f"keras.{name}", "names", sorted(__all__))
