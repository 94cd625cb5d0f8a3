"""Metrics with Keras's names, objects and state, accumulated in the compiled core.

Built-in metrics (names, functions and objects) run in C inside the batch
call: each keeps a float32 state block (``(total, count)`` for the means,
``[tp, fp, tn, fn] x thresholds`` for the confusion metrics and AUC, sums
per output for ``R2Score``) that the core updates and reads. As standalone
objects they behave as Keras's: ``update_state(y_true, y_pred,
sample_weight=None)``, ``result()``, ``reset_state()``, their state
variables (``total``/``count``, ``true_positives``, ...) readable.

Logs use the name the user gave (``metrics=["mae"]`` gives the key ``mae``;
an object its ``name``), as Keras 2 does. ``"accuracy"``/``"acc"`` (and
``"crossentropy"``/``"ce"``) are resolved by Keras 2's rule: binary when the
model has one output unit, sparse categorical when the labels are class ids
(here: the loss is ``sparse_categorical_crossentropy``), categorical
otherwise. ``weighted_metrics`` apply the sample weights (Keras 2's weighted
running means); a weighted metric whose name repeats an unweighted one gets
the prefix ``weighted_``.

Custom metrics -- a function ``fn(y_true, y_pred)`` or a ``Metric``
subclass with its own ``update_state``/``result`` -- run in Python on NumPy
arrays once per batch: the slower path (``metrics_loop.MetricsNetwork``
calls ``PythonMetrics.update`` after each batch's native call).
``CompiledMetrics`` is what compile resolves: the core's specs, the custom
ones, the objects behind the logs keys (bound to the core's accumulators),
and the merge of both into the logs. Several thresholds log a vector.
"""

from __future__ import annotations

import re

import numpy as np

from hookfit import losses as _losses
from hookfit.utils.arguments import check_number
from hookfit._native import core

_EPS = 1e-7


def _snake(name: str) -> str:
    """Keras's to_snake_case: "KLDivergence" -> "kl_divergence", "AUC" -> "auc"."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


class _Value(np.float32):
    """A float32 result that also answers ``.numpy()``, like a Keras tensor."""

    def numpy(self):
        return np.float32(self)


class MetricVariable:
    """A metric state variable (``add_weight``): a float32 NumPy array with
    Keras's ``assign``/``assign_add``/``assign_sub``/``numpy``."""

    def __init__(self, name, shape=(), value=None):
        self.name = name
        self._value = np.zeros(shape, np.float32) if value is None else value

    def assign(self, value):
        self._value[...] = np.asarray(value, np.float32)

    def assign_add(self, value):
        self._value[...] += np.asarray(value, np.float32)

    def assign_sub(self, value):
        self._value[...] -= np.asarray(value, np.float32)

    def numpy(self):
        return self._value.copy()

    @property
    def shape(self):
        return self._value.shape

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self._value, dtype=dtype)

    def __float__(self):
        return float(self._value)

    def __repr__(self):
        return f"<MetricVariable {self.name} {self._value!r}>"


class Metric:
    """Base of every metric. A subclass may implement ``update_state``,
    ``result`` and ``reset_state`` in Python (NumPy), with state from
    ``add_weight``/``add_variable``; ``reset_state`` zeroes every such
    variable (so ``super().reset_state()`` works)."""

    _kind: int | None = None  # the core's METRIC_* for built-ins

    def __init__(self, name=None, dtype=None):
        self.name = name or _snake(type(self).__name__)
        self.dtype = "float32"
        self._variables = []

    # -- state
    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, **kwargs):
        if initializer not in ("zeros", None):
            value = np.full(shape, float(initializer) if not isinstance(initializer, str) else 0.0, np.float32)
        else:
            value = np.zeros(shape, np.float32)
        var = MetricVariable(name or f"variable_{len(self._variables)}", shape, value)
        self._variables.append(var)
        return var

    add_variable = add_weight

    @property
    def variables(self):
        return list(self._variables)

    def reset_state(self):
        for v in self._variables:
            v._value[...] = 0.0

    def reset_states(self):  # Keras 2 spelling
        self.reset_state()

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError(f"{type(self).__name__} must implement update_state()")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must implement result()")

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"{type(self).__name__}(name={self.name!r})"


def _as_2d(a, sparse=False):
    a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"metric inputs must hold real numbers; got dtype {a.dtype}")
    a = np.ascontiguousarray(a, dtype=np.float32)
    if sparse:
        return a.reshape(-1, 1)
    return a[:, None] if a.ndim == 1 else a


class CoreMetric(Metric):
    """A built-in metric computed by the core: its state is one float32 block.

    Compiled into a model, the object is bound to its block of the core's
    accumulators (``_bind``): ``result()`` and the state variables read that
    block, ``update_state``/``reset_state`` write it, so the compiled object
    IS the one the fit updates (as in Keras), at no per-batch cost."""

    _sparse = False  # y_true holds one class id per row
    _names: tuple[str, ...] = ()  # state variable names, for the views below

    def __init__(self, name=None, dtype=None, **settings):
        super().__init__(name, dtype)
        self._settings = settings
        self._own = None
        self._own_k = None
        self._bound = None  # (network, offset, floats) once compiled into a model

    def _spec(self, weighted=False) -> dict:
        """The core's spec dict (NUMERICS_SPEC.md)."""
        return {"kind": self._kind, "name": self.name, "weighted": weighted, **self._settings}

    # -- where the state lives: its own block, or the compiled core's
    def _bind(self, network, offset: int) -> None:
        k = network.output_dim
        self._bound = (network, offset, core.metric_state_floats(self._spec(), k))

    def _unbind(self) -> None:
        """Keep the last values (a recompile moves the core's blocks)."""
        if self._bound is not None:
            state, k = self._state, self._k
            self._bound = None
            self._own, self._own_k = state, k

    @property
    def _state(self):
        if self._bound is None:
            return self._own
        network, offset, n = self._bound
        return network.metric_state()[offset : offset + n]

    @property
    def _k(self):
        return self._own_k if self._bound is None else self._bound[0].output_dim

    def _write_bound(self, block) -> None:
        network, offset, n = self._bound
        full = network.metric_state()
        full[offset : offset + n] = block
        network.set_metric_state(full)

    def _ensure_state(self, k):
        if self._bound is not None:
            if k != self._k:
                raise ValueError(f"{self.name}: predictions have {k} columns; the compiled model "
                                 f"gives {self._k}")
            return
        if self._own is None or self._own_k != k:
            if self._own is not None and np.any(self._own):
                raise ValueError(
                    f"{self.name}: predictions now have {k} columns, earlier {self._own_k}; "
                    "call reset_state() first"
                )
            self._own = np.zeros(core.metric_state_floats(self._spec(), k), np.float32)
            self._own_k = k

    def update_state(self, y_true, y_pred, sample_weight=None):
        p = _as_2d(y_pred)
        t = _as_2d(y_true, self._sparse)
        if not self._sparse and t.shape != p.shape and t.size == p.size:
            t = t.reshape(p.shape)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, np.float32).reshape(-1)
            if sample_weight.size == 1 and p.shape[0] != 1:
                sample_weight = np.full(p.shape[0], sample_weight[0], np.float32)
        self._ensure_state(p.shape[1])
        state = self._state if self._bound is not None else self._own
        core.metric_accumulate(self._spec(weighted=True), t, p, sample_weight, state)
        if self._bound is not None:
            self._write_bound(state)

    def result(self):
        state = self._state
        if state is None:
            return _Value(0.0)
        return _Value(core.metric_result(self._spec(), state, self._k))

    def reset_state(self):
        if self._bound is not None:
            self._write_bound(0.0)
        elif self._own is not None:
            self._own[...] = 0.0

    @property
    def variables(self):
        return [MetricVariable(n, value=v) for n, v in zip(self._names, self._views())]

    def _views(self):
        return [] if self._state is None else [self._state]

    def get_config(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, **self._settings}


class _MeanCore(CoreMetric):
    """A running mean kept as (total, count)."""

    _names = ("total", "count")

    def _as_loss_mean(self):
        """This object as the running mean of its loss_kind (a loss function used as a metric)."""
        self._kind = core.METRIC_LOSS
        return self

    def _views(self):
        if self._state is None:
            return [np.zeros((), np.float32), np.zeros((), np.float32)]
        return [self._state[0:1].reshape(()), self._state[1:2].reshape(())]

    @property
    def total(self):
        return MetricVariable("total", value=self._views()[0])

    @property
    def count(self):
        return MetricVariable("count", value=self._views()[1])


def _mean_class(class_name, kind, default_name, doc, sparse=False, **fixed):
    def __init__(self, name=default_name, dtype=None):
        _MeanCore.__init__(self, name, dtype, **fixed)

    return type(class_name, (_MeanCore,), {"_kind": kind, "_sparse": sparse, "__init__": __init__,
                                           "__doc__": doc})


def _loss_metric(class_name, loss_kind, default_name, doc):
    return _mean_class(class_name, core.METRIC_LOSS, default_name, doc, loss_kind=loss_kind)


MeanSquaredError = _mean_class("MeanSquaredError", core.METRIC_MSE, "mean_squared_error", "Running mean of the MSE.")
MeanAbsoluteError = _mean_class("MeanAbsoluteError", core.METRIC_MAE, "mean_absolute_error", "Running mean of the MAE.")
CategoricalAccuracy = _mean_class(
    "CategoricalAccuracy", core.METRIC_CATEGORICAL_ACCURACY, "categorical_accuracy",
    "Share of rows whose arg-max matches the one-hot label.")
SparseCategoricalAccuracy = _mean_class(
    "SparseCategoricalAccuracy", core.METRIC_SPARSE_CATEGORICAL_ACCURACY, "sparse_categorical_accuracy",
    "Share of rows whose arg-max equals the class id.", sparse=True)
CosineSimilarity = _mean_class("CosineSimilarity", core.METRIC_COSINE_SIMILARITY, "cosine_similarity",
                               "Running mean of the cosine similarity of each row.")
MeanAbsolutePercentageError = _loss_metric("MeanAbsolutePercentageError", core.LOSS_MAPE,
                                           "mean_absolute_percentage_error", "Running MAPE.")
MeanSquaredLogarithmicError = _loss_metric("MeanSquaredLogarithmicError", core.LOSS_MSLE,
                                           "mean_squared_logarithmic_error", "Running MSLE.")
LogCoshError = _loss_metric("LogCoshError", core.LOSS_LOG_COSH, "logcosh", "Running log-cosh error.")
Hinge = _loss_metric("Hinge", core.LOSS_HINGE, "hinge", "Running hinge loss.")
SquaredHinge = _loss_metric("SquaredHinge", core.LOSS_SQUARED_HINGE, "squared_hinge", "Running squared hinge.")
CategoricalHinge = _loss_metric("CategoricalHinge", core.LOSS_CATEGORICAL_HINGE, "categorical_hinge",
                                "Running categorical hinge.")
KLDivergence = _loss_metric("KLDivergence", core.LOSS_KLD, "kullback_leibler_divergence",
                            "Running KL divergence (Keras 2's name).")
Poisson = _loss_metric("Poisson", core.LOSS_POISSON, "poisson", "Running Poisson loss.")


class RootMeanSquaredError(_MeanCore):
    """sqrt of the running mean squared error."""

    _kind = core.METRIC_ROOT_MEAN_SQUARED_ERROR

    def __init__(self, name="root_mean_squared_error", dtype=None):
        super().__init__(name, dtype)


class BinaryAccuracy(_MeanCore):
    """Share of outputs on the right side of ``threshold``."""

    _kind = core.METRIC_BINARY_ACCURACY

    def __init__(self, name="binary_accuracy", dtype=None, threshold=0.5):
        super().__init__(name, dtype, threshold=float(threshold))


class TopKCategoricalAccuracy(_MeanCore):
    """Share of rows whose one-hot class is among the k largest predictions."""

    _kind = core.METRIC_TOP_K_CATEGORICAL_ACCURACY

    def __init__(self, k=5, name="top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, top_k=_count(type(self).__name__, "k", k, 1, _MAX_K))


class SparseTopKCategoricalAccuracy(_MeanCore):
    """Share of rows whose class id is among the k largest predictions."""

    _kind = core.METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY
    _sparse = True

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy", dtype=None):
        super().__init__(name, dtype, top_k=_count(type(self).__name__, "k", k, 1, _MAX_K))


class BinaryCrossentropy(_MeanCore):
    _kind = core.METRIC_BCE

    def __init__(self, name="binary_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0):
        super().__init__(name, dtype, from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class CategoricalCrossentropy(_MeanCore):
    _kind = core.METRIC_CCE

    def __init__(self, name="categorical_crossentropy", dtype=None, from_logits=False, label_smoothing=0.0, axis=-1):
        super().__init__(name, dtype, from_logits=bool(from_logits), label_smoothing=float(label_smoothing))


class SparseCategoricalCrossentropy(_MeanCore):
    _kind = core.METRIC_SCCE
    _sparse = True

    def __init__(self, name="sparse_categorical_crossentropy", dtype=None, from_logits=False, axis=-1):
        super().__init__(name, dtype, from_logits=bool(from_logits))



# -- confusion-matrix metrics ---------------------------------------------------


# Bounds that keep a metric's state small (Keras's default is 200 thresholds);
# a typo such as num_thresholds=2**31 would otherwise allocate gigabytes.
_MAX_THRESHOLDS = 1_000_000
_MAX_K = 2**31 - 1


def _count(owner, name, value, low, high):
    """``value`` as an int in [low, high], or a clear error."""
    check_number(owner, name, value, integer=True)
    if not low <= value <= high:
        raise ValueError(f"{owner}: {name} must be an integer in [{low}, {high}]; got {value!r}.")
    return int(value)


def _top_k(top_k):
    return 0 if top_k is None else _count("Precision/Recall", "top_k", top_k, 1, _MAX_K)


def _thresholds(thresholds, default):
    if thresholds is None:
        return [float(default)]
    values = [float(thresholds)] if np.isscalar(thresholds) else [float(t) for t in thresholds]
    if not values or not all(0.0 <= t <= 1.0 for t in values):
        raise ValueError(f"thresholds must lie in [0, 1]; got {thresholds!r}")
    return values


class _ConfusionCore(CoreMetric):
    _names = ("true_positives", "false_positives", "true_negatives", "false_negatives")

    def _block(self, i):
        t = len(self._settings["thresholds"])
        if self._state is None:
            return np.zeros(t, np.float32)
        return self._state[i * t : (i + 1) * t]

    def _views(self):
        return [self._block(i) for i in range(4)]

    true_positives = property(lambda self: MetricVariable("true_positives", value=self._block(0)))
    false_positives = property(lambda self: MetricVariable("false_positives", value=self._block(1)))
    true_negatives = property(lambda self: MetricVariable("true_negatives", value=self._block(2)))
    false_negatives = property(lambda self: MetricVariable("false_negatives", value=self._block(3)))

    @property
    def thresholds(self):
        return list(self._settings["thresholds"])

    def _vector(self):
        return len(self._settings["thresholds"]) > 1 and self._kind <= core.METRIC_RECALL

    def result(self):
        if not self._vector():
            return super().result()
        tp, fp, tn, fn = (b.astype(np.float32) for b in self._views())
        with np.errstate(divide="ignore", invalid="ignore"):
            out = {
                core.METRIC_TRUE_POSITIVES: tp, core.METRIC_FALSE_POSITIVES: fp,
                core.METRIC_TRUE_NEGATIVES: tn, core.METRIC_FALSE_NEGATIVES: fn,
                core.METRIC_PRECISION: np.where(tp + fp > 0, tp / (tp + fp), 0.0),
                core.METRIC_RECALL: np.where(tp + fn > 0, tp / (tp + fn), 0.0),
            }[self._kind]
        return np.asarray(out, np.float32)


def _counter(class_name, kind, default_name):
    def __init__(self, thresholds=None, name=default_name, dtype=None):
        _ConfusionCore.__init__(self, name, dtype, thresholds=_thresholds(thresholds, 0.5))

    return type(class_name, (_ConfusionCore,), {"_kind": kind, "__init__": __init__,
                                                "__doc__": f"Keras's {class_name} (prediction > threshold)."})


TruePositives = _counter("TruePositives", core.METRIC_TRUE_POSITIVES, "true_positives")
FalsePositives = _counter("FalsePositives", core.METRIC_FALSE_POSITIVES, "false_positives")
TrueNegatives = _counter("TrueNegatives", core.METRIC_TRUE_NEGATIVES, "true_negatives")
FalseNegatives = _counter("FalseNegatives", core.METRIC_FALSE_NEGATIVES, "false_negatives")


class Precision(_ConfusionCore):
    """tp / (tp + fp) at each threshold (0.5 by default; with top_k, every
    kept prediction counts as positive)."""

    _kind = core.METRIC_PRECISION

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="precision", dtype=None):
        default = 0.5 if top_k is None else -1e10  # Keras's NEG_INF with top_k
        super().__init__(name, dtype, thresholds=_thresholds(thresholds, 0.5) if thresholds is not None or top_k is None
                         else [default], top_k=_top_k(top_k), class_id=class_id)


class Recall(_ConfusionCore):
    """tp / (tp + fn) at each threshold."""

    _kind = core.METRIC_RECALL

    def __init__(self, thresholds=None, top_k=None, class_id=None, name="recall", dtype=None):
        default = 0.5 if top_k is None else -1e10
        super().__init__(name, dtype, thresholds=_thresholds(thresholds, 0.5) if thresholds is not None or top_k is None
                         else [default], top_k=_top_k(top_k), class_id=class_id)


def _even_thresholds(num_thresholds, ends):
    n = _count("AUC", "num_thresholds", num_thresholds, 2, _MAX_THRESHOLDS)
    inner = [(i + 1) * 1.0 / (n - 1) for i in range(n - 2)]
    return [ends[0]] + inner + [ends[1]]


class AUC(_ConfusionCore):
    """Area under the ROC or PR curve from confusion counts at
    ``num_thresholds`` thresholds, with Keras's Riemann sums (PR
    interpolation: Davis & Goadrich)."""

    _kind = core.METRIC_AUC

    def __init__(self, num_thresholds=200, curve="ROC", summation_method="interpolation", name="auc",
                 dtype=None, thresholds=None, multi_label=False, num_labels=None, label_weights=None,
                 from_logits=False):
        if multi_label or label_weights is not None:
            raise ValueError("AUC(multi_label=True / label_weights) is not supported by hookfit; "
                             "it computes one curve over all outputs (multi_label=False)")
        curves = {"ROC": 0, "PR": 1}
        sums = {"interpolation": 0, "minoring": 1, "majoring": 2}
        if str(curve).upper() not in curves:
            raise ValueError(f"curve must be 'ROC' or 'PR'; got {curve!r}")
        if str(summation_method).lower() not in sums:
            raise ValueError(f"summation_method must be one of {list(sums)}; got {summation_method!r}")
        if thresholds is not None:
            inner = sorted(_thresholds(thresholds, 0.5))
            values = [0.0 - _EPS] + inner + [1.0 + _EPS]
        else:
            values = _even_thresholds(num_thresholds, (0.0 - _EPS, 1.0 + _EPS))
        self.num_thresholds = len(values)
        self.curve, self.summation_method = str(curve).upper(), str(summation_method).lower()
        super().__init__(name, dtype, thresholds=values, curve=curves[self.curve],
                         summation=sums[self.summation_method], from_logits=bool(from_logits))

    def get_config(self):
        return {"name": self.name, "num_thresholds": self.num_thresholds, "curve": self.curve,
                "summation_method": self.summation_method, "from_logits": self._settings["from_logits"]}


class _AtTarget(_ConfusionCore):
    """The best of one rate among thresholds whose other rate reaches the target."""

    _target_name = ""

    def __init__(self, target, num_thresholds=200, class_id=None, name=None, dtype=None):
        if not 0.0 <= float(target) <= 1.0:
            raise ValueError(f"{self._target_name} must be in [0, 1]; got {target}")
        n = _count(type(self).__name__, "num_thresholds", num_thresholds, 1, _MAX_THRESHOLDS)
        values = [0.5] if n == 1 else _even_thresholds(n, (0.0, 1.0))
        super().__init__(name or _snake(type(self).__name__), dtype, thresholds=values,
                         target=float(target), class_id=class_id)


class PrecisionAtRecall(_AtTarget):
    """The best precision among thresholds whose recall is >= ``recall``."""

    _kind, _target_name = core.METRIC_PRECISION_AT_RECALL, "recall"

    def __init__(self, recall, num_thresholds=200, class_id=None, name="precision_at_recall", dtype=None):
        super().__init__(recall, num_thresholds, class_id, name, dtype)


class RecallAtPrecision(_AtTarget):
    """The best recall among thresholds whose precision is >= ``precision``."""

    _kind, _target_name = core.METRIC_RECALL_AT_PRECISION, "precision"

    def __init__(self, precision, num_thresholds=200, class_id=None, name="recall_at_precision", dtype=None):
        super().__init__(precision, num_thresholds, class_id, name, dtype)


class R2Score(CoreMetric):
    """Coefficient of determination per output, averaged (``"uniform_average"``
    or ``"variance_weighted_average"``), adjusted when ``num_regressors`` > 0."""

    _kind = core.METRIC_R2_SCORE
    _names = ("sum", "squared_sum", "total_mse", "count", "num_samples")

    def __init__(self, class_aggregation="uniform_average", num_regressors=0, name="r2_score", dtype=None):
        aggregations = {"uniform_average": 0, "variance_weighted_average": 1}
        if class_aggregation not in aggregations:
            raise ValueError(
                f"class_aggregation must be one of {list(aggregations)} (None, per-output scores, "
                f"is not supported); got {class_aggregation!r}")
        if int(num_regressors) < 0:
            raise ValueError(f"num_regressors must be >= 0; got {num_regressors}")
        super().__init__(name, dtype, aggregation=aggregations[class_aggregation],
                         num_regressors=int(num_regressors))

    def _views(self):
        if self._state is None:
            return []
        k = self._k
        return [self._state[i * k : (i + 1) * k] for i in range(4)] + [self._state[4 * k :]]


# -- Python-side metrics: Mean, Sum, function wrappers ------------------------------


class Mean(Metric):
    """The weighted running mean of the values given to ``update_state``."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")
        self.count = self.add_weight("count")

    def update_state(self, values, sample_weight=None):
        v = np.asarray(values, np.float32)
        if sample_weight is None:
            self.total.assign_add(np.float32(v.sum(dtype=np.float32)))
            self.count.assign_add(np.float32(v.size))
            return
        w = np.broadcast_to(np.asarray(sample_weight, np.float32).reshape(
            np.shape(sample_weight) + (1,) * (v.ndim - np.ndim(sample_weight))), v.shape)
        self.total.assign_add(np.float32((v * w).sum(dtype=np.float32)))
        self.count.assign_add(np.float32(w.sum(dtype=np.float32)))

    def result(self):
        c = self.count._value
        return _Value(self.total._value / c if c != 0 else 0.0)


class Sum(Metric):
    """The running (weighted) sum of the values given to ``update_state``."""

    def __init__(self, name="sum", dtype=None):
        super().__init__(name, dtype)
        self.total = self.add_weight("total")

    def update_state(self, values, sample_weight=None):
        v = np.asarray(values, np.float32)
        if sample_weight is not None:
            v = v * np.asarray(sample_weight, np.float32).reshape(
                np.shape(sample_weight) + (1,) * (v.ndim - np.ndim(sample_weight)))
        self.total.assign_add(np.float32(v.sum(dtype=np.float32)))

    def result(self):
        return _Value(self.total._value)


class MeanMetricWrapper(Mean):
    """The running mean of ``fn(y_true, y_pred)`` per sample (Python path)."""

    def __init__(self, fn, name=None, dtype=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", "metric"), dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true, y_pred, sample_weight=None):
        values = np.asarray(self._fn(y_true, y_pred, **self._fn_kwargs), np.float32)
        super().update_state(values, sample_weight)


def accuracy(y_true, y_pred):
    """Keras's ``metrics.accuracy``: per row, the share of entries where
    ``y_pred`` equals ``y_true`` exactly (not the string "accuracy", which
    picks binary/categorical accuracy from the model)."""
    t, p = _as_2d(y_true), _as_2d(y_pred)
    if t.shape != p.shape:
        raise ValueError(f"accuracy: y_true has shape {t.shape} but y_pred {p.shape}; they must match")
    return (t == p).mean(axis=-1, dtype=np.float32)


class Accuracy(MeanMetricWrapper):
    """Keras's ``metrics.Accuracy``: how often predictions equal the labels
    exactly (useful for integer-valued outputs; runs on the Python path)."""

    def __init__(self, name="accuracy", dtype=None):
        super().__init__(accuracy, name, dtype)


class PythonMetrics:
    """The custom metrics of a compiled model, run in Python once per batch
    (the slower path; built-in metrics run in C). The training loop calls
    ``reset()`` where Keras resets metrics, ``update(y_true, y_pred,
    sample_weight)`` after each batch with that batch's arrays (y_pred made
    with the weights before the update), and reads ``results()`` into the
    logs."""

    def __init__(self, entries):
        self._entries = list(entries)  # (name, Metric, weighted)

    def __bool__(self):
        return bool(self._entries)

    @property
    def names(self):
        return [n for n, _, _ in self._entries]

    def reset(self):
        for _, m, _ in self._entries:
            m.reset_state()

    def update(self, y_true, y_pred, sample_weight=None):
        for _, m, weighted in self._entries:
            m.update_state(y_true, y_pred, sample_weight=sample_weight if weighted else None)

    def results(self) -> dict:
        return {n: log_value(m.result()) for n, m, _ in self._entries}


def log_value(result):
    """A metric result as a logs value: a float, or (several thresholds) a
    float32 NumPy array, as tf-keras logs a vector-valued metric."""
    a = np.asarray(result, np.float32)
    return float(a) if a.size == 1 else a.reshape(-1)


# -- functions (keras.metrics.*) -------------------------------------------------


def _per_sample(spec, y_true, y_pred, sparse=False):
    p = _as_2d(y_pred)
    t = _as_2d(y_true, sparse)
    if not sparse and t.shape != p.shape and t.size == p.size:
        t = t.reshape(p.shape)
    out = np.empty(len(p), np.float32)
    state = np.zeros(core.metric_state_floats(spec, p.shape[1]), np.float32)
    for i in range(len(p)):  # the per-sample values of the core's own formula
        state[...] = 0.0
        core.metric_accumulate(spec, t[i : i + 1], p[i : i + 1], None, state)
        out[i] = core.metric_result(spec, state, p.shape[1])
    return out


def binary_accuracy(y_true, y_pred, threshold=0.5):
    return _per_sample({"kind": core.METRIC_BINARY_ACCURACY, "threshold": threshold}, y_true, y_pred)


def categorical_accuracy(y_true, y_pred):
    return _per_sample({"kind": core.METRIC_CATEGORICAL_ACCURACY}, y_true, y_pred)


def sparse_categorical_accuracy(y_true, y_pred):
    return _per_sample({"kind": core.METRIC_SPARSE_CATEGORICAL_ACCURACY}, y_true, y_pred, sparse=True)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    return _per_sample({"kind": core.METRIC_TOP_K_CATEGORICAL_ACCURACY, "top_k": k}, y_true, y_pred)


def sparse_top_k_categorical_accuracy(y_true, y_pred, k=5):
    return _per_sample({"kind": core.METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY, "top_k": k}, y_true, y_pred,
                       sparse=True)


# name -> (factory of the object, or None for "accuracy"-like names)
_CLASSES = {
    cls.__name__: cls
    for cls in (MeanSquaredError, MeanAbsoluteError, CategoricalAccuracy, SparseCategoricalAccuracy,
                CosineSimilarity, MeanAbsolutePercentageError, MeanSquaredLogarithmicError, LogCoshError,
                Hinge, SquaredHinge, CategoricalHinge, KLDivergence, Poisson, RootMeanSquaredError,
                BinaryAccuracy, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
                TruePositives, FalsePositives, TrueNegatives, FalseNegatives, Precision, Recall, AUC,
                R2Score)
}
# Keras 2's metric function names and aliases (the logs key is the string given).
_FUNCTION_NAMES = {
    "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError,
    "binary_crossentropy": BinaryCrossentropy, "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_accuracy": BinaryAccuracy, "categorical_accuracy": CategoricalAccuracy,
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "top_k_categorical_accuracy": TopKCategoricalAccuracy,
    "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
    "cosine_similarity": CosineSimilarity, "logcosh": LogCoshError, "log_cosh": LogCoshError,
    "hinge": Hinge, "squared_hinge": SquaredHinge, "categorical_hinge": CategoricalHinge,
    "kullback_leibler_divergence": KLDivergence, "kl_divergence": KLDivergence, "kld": KLDivergence,
    "KLD": KLDivergence, "poisson": Poisson,
}
# Keras 3 also accepts each class's snake_case name ("auc", "precision", ...).
_SNAKE = {_snake(name): cls for name, cls in _CLASSES.items()}
_ACCURACY = ("accuracy", "acc")
_CROSSENTROPY = ("crossentropy", "ce")
_FUNCTIONS = {
    binary_accuracy: BinaryAccuracy, categorical_accuracy: CategoricalAccuracy,
    sparse_categorical_accuracy: SparseCategoricalAccuracy,
    top_k_categorical_accuracy: TopKCategoricalAccuracy,
    sparse_top_k_categorical_accuracy: SparseTopKCategoricalAccuracy,
}
for _fn, _cls in _losses._FUNCTIONS.items():
    if _cls.__name__ in _CLASSES:
        _FUNCTIONS[_fn] = _CLASSES[_cls.__name__]


def _known_names():
    return sorted(set(_FUNCTION_NAMES) | set(_CLASSES) | set(_SNAKE) | set(_ACCURACY) | set(_CROSSENTROPY))


def get(identifier):
    """A metric object for a name, function or object (functions that are
    not built in are wrapped to run in Python)."""
    if isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier in _FUNCTION_NAMES:
            return _FUNCTION_NAMES[identifier](name=identifier)
        cls = _CLASSES.get(identifier) or _SNAKE.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown metric {identifier!r}; known names: {_known_names()}")
        return cls()
    if callable(identifier):
        cls = _FUNCTIONS.get(identifier)
        if cls is not None:
            return cls(name=identifier.__name__)
        if identifier in _losses._FUNCTIONS:  # a loss function as a metric: its running mean in C
            return _MeanCore(identifier.__name__, None,
                             loss_kind=_losses._FUNCTIONS[identifier]._kind)._as_loss_mean()
        return MeanMetricWrapper(identifier)
    raise TypeError(
        f"metrics must be names (e.g. 'mae', 'accuracy'), hookfit.metrics objects or "
        f"functions fn(y_true, y_pred); got {type(identifier).__name__} {identifier!r}"
    )


def _check_one(identifier):
    if isinstance(identifier, str) and identifier in _ACCURACY + _CROSSENTROPY:
        return
    get(identifier)


def normalize(metrics) -> list:
    """Check a ``compile(metrics=...)`` argument; return it as a list."""
    if metrics is None:
        return []
    if isinstance(metrics, (str, Metric)) or callable(metrics):
        metrics = [metrics]
    if isinstance(metrics, dict):
        raise TypeError("metrics as a dict (per output) is not supported: hookfit models have one output")
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


def _resolve_object(m, output_width, loss_code):
    """(logs key, metric object) for one compile entry."""
    if isinstance(m, str) and m in _ACCURACY:
        cls = _by_shape(output_width, loss_code, BinaryAccuracy, SparseCategoricalAccuracy, CategoricalAccuracy)
        return m, cls(name=m)
    if isinstance(m, str) and m in _CROSSENTROPY:
        cls = _by_shape(output_width, loss_code, BinaryCrossentropy, SparseCategoricalCrossentropy,
                        CategoricalCrossentropy)
        return m, cls(name=m)
    obj = get(m)
    return obj.name, obj


def resolve_all(metrics, weighted_metrics, output_width: int, loss_code: int):
    """(logs key, metric object, weighted) of each compiled metric in logs
    order (metrics, then weighted_metrics). Raises on repeated names, as
    Keras 2 does."""
    entries = []
    seen = set()
    for weighted, group in ((False, metrics), (True, weighted_metrics)):
        for m in group:
            name, obj = _resolve_object(m, output_width, loss_code)
            if weighted and name in seen:
                name = "weighted_" + name
            if name in seen or name == "loss":
                raise ValueError(
                    f"metric names must be unique and not 'loss'; repeated: {name!r}. "
                    "Give metric objects distinct names, e.g. MeanAbsoluteError(name='mae_2')"
                )
            seen.add(name)
            entries.append((name, obj, weighted))
    return entries


class LossTracker(_MeanCore):
    """Keras 2's ``Mean(name='loss')`` in ``model.metrics``: the running loss,
    read from the core's first block."""

    _kind = core.METRIC_MSE  # any (total, count) kind: only its size is used

    def __init__(self, name="loss", dtype=None):
        super().__init__(name, dtype)

    def result(self):
        total, count = (float(v) for v in self._views())
        return _Value(total / count if count != 0 else 0.0)

    def update_state(self, values, sample_weight=None):
        raise TypeError("the loss tracker is updated by the training loop only")


class CompiledMetrics:
    """The compiled metrics of a model, in logs order (Keras 2: metrics in
    compile order, then weighted_metrics).

    Attributes:
        names: the logs keys after ``loss``.
        specs: the core's spec dicts of the built-in ones (run in C).
        python: ``PythonMetrics`` of the custom ones (run in Python per batch).
        objects: the metric object behind each name (``model.metrics``).
        vector: whether some built-in one logs a vector (several thresholds).
    """

    def __init__(self, entries):
        self.names = [name for name, _, _ in entries]
        self.objects = [obj for _, obj, _ in entries]
        self.specs, python, self._slots = [], [], []
        self.vector = False
        for name, obj, weighted in entries:
            if isinstance(obj, CoreMetric):
                spec = obj._spec(weighted)
                spec["name"] = name
                self._slots.append((True, len(self.specs)))
                self.specs.append(spec)
                self.vector |= isinstance(obj, _ConfusionCore) and obj._vector()
            else:
                self._slots.append((False, name))
                python.append((name, obj, weighted))
        self.python = PythonMetrics(python)
        self.loss_tracker = LossTracker()

    @property
    def needs_python(self) -> bool:
        """Whether the logs need more than the core's one number per metric."""
        return bool(self.python) or self.vector

    def bind(self, network) -> None:
        """Point the built-in objects (and the loss tracker) at the core's
        accumulators of ``network``, configured with ``self.specs``."""
        k = network.output_dim
        self.loss_tracker._bind(network, 0)
        offset = 2
        for obj in self.objects:
            if isinstance(obj, CoreMetric):
                obj._bind(network, offset)
                offset += core.metric_state_floats(obj._spec(), k)

    def unbind(self) -> None:
        for obj in [self.loss_tracker, *self.objects]:
            if isinstance(obj, CoreMetric):
                obj._unbind()

    def merge(self, core_results) -> list:
        """[loss, metric values in logs order] from the core's results (and
        the custom metrics' and vector metrics' own results)."""
        python = self.python.results() if self.python else {}
        out = [core_results[0]]
        for (in_core, key), obj in zip(self._slots, self.objects):
            if not in_core:
                out.append(python[key])
            elif self.vector and isinstance(obj, _ConfusionCore) and obj._vector():
                out.append(log_value(obj.result()))
            else:
                out.append(core_results[1 + key])
        return out


def compiled(metrics, weighted_metrics, output_width: int, loss_code: int) -> CompiledMetrics:
    """The compiled metrics for ``compile(metrics=, weighted_metrics=)``."""
    return CompiledMetrics(resolve_all(metrics, list(weighted_metrics), output_width, loss_code))


def resolve(metrics, output_width: int, loss_code: int) -> list[tuple[str, int]]:
    """(logs key, core kind) of each built-in metric, in compile order."""
    return [(sp["name"], sp["kind"]) for sp in compiled(metrics, [], output_width, loss_code).specs]


def specs(metrics, output_width: int, loss_code: int, weighted_metrics=()) -> list[dict]:
    """The core's spec dicts of the built-in metrics (the custom ones run in
    Python: see ``compiled``)."""
    return compiled(metrics, weighted_metrics, output_width, loss_code).specs
