"""Weight and activity penalties, as ``keras.regularizers``.

A regularizer is a pair of factors (l1, l2): the penalty of a weight ``w`` is
``l1 * sum(|w|) + l2 * sum(w**2)``. Inside a model the penalties and their
gradients are computed in the compiled core and added to the batch loss, as
Keras adds ``sum(model.losses)`` (the logged ``loss`` includes them). An
activity penalty is divided by the batch size, as tf-keras 2 and Keras 3 do.

The strings ``"l1"``, ``"l2"`` and ``"l1_l2"`` mean factor 0.01 each, as
tf-keras 2's ``l1()``, ``l2()`` and ``l1_l2()`` functions (Keras 3 maps
``"l1_l2"`` to ``L1L2()`` whose factors default to 0).
"""

from __future__ import annotations

import numbers

import numpy as np

from hookfit.unsupported import unsupported


def _factor(value, argument: str, cls: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{cls}: {argument} must be a number; got {type(value).__name__} {value!r}")
    value = float(value)
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"{cls}: {argument} must be a finite number >= 0; got {value!r}")
    return value


class Regularizer:
    """Base class: ``l1`` and ``l2`` factors (either may be 0)."""

    l1 = 0.0
    l2 = 0.0

    def __call__(self, x):
        x = np.asarray(x, dtype=np.float64)
        return np.float32(self.l1 * np.abs(x).sum() + self.l2 * np.square(x).sum())

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}({', '.join(f'{k}={v}' for k, v in self.get_config().items())})"


class L1L2(Regularizer):
    """``l1 * sum(|x|) + l2 * sum(x**2)``."""

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(l1, "l1", "L1L2")
        self.l2 = _factor(l2, "l2", "L1L2")

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(Regularizer):
    """``l1 * sum(|x|)``."""

    def __init__(self, l1=0.01, **kwargs):
        if "l" in kwargs:  # tf-keras's old spelling
            l1 = kwargs.pop("l")
        if kwargs:
            raise TypeError(f"L1 got unexpected argument(s) {sorted(kwargs)}")
        self.l1 = _factor(l1, "l1", "L1")

    def get_config(self):
        return {"l1": self.l1}


class L2(Regularizer):
    """``l2 * sum(x**2)``."""

    def __init__(self, l2=0.01, **kwargs):
        if "l" in kwargs:
            l2 = kwargs.pop("l")
        if kwargs:
            raise TypeError(f"L2 got unexpected argument(s) {sorted(kwargs)}")
        self.l2 = _factor(l2, "l2", "L2")

    def get_config(self):
        return {"l2": self.l2}


def l1(l1=0.01):
    return L1(l1)


def l2(l2=0.01):
    return L2(l2)


def l1_l2(l1=0.01, l2=0.01):  # tf-keras 2's defaults
    return L1L2(l1, l2)


_BY_NAME = {
    "l1": lambda: L1(0.01),
    "l2": lambda: L2(0.01),
    "l1_l2": lambda: L1L2(0.01, 0.01),
    "L1": lambda: L1(0.01),
    "L2": lambda: L2(0.01),
    "L1L2": lambda: L1L2(0.01, 0.01),
}
_SUPPORTED = ("L1", "L2", "L1L2", "'l1'", "'l2'", "'l1_l2'", "None")


def get(identifier):
    """A Regularizer from None, a name, a config dict or a Regularizer."""
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, str):
        if identifier in _BY_NAME:
            return _BY_NAME[identifier]()
        raise unsupported(f"the regularizer {identifier!r}", "regularizers", _SUPPORTED)
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = {"L1": L1, "L2": L2, "L1L2": L1L2}.get(identifier["class_name"])
        if cls is not None:
            return cls(**identifier.get("config", {}))
    # A regularizer object from Keras itself: read its factors.
    kind = type(identifier).__name__
    if kind in ("L1", "L2", "L1L2") and type(identifier).__module__.split(".")[0] in (
        "keras", "tf_keras", "tensorflow"
    ):
        return L1L2(getattr(identifier, "l1", 0.0) or 0.0, getattr(identifier, "l2", 0.0) or 0.0)
    raise unsupported(f"the regularizer {identifier!r}", "regularizers", _SUPPORTED)


def factors(regularizer) -> tuple[float, float]:
    """(l1, l2) of a regularizer or None (0, 0)."""
    if regularizer is None:
        return 0.0, 0.0
    return float(regularizer.l1), float(regularizer.l2)


def serialize(regularizer):
    if regularizer is None:
        return None
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def deserialize(config):
    return get(config)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"keras.regularizers.{name}", "regularizers", _SUPPORTED)
