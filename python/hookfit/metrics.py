"""Metric names and objects, resolved to the core's accumulators.

Logs use the name the user gave (``metrics=["mae"]`` gives the key
``mae``), as Keras 2 does. ``"accuracy"``/``"acc"`` (and ``"crossentropy"``/
``"ce"``) are resolved by Keras 2's rule: binary when the model has one
output unit, sparse categorical when the labels are class ids (here: the
loss is ``sparse_categorical_crossentropy``), categorical otherwise.
"""

from __future__ import annotations

from hookfit import losses as _losses
from hookfit._native import core

_CODES = {
    "mean_squared_error": core.METRIC_MSE,
    "mse": core.METRIC_MSE,
    "MSE": core.METRIC_MSE,
    "mean_absolute_error": core.METRIC_MAE,
    "mae": core.METRIC_MAE,
    "MAE": core.METRIC_MAE,
    "binary_crossentropy": core.METRIC_BCE,
    "categorical_crossentropy": core.METRIC_CCE,
    "sparse_categorical_crossentropy": core.METRIC_SCCE,
    "binary_accuracy": core.METRIC_BINARY_ACCURACY,
    "categorical_accuracy": core.METRIC_CATEGORICAL_ACCURACY,
    "sparse_categorical_accuracy": core.METRIC_SPARSE_CATEGORICAL_ACCURACY,
}
# Names whose meaning depends on the output width and the labels.
_ACCURACY = ("accuracy", "acc")
_CROSSENTROPY = ("crossentropy", "ce")

_LOSS_TO_METRIC = {
    core.LOSS_MSE: core.METRIC_MSE,
    core.LOSS_MAE: core.METRIC_MAE,
    core.LOSS_BCE: core.METRIC_BCE,
    core.LOSS_CCE: core.METRIC_CCE,
    core.LOSS_SCCE: core.METRIC_SCCE,
}


class Metric:
    """A built-in metric: a name (the logs key) and the core accumulator."""

    _code: int = -1
    _default_name = ""

    def __init__(self, name=None, dtype=None):
        self.name = name or self._default_name
        self._settings = {}

    def _spec(self) -> dict:
        """The core's spec dict (NUMERICS_SPEC.md)."""
        return {"kind": self._code, "name": self.name, **self._settings}

    def get_config(self) -> dict:
        return {"name": self.name}

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _metric_class(class_name, code, default_name, doc):
    return type(class_name, (Metric,), {"_code": code, "_default_name": default_name, "__doc__": doc})


MeanSquaredError = _metric_class(
    "MeanSquaredError", core.METRIC_MSE, "mean_squared_error", "Running mean of the MSE."
)
MeanAbsoluteError = _metric_class(
    "MeanAbsoluteError", core.METRIC_MAE, "mean_absolute_error", "Running mean of the MAE."
)
BinaryCrossentropy = _metric_class(
    "BinaryCrossentropy", core.METRIC_BCE, "binary_crossentropy", "Running mean of the BCE."
)
CategoricalCrossentropy = _metric_class(
    "CategoricalCrossentropy", core.METRIC_CCE, "categorical_crossentropy", "Running CCE."
)
SparseCategoricalCrossentropy = _metric_class(
    "SparseCategoricalCrossentropy",
    core.METRIC_SCCE,
    "sparse_categorical_crossentropy",
    "Running sparse CCE.",
)
CategoricalAccuracy = _metric_class(
    "CategoricalAccuracy",
    core.METRIC_CATEGORICAL_ACCURACY,
    "categorical_accuracy",
    "Share of rows whose arg-max matches the one-hot label.",
)
SparseCategoricalAccuracy = _metric_class(
    "SparseCategoricalAccuracy",
    core.METRIC_SPARSE_CATEGORICAL_ACCURACY,
    "sparse_categorical_accuracy",
    "Share of rows whose arg-max equals the class id.",
)


class BinaryAccuracy(Metric):
    """Share of outputs on the right side of 0.5."""

    _code = core.METRIC_BINARY_ACCURACY
    _default_name = "binary_accuracy"

    def __init__(self, name=None, dtype=None, threshold=0.5):
        super().__init__(name, dtype)
        self._settings = {"threshold": float(threshold)}


class Accuracy(Metric):
    """Keras's ``"accuracy"``: its kind is decided from the model (see module doc)."""

    _default_name = "accuracy"


def _known_names():
    return sorted(set(_CODES) | set(_ACCURACY) | set(_CROSSENTROPY))


def _check_one(identifier):
    if isinstance(identifier, (str, Metric)):
        if isinstance(identifier, str) and identifier not in _CODES:
            if identifier not in _ACCURACY + _CROSSENTROPY:
                raise ValueError(
                    f"Unknown metric {identifier!r}; known names: {_known_names()}"
                )
        return
    if callable(identifier) and identifier in _losses._FUNCTION_CODES:
        return
    raise TypeError(
        f"metrics must be names (e.g. 'mae', 'accuracy'), hookfit.metrics objects or "
        f"hookfit.losses functions; got {type(identifier).__name__} {identifier!r}"
    )


def normalize(metrics) -> list:
    """Check the ``compile(metrics=...)`` argument; return it as a list."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or callable(metrics):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(
            f"metrics must be a list such as ['mae']; got {type(metrics).__name__} {metrics!r}"
        )
    for m in metrics:
        _check_one(m)
    return list(metrics)


def _by_shape(output_width, loss_code, binary, sparse, categorical):
    if output_width == 1:
        return binary
    if loss_code == core.LOSS_SCCE:
        return sparse
    return categorical


def resolve(metrics, output_width: int, loss_code: int) -> list[tuple[str, int]]:
    """(logs key, core code) for each metric, in compile order."""
    out = []
    for m in metrics:
        if isinstance(m, str):
            name = m
            if m in _ACCURACY:
                code = _by_shape(
                    output_width,
                    loss_code,
                    core.METRIC_BINARY_ACCURACY,
                    core.METRIC_SPARSE_CATEGORICAL_ACCURACY,
                    core.METRIC_CATEGORICAL_ACCURACY,
                )
            elif m in _CROSSENTROPY:
                code = _by_shape(
                    output_width, loss_code, core.METRIC_BCE, core.METRIC_SCCE, core.METRIC_CCE
                )
            else:
                code = _CODES[m]
        elif isinstance(m, Accuracy):
            name = m.name
            code = resolve(["accuracy"], output_width, loss_code)[0][1]
        elif isinstance(m, Metric):
            name, code = m.name, m._code
        else:
            name, code = m.__name__, _LOSS_TO_METRIC[_losses._FUNCTION_CODES[m]]
        out.append((name, code))
    names = [n for n, _ in out]
    dupes = sorted({n for n in names if names.count(n) > 1} | ({"loss"} & set(names)))
    if dupes:
        raise ValueError(
            f"metric names must be unique and not 'loss'; repeated: {dupes}. "
            "Give metric objects distinct names, e.g. MeanAbsoluteError(name='mae_2')"
        )
    return out


def specs(metrics, output_width: int, loss_code: int) -> list[dict]:
    """The core's spec dict of each metric (with its logs key as "name")."""
    out = []
    for m, (name, code) in zip(metrics, resolve(metrics, output_width, loss_code)):
        spec = m._spec() if isinstance(m, Metric) and not isinstance(m, Accuracy) else {}
        spec.update(kind=code, name=name)
        out.append(spec)
    return out
