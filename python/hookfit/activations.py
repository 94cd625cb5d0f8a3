"""Activation functions, as ``keras.activations`` (Keras 2 formulas).

Each function computes on NumPy arrays (for eager calls such as
``keras.activations.relu(x)``); inside a model the same activation runs in
the compiled core, found by name through ``resolve``. Only these names are
supported: a custom callable would have no C forward/backward pass.

Where Keras 2 and Keras 3 differ, Keras 2 (tf-keras 2.21) is followed:
``hard_sigmoid`` is ``clip(0.2 * x + 0.5, 0, 1)`` (Keras 3:
``clip(x / 6 + 0.5, 0, 1)``); ``gelu`` is exact (erf), as both default to;
``leaky_relu`` uses Keras 3's ``negative_slope=0.2`` (tf-keras has no such
activation name; its ``LeakyReLU`` layer defaults to ``alpha=0.3``).
"""

from __future__ import annotations

import math

import numpy as np

from hookfit.unsupported import unsupported


def _f32(x):
    return np.asarray(x, dtype=np.float32)


def linear(x):
    return _f32(x)


def relu(x):
    return np.maximum(_f32(x), np.float32(0))


def sigmoid(x):
    x = _f32(x)
    return (1.0 / (1.0 + np.exp(-x))).astype(np.float32)


def tanh(x):
    return np.tanh(_f32(x))


def softmax(x, axis=-1):
    x = _f32(x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)


def elu(x, alpha=1.0):
    x = _f32(x)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0))).astype(np.float32)


_SELU_ALPHA = 1.6732632423543772
_SELU_SCALE = 1.0507009873554805


def selu(x):
    return (_SELU_SCALE * elu(x, _SELU_ALPHA)).astype(np.float32)


def gelu(x, approximate=False):
    x = _f32(x).astype(np.float64)
    if approximate:
        inner = math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)
        return (0.5 * x * (1 + np.tanh(inner))).astype(np.float32)
    from scipy.special import erf

    return (0.5 * x * (1 + erf(x / math.sqrt(2)))).astype(np.float32)


def softplus(x):
    return np.logaddexp(_f32(x), np.float32(0)).astype(np.float32)


def softsign(x):
    x = _f32(x)
    return (x / (1 + np.abs(x))).astype(np.float32)


def swish(x):
    x = _f32(x)
    return (x * sigmoid(x)).astype(np.float32)


silu = swish


def leaky_relu(x, negative_slope=0.2):
    x = _f32(x)
    return np.where(x > 0, x, negative_slope * x).astype(np.float32)


def exponential(x):
    return np.exp(_f32(x))


def hard_sigmoid(x):
    return np.clip(0.2 * _f32(x) + 0.5, 0, 1).astype(np.float32)


# name -> (function, the core's constant for it)
_TABLE = {
    "linear": (linear, "ACT_LINEAR"),
    "relu": (relu, "ACT_RELU"),
    "sigmoid": (sigmoid, "ACT_SIGMOID"),
    "tanh": (tanh, "ACT_TANH"),
    "softmax": (softmax, "ACT_SOFTMAX"),
    "elu": (elu, "ACT_ELU"),
    "selu": (selu, "ACT_SELU"),
    "gelu": (gelu, "ACT_GELU"),
    "softplus": (softplus, "ACT_SOFTPLUS"),
    "softsign": (softsign, "ACT_SOFTSIGN"),
    "swish": (swish, "ACT_SWISH"),
    "silu": (swish, "ACT_SWISH"),
    "leaky_relu": (leaky_relu, "ACT_LEAKY_RELU"),
    "exponential": (exponential, "ACT_EXPONENTIAL"),
    "hard_sigmoid": (hard_sigmoid, "ACT_HARD_SIGMOID"),
}
SUPPORTED = tuple(_TABLE)
_BY_FUNCTION = {id(fn): name for name, (fn, _) in _TABLE.items() if name != "silu"}
# Libraries whose activation functions are recognised by name (their
# ``relu`` is Keras's relu); any other callable is refused.
_KNOWN_MODULES = ("keras", "tf_keras", "tensorflow", "hookfit")


def _refuse(activation):
    raise unsupported(f"the activation {activation!r}", "activations", SUPPORTED)


def canonical_name(activation) -> str:
    """The supported name of ``activation`` (None, a name or a Keras function)."""
    if activation is None:
        return "linear"
    if isinstance(activation, str):
        if activation not in _TABLE:
            _refuse(activation)
        return "swish" if activation == "silu" else activation
    name = _BY_FUNCTION.get(id(activation))
    if name is not None:
        return name
    module = getattr(activation, "__module__", "") or ""
    fn_name = getattr(activation, "__name__", None)
    if callable(activation) and module.split(".")[0] in _KNOWN_MODULES and fn_name in _TABLE:
        return "swish" if fn_name == "silu" else fn_name
    _refuse(activation)


def code(name: str) -> int:
    """The core's code for a canonical activation name."""
    from hookfit._native import core

    return int(getattr(core, _TABLE[name][1]))


def get(identifier):
    """The function for a name (Keras's ``activations.get``)."""
    return _TABLE[canonical_name(identifier)][0]


def serialize(activation) -> str:
    return canonical_name(activation)


def deserialize(name):
    return get(name)


def __getattr__(name):
    if name.startswith("__"):
        raise AttributeError(name)
    _refuse(name)
