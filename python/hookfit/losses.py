"""Losses, by Keras 2's names: each is computed in the compiled core.

``compile(loss=...)`` accepts a name (``"mean_squared_error"``, ``"mse"``,
...), one of the functions below or a loss object. All take probabilities,
not logits, as Keras's defaults do (``from_logits=False``); put a
``sigmoid``/``softmax`` activation on the last layer for crossentropies.
Reduction is Keras's ``sum_over_batch_size``: ``sum_i w_i * l_i / N``.
"""

from __future__ import annotations

import numpy as np

from hookfit._native import core

# name -> core code; the Keras 2 names and aliases accepted by losses.get.
_CODES = {
    "mean_squared_error": core.LOSS_MSE,
    "mse": core.LOSS_MSE,
    "MSE": core.LOSS_MSE,
    "MeanSquaredError": core.LOSS_MSE,
    "mean_absolute_error": core.LOSS_MAE,
    "mae": core.LOSS_MAE,
    "MAE": core.LOSS_MAE,
    "MeanAbsoluteError": core.LOSS_MAE,
    "binary_crossentropy": core.LOSS_BCE,
    "BinaryCrossentropy": core.LOSS_BCE,
    "categorical_crossentropy": core.LOSS_CCE,
    "CategoricalCrossentropy": core.LOSS_CCE,
    "sparse_categorical_crossentropy": core.LOSS_SCCE,
    "SparseCategoricalCrossentropy": core.LOSS_SCCE,
}

_CANONICAL = {
    core.LOSS_MSE: "mean_squared_error",
    core.LOSS_MAE: "mean_absolute_error",
    core.LOSS_BCE: "binary_crossentropy",
    core.LOSS_CCE: "categorical_crossentropy",
    core.LOSS_SCCE: "sparse_categorical_crossentropy",
}


def _batch_loss(code, y_true, y_pred, sample_weight=None) -> float:
    """The batch loss with Keras's reduction, computed by the core."""
    y_pred = np.ascontiguousarray(y_pred, dtype=np.float32)
    if y_pred.ndim == 1:
        y_pred = y_pred[:, None]
    y_true = np.ascontiguousarray(y_true, dtype=np.float32)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if sample_weight is not None:
        sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32).reshape(-1)
    return core.loss_value_and_grad(code, y_true, y_pred, sample_weight, None)


class Loss:
    """A built-in loss; ``loss(y_true, y_pred, sample_weight=None)`` gives
    the reduced batch value as a float."""

    _code: int = -1

    def __init__(self, name=None, reduction="auto", from_logits=False, **kwargs):
        if from_logits:
            raise ValueError(
                f"{type(self).__name__}(from_logits=True) is not supported: hookfit's "
                "crossentropies take probabilities; give the last Dense layer a "
                "'sigmoid' or 'softmax' activation and keep from_logits=False"
            )
        if reduction not in ("auto", "sum_over_batch_size"):
            raise ValueError(
                f"reduction={reduction!r} is not supported; hookfit uses Keras's default "
                "'sum_over_batch_size' (pass reduction='auto')"
            )
        if kwargs.pop("label_smoothing", 0):
            raise ValueError("label_smoothing is not supported by hookfit; remove it")
        kwargs.pop("axis", None)
        if kwargs:
            raise TypeError(f"{type(self).__name__} got unexpected argument(s) {sorted(kwargs)}")
        self.name = name or _CANONICAL[self._code]

    def __call__(self, y_true, y_pred, sample_weight=None) -> float:
        return _batch_loss(self._code, y_true, y_pred, sample_weight)

    def get_config(self) -> dict:
        return {"name": self.name}


class MeanSquaredError(Loss):
    _code = core.LOSS_MSE


class MeanAbsoluteError(Loss):
    _code = core.LOSS_MAE


class BinaryCrossentropy(Loss):
    _code = core.LOSS_BCE


class CategoricalCrossentropy(Loss):
    _code = core.LOSS_CCE


class SparseCategoricalCrossentropy(Loss):
    _code = core.LOSS_SCCE


def _pair(y_true, y_pred):
    p = np.asarray(y_pred, np.float32)
    t = np.asarray(y_true, np.float32)
    if t.shape != p.shape and t.size == p.size:  # (N,) labels for a (N, 1) output
        t = t.reshape(p.shape)
    return t, p


def mean_squared_error(y_true, y_pred):
    """Per-sample mean of ``(y_pred - y_true)**2`` over the last axis."""
    t, p = _pair(y_true, y_pred)
    return np.mean(np.square(p - t), axis=-1)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of ``|y_pred - y_true|`` over the last axis."""
    t, p = _pair(y_true, y_pred)
    return np.mean(np.abs(p - t), axis=-1)


def _per_sample(code):
    def fn(y_true, y_pred):
        p = np.ascontiguousarray(y_pred, np.float32)
        p = p[:, None] if p.ndim == 1 else p
        t = np.ascontiguousarray(y_true, np.float32)
        t = t.reshape(len(p), -1)
        out = np.empty(len(p), np.float32)
        for i in range(len(p)):
            out[i] = core.loss_value_and_grad(code, t[i : i + 1], p[i : i + 1], None, None)
        return out

    return fn


binary_crossentropy = _per_sample(core.LOSS_BCE)
binary_crossentropy.__name__ = "binary_crossentropy"
binary_crossentropy.__doc__ = "Per-sample binary crossentropy on probabilities."
categorical_crossentropy = _per_sample(core.LOSS_CCE)
categorical_crossentropy.__name__ = "categorical_crossentropy"
categorical_crossentropy.__doc__ = "Per-sample categorical crossentropy on probabilities."
sparse_categorical_crossentropy = _per_sample(core.LOSS_SCCE)
sparse_categorical_crossentropy.__name__ = "sparse_categorical_crossentropy"
sparse_categorical_crossentropy.__doc__ = "Per-sample sparse categorical crossentropy."

# Aliases, as in keras.losses.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error

_FUNCTION_CODES = {
    mean_squared_error: core.LOSS_MSE,
    mean_absolute_error: core.LOSS_MAE,
    binary_crossentropy: core.LOSS_BCE,
    categorical_crossentropy: core.LOSS_CCE,
    sparse_categorical_crossentropy: core.LOSS_SCCE,
}


def resolve(identifier) -> tuple[int, str]:
    """(core code, name) of a loss given by name, function or object."""
    if isinstance(identifier, Loss):
        return identifier._code, identifier.name
    if isinstance(identifier, str):
        code = _CODES.get(identifier)
        if code is None:
            known = sorted(k for k in _CODES if k[0].islower())
            raise ValueError(f"Unknown loss {identifier!r}; known names: {known}")
        return code, identifier
    code = _FUNCTION_CODES.get(identifier) if callable(identifier) else None
    if code is not None:
        return code, identifier.__name__
    if identifier is None:
        raise ValueError("compile() needs a loss, e.g. loss='mean_squared_error'")
    raise TypeError(
        f"loss must be a Keras loss name (e.g. 'mse'), a hookfit.losses function or "
        f"a hookfit.losses.Loss object; got {type(identifier).__name__} {identifier!r}. "
        "Custom Python loss functions are not supported: the loss runs in the compiled core"
    )


def get(identifier):
    """The loss object for a name, function or object."""
    code, name = resolve(identifier)
    if isinstance(identifier, Loss):
        return identifier
    cls = {
        core.LOSS_MSE: MeanSquaredError,
        core.LOSS_MAE: MeanAbsoluteError,
        core.LOSS_BCE: BinaryCrossentropy,
        core.LOSS_CCE: CategoricalCrossentropy,
        core.LOSS_SCCE: SparseCategoricalCrossentropy,
    }[code]
    return cls()
