"""The few ``keras.backend`` functions that callbacks use.

Hyper-parameters such as ``optimizer.learning_rate`` are floats that also
know where they are stored (they have ``assign``), so that Keras 2 code like
``backend.set_value(model.optimizer.lr, 0.01)`` works unchanged.
"""

from __future__ import annotations

import numpy as np

from hookfit.utils import naming


def get_value(x):
    """The value of ``x`` as NumPy: a bound hyper-parameter gives ``np.float32``
    (as a Keras 2 variable does); anything else is returned unchanged.

    >>> from hookfit import backend, optimizers
    >>> backend.get_value(optimizers.SGD(0.1).lr)
    np.float32(0.1)
    """
    numpy = getattr(x, "numpy", None)
    if callable(numpy):
        return numpy()
    return x


def set_value(x, value) -> None:
    """Assign ``value`` to the variable-like ``x`` (e.g. ``optimizer.lr``)."""
    assign = getattr(x, "assign", None)
    if not callable(assign):
        raise TypeError(
            f"set_value needs an assignable value such as model.optimizer.learning_rate; "
            f"got {type(x).__name__} {x!r}, which cannot be changed in place"
        )
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise ValueError(f"set_value expects a scalar; got an array of shape {value.shape}")
        value = value.reshape(()).item()
    assign(value)


def floatx() -> str:
    return "float32"


def epsilon() -> float:
    return 1e-7


def clear_session() -> None:
    """Restart default layer/model names (``dense``, ``dense_1``, ...)."""
    naming.reset()
