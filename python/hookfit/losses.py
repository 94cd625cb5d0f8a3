"""Losses, by Keras 2's names: each is computed (value and gradient) in the
compiled core, which is why a loss must be one of these: hookfit has no
automatic differentiation, so a custom Python loss function cannot train.

``compile(loss=...)`` accepts a name (``"mean_squared_error"``, ``"mse"``,
...), one of the functions below or a loss object. The crossentropies take
probabilities by default (``from_logits=False``); with ``from_logits=True``
they take logits and are computed stably (log-sum-exp) in C, as
``tf.nn.*_cross_entropy_with_logits``. ``label_smoothing`` follows tf-keras:
binary targets move toward 0.5, categorical ones toward ``1 / classes``.

On a model whose output comes from a softmax (``Dense(activation="softmax")``,
``Activation("softmax")``, ``Softmax()``) with categorical or sparse
categorical crossentropy, or from a sigmoid with binary crossentropy, the
loss and those crossentropy metrics are computed from the output's
pre-activation as logits, as tf-keras does (it finds the logits on the output
tensor): no clipping of probabilities, so a saturated softmax still gives a
finite loss and the gradient ``p - y``. Keras 3 clips to ``[1e-7, 1 - 1e-7]``
instead; the two agree wherever no probability saturates.
``from_logits=True`` on such an output takes the same logits and warns.

Reduction is Keras's ``"sum_over_batch_size"`` (``sum_i w_i * l_i / N``) or
``"sum"``; ``"none"`` gives per-sample values from a loss object but cannot
train a model (Keras would sum them; hookfit asks for an explicit choice).

Each loss object becomes a spec dict (``_spec()``) that the core reads
(NUMERICS_SPEC.md).
"""

from __future__ import annotations

import warnings

import numpy as np

from hookfit._native import core

_KEYS = ("kind", "from_logits", "label_smoothing", "delta", "reduction")


def _as_2d(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return a[:, None] if a.ndim == 1 else a


def _prepare(y_true, y_pred, sparse):
    """float32 2-D (y_true, y_pred) as the core wants them."""
    p = _as_2d(y_pred)
    t = np.ascontiguousarray(y_true, dtype=np.float32)
    if sparse:
        t = t.reshape(-1, 1)
    elif t.ndim == 1 or (t.shape != p.shape and t.size == p.size):
        t = t.reshape(p.shape)  # (N,) labels for a (N, 1) output
    return t, p


class Loss:
    """A built-in loss. ``loss(y_true, y_pred, sample_weight=None)`` gives the
    reduced batch value as a float (a float32 array per sample with
    ``reduction="none"``)."""

    _kind: int = -1
    _default_name = ""
    _sparse = False

    def __init__(self, reduction="sum_over_batch_size", name=None, **settings):
        if reduction == "auto":
            reduction = "sum_over_batch_size"
        if reduction not in ("sum_over_batch_size", "sum", "none"):
            raise ValueError(
                f"reduction={reduction!r} is not a Keras reduction; use "
                "'sum_over_batch_size' (the default), 'sum' or 'none'"
            )
        self.reduction = reduction
        self.name = name or self._default_name
        self._settings = settings

    def _spec(self) -> dict:
        """The core's spec dict (for training: 'none' is refused here)."""
        if self.reduction == "none":
            raise ValueError(
                f"{type(self).__name__}(reduction='none') gives one value per sample and cannot "
                "be a training loss; use reduction='sum_over_batch_size' (Keras's default) or 'sum'"
            )
        return {"kind": self._kind, "reduction": self.reduction, **self._settings}

    def __call__(self, y_true, y_pred, sample_weight=None):
        t, p = _prepare(y_true, y_pred, self._sparse)
        if self.reduction == "none":
            values = core.loss_per_sample({"kind": self._kind, **self._settings}, t, p)
            if sample_weight is not None:
                values = values * np.asarray(sample_weight, np.float32).reshape(-1)
            return values
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=np.float32).reshape(-1)
        return core.loss_eval(self._spec(), t, p, sample_weight, None)

    def get_config(self) -> dict:
        return {"name": self.name, "reduction": self.reduction, **self._settings}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class MeanSquaredError(Loss):
    _kind, _default_name = core.LOSS_MSE, "mean_squared_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(reduction, name)


class MeanAbsoluteError(Loss):
    _kind, _default_name = core.LOSS_MAE, "mean_absolute_error"

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(reduction, name)


def _check_smoothing(label_smoothing):
    ls = float(label_smoothing)
    if not 0.0 <= ls <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; got {label_smoothing!r}")
    return ls


def _check_axis(axis):
    if axis not in (-1, None):
        raise ValueError(f"axis={axis!r} is not supported: hookfit's outputs are 2-D; use axis=-1")


class _SmoothedCrossentropy(Loss):
    """A crossentropy with ``from_logits`` and ``label_smoothing`` as in Keras."""

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1,
                 reduction="sum_over_batch_size", name=None):
        _check_axis(axis)
        super().__init__(reduction, name or self._default_name, from_logits=bool(from_logits),
                         label_smoothing=_check_smoothing(label_smoothing))


class BinaryCrossentropy(_SmoothedCrossentropy):
    """Binary crossentropy, mean over the outputs (targets smoothed toward 0.5)."""

    _kind, _default_name = core.LOSS_BCE, "binary_crossentropy"


class CategoricalCrossentropy(_SmoothedCrossentropy):
    """Categorical crossentropy on one-hot targets (smoothed toward 1 / classes)."""

    _kind, _default_name = core.LOSS_CCE, "categorical_crossentropy"


class SparseCategoricalCrossentropy(Loss):
    """Categorical crossentropy on class ids; ``from_logits`` as in Keras."""

    _kind, _default_name = core.LOSS_SCCE, "sparse_categorical_crossentropy"
    _sparse = True

    def __init__(self, from_logits=False, ignore_class=None, reduction="sum_over_batch_size",
                 name="sparse_categorical_crossentropy"):
        if ignore_class is not None:
            raise ValueError("ignore_class is not supported by hookfit; remove it")
        super().__init__(reduction, name, from_logits=bool(from_logits))


def _simple(class_name, kind, default_name, doc):
    def __init__(self, reduction="sum_over_batch_size", name=default_name):
        Loss.__init__(self, reduction, name)

    return type(class_name, (Loss,), {"_kind": kind, "_default_name": default_name,
                                      "__init__": __init__, "__doc__": doc})


LogCosh = _simple("LogCosh", core.LOSS_LOG_COSH, "log_cosh", "mean(x + softplus(-2x) - log 2), x = y_pred - y_true.")
Hinge = _simple("Hinge", core.LOSS_HINGE, "hinge", "mean(max(1 - t p, 0)); {0, 1} labels read as {-1, 1}.")
SquaredHinge = _simple("SquaredHinge", core.LOSS_SQUARED_HINGE, "squared_hinge", "mean(max(1 - t p, 0)^2).")
CategoricalHinge = _simple("CategoricalHinge", core.LOSS_CATEGORICAL_HINGE, "categorical_hinge",
                           "max(max((1 - t) p) - sum(t p) + 1, 0).")
KLDivergence = _simple("KLDivergence", core.LOSS_KLD, "kl_divergence", "sum(t log(t / p)), both clipped to [eps, 1].")
Poisson = _simple("Poisson", core.LOSS_POISSON, "poisson", "mean(p - t log(p + eps)).")
MeanAbsolutePercentageError = _simple("MeanAbsolutePercentageError", core.LOSS_MAPE,
                                      "mean_absolute_percentage_error", "100 mean(|t - p| / max(|t|, eps)).")
MeanSquaredLogarithmicError = _simple("MeanSquaredLogarithmicError", core.LOSS_MSLE,
                                      "mean_squared_logarithmic_error", "mean((log(p + 1) - log(t + 1))^2).")


class Huber(Loss):
    """0.5 e^2 where |e| <= delta, else delta (|e| - 0.5 delta); mean over the outputs."""

    _kind, _default_name = core.LOSS_HUBER, "huber_loss"

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        if not float(delta) > 0:
            raise ValueError(f"delta must be > 0; got {delta!r}")
        super().__init__(reduction, name, delta=float(delta))


class CosineSimilarity(Loss):
    """-sum(l2_normalize(t) * l2_normalize(p)) over the last axis."""

    _kind, _default_name = core.LOSS_COSINE, "cosine_similarity"

    def __init__(self, axis=-1, reduction="sum_over_batch_size", name="cosine_similarity"):
        _check_axis(axis)
        super().__init__(reduction, name)


# -- the functions of keras.losses: per-sample values ---------------------------


def _function(kind, name, doc, **fixed):
    def fn(y_true, y_pred):
        t, p = _prepare(y_true, y_pred, False)
        return core.loss_per_sample({"kind": kind, **fixed}, t, p)

    fn.__name__ = fn.__qualname__ = name
    fn.__doc__ = doc
    return fn


log_cosh = _function(core.LOSS_LOG_COSH, "log_cosh", "Per-sample log-cosh error.")
hinge = _function(core.LOSS_HINGE, "hinge", "Per-sample hinge loss.")
squared_hinge = _function(core.LOSS_SQUARED_HINGE, "squared_hinge", "Per-sample squared hinge loss.")
categorical_hinge = _function(core.LOSS_CATEGORICAL_HINGE, "categorical_hinge", "Per-sample categorical hinge.")
kl_divergence = _function(core.LOSS_KLD, "kl_divergence", "Per-sample KL divergence.")
poisson = _function(core.LOSS_POISSON, "poisson", "Per-sample Poisson loss.")
mean_absolute_percentage_error = _function(core.LOSS_MAPE, "mean_absolute_percentage_error", "Per-sample MAPE.")
mean_squared_logarithmic_error = _function(core.LOSS_MSLE, "mean_squared_logarithmic_error", "Per-sample MSLE.")


def huber(y_true, y_pred, delta=1.0):
    """Per-sample Huber loss."""
    t, p = _prepare(y_true, y_pred, False)
    return core.loss_per_sample({"kind": core.LOSS_HUBER, "delta": float(delta)}, t, p)


def cosine_similarity(y_true, y_pred, axis=-1):
    """Per-sample negative cosine similarity (the loss)."""
    _check_axis(axis)
    t, p = _prepare(y_true, y_pred, False)
    return core.loss_per_sample({"kind": core.LOSS_COSINE}, t, p)



def mean_squared_error(y_true, y_pred):
    """Per-sample mean of ``(y_pred - y_true)**2`` over the last axis."""
    t, p = _prepare(y_true, y_pred, False)
    return core.loss_per_sample({"kind": core.LOSS_MSE}, t, p)


def mean_absolute_error(y_true, y_pred):
    """Per-sample mean of ``|y_pred - y_true|`` over the last axis."""
    t, p = _prepare(y_true, y_pred, False)
    return core.loss_per_sample({"kind": core.LOSS_MAE}, t, p)


def _smoothed_per_sample(kind, y_true, y_pred, from_logits, label_smoothing, axis):
    _check_axis(axis)
    t, p = _prepare(y_true, y_pred, False)
    spec = {"kind": kind, "from_logits": bool(from_logits),
            "label_smoothing": _check_smoothing(label_smoothing)}
    return core.loss_per_sample(spec, t, p)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample binary crossentropy (mean over the last axis)."""
    return _smoothed_per_sample(core.LOSS_BCE, y_true, y_pred, from_logits, label_smoothing, axis)


def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Per-sample categorical crossentropy."""
    return _smoothed_per_sample(core.LOSS_CCE, y_true, y_pred, from_logits, label_smoothing, axis)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1, ignore_class=None):
    """Per-sample sparse categorical crossentropy (y_true holds class ids)."""
    _check_axis(axis)
    if ignore_class is not None:
        raise ValueError("ignore_class is not supported by hookfit; remove it")
    t, p = _prepare(y_true, y_pred, True)
    return core.loss_per_sample({"kind": core.LOSS_SCCE, "from_logits": bool(from_logits)}, t, p)


# Aliases, as in keras.losses.
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
msle = MSLE = mean_squared_logarithmic_error
kld = KLD = kullback_leibler_divergence = kl_divergence
logcosh = log_cosh

# name -> loss class; the Keras names and aliases accepted by losses.get.
_CLASSES = {
    "mean_squared_error": MeanSquaredError,
    "mse": MeanSquaredError,
    "MSE": MeanSquaredError,
    "MeanSquaredError": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mae": MeanAbsoluteError,
    "MAE": MeanAbsoluteError,
    "MeanAbsoluteError": MeanAbsoluteError,
    "binary_crossentropy": BinaryCrossentropy,
    "BinaryCrossentropy": BinaryCrossentropy,
    "categorical_crossentropy": CategoricalCrossentropy,
    "CategoricalCrossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "SparseCategoricalCrossentropy": SparseCategoricalCrossentropy,
    "huber": Huber, "huber_loss": Huber, "Huber": Huber,
    "log_cosh": LogCosh, "logcosh": LogCosh, "LogCosh": LogCosh,
    "hinge": Hinge, "Hinge": Hinge,
    "squared_hinge": SquaredHinge, "SquaredHinge": SquaredHinge,
    "categorical_hinge": CategoricalHinge, "CategoricalHinge": CategoricalHinge,
    "kl_divergence": KLDivergence, "kld": KLDivergence, "KLD": KLDivergence,
    "kullback_leibler_divergence": KLDivergence, "KLDivergence": KLDivergence,
    "poisson": Poisson, "Poisson": Poisson,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError, "mape": MeanAbsolutePercentageError,
    "MAPE": MeanAbsolutePercentageError, "MeanAbsolutePercentageError": MeanAbsolutePercentageError,
    "mean_squared_logarithmic_error": MeanSquaredLogarithmicError, "msle": MeanSquaredLogarithmicError,
    "MSLE": MeanSquaredLogarithmicError, "MeanSquaredLogarithmicError": MeanSquaredLogarithmicError,
    "cosine_similarity": CosineSimilarity, "CosineSimilarity": CosineSimilarity,
}
_FUNCTIONS = {
    mean_squared_error: MeanSquaredError,
    mean_absolute_error: MeanAbsoluteError,
    binary_crossentropy: BinaryCrossentropy,
    categorical_crossentropy: CategoricalCrossentropy,
    sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
    huber: Huber, log_cosh: LogCosh, hinge: Hinge, squared_hinge: SquaredHinge,
    categorical_hinge: CategoricalHinge, kl_divergence: KLDivergence, poisson: Poisson,
    mean_absolute_percentage_error: MeanAbsolutePercentageError,
    mean_squared_logarithmic_error: MeanSquaredLogarithmicError, cosine_similarity: CosineSimilarity,
}
# Kept for callers that map functions to kinds.
_FUNCTION_CODES = {fn: cls._kind for fn, cls in _FUNCTIONS.items()}


def _builtin_names() -> list:
    return sorted(k for k in _CLASSES if k[0].islower())


def get(identifier) -> Loss:
    """The loss object for a name, function or object."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        cls = _CLASSES.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown loss {identifier!r}; known names: {_builtin_names()}")
        return cls()
    if callable(identifier) and identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if identifier is None:
        raise ValueError("compile() needs a loss, e.g. loss='mean_squared_error'")
    what = f"{type(identifier).__name__} {identifier!r}"
    if callable(identifier):
        raise TypeError(
            f"Custom Python loss functions are not supported (got {what}): hookfit has no "
            "automatic differentiation, so each loss and its gradient are computed by the "
            "compiled core. Use one of the "
            f"built-in losses: {_builtin_names()} (or their hookfit.losses objects)"
        )
    raise TypeError(
        f"loss must be a Keras loss name (e.g. 'mse'), a hookfit.losses function or "
        f"a hookfit.losses.Loss object; got {what}. Built-in losses: {_builtin_names()}"
    )


def resolve(identifier) -> tuple[int, str]:
    """(core kind, name) of a loss given by name, function or object."""
    loss = get(identifier)
    if isinstance(identifier, str):
        return loss._kind, identifier
    if not isinstance(identifier, Loss):
        return loss._kind, identifier.__name__
    return loss._kind, loss.name


def spec_of(identifier) -> dict:
    """The core's spec dict of a training loss (refuses reduction='none')."""
    return get(identifier)._spec()


_LOGITS_OF = {"softmax": ("categorical_crossentropy", "sparse_categorical_crossentropy"),
              "sigmoid": ("binary_crossentropy",)}


def warn_logits_of_activation(loss, output_layer) -> None:
    """tf-keras's warning for from_logits=True on an output that a softmax or
    sigmoid produced: the loss takes that output's pre-activation anyway
    (the core's logits substitution), so the flag changes nothing."""
    spec = spec_of(loss)
    activation = getattr(output_layer, "activation", None)
    if not isinstance(activation, str):
        return
    names = _LOGITS_OF.get(activation, ())
    kinds = {"categorical_crossentropy": core.LOSS_CCE, "binary_crossentropy": core.LOSS_BCE,
             "sparse_categorical_crossentropy": core.LOSS_SCCE}
    for name in names:
        if spec.get("from_logits") and spec["kind"] == kinds[name]:
            warnings.warn(
                f'"`{name}` received `from_logits=True`, but the `output` argument was produced '
                f"by a {activation.capitalize()} activation and thus does not represent logits. "
                "Was this intended? (hookfit, like tf-keras, computes the loss from that "
                "activation's input)", UserWarning, stacklevel=4)
