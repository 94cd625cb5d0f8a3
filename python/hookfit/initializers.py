"""Weight initializers: Keras's objects, names and formulas.

``keras.initializers`` as in Keras 2 (tf-keras 2.21): each initializer is an
object called as ``init(shape, dtype=None)`` with a ``get_config()``;
``get`` turns a name, a config dict, an object or a function into one.

Randomness: an initializer built without ``seed`` draws from hookfit's own
stream, which ``hookfit.utils.set_random_seed`` makes reproducible. One built
with ``seed=s`` draws from a fresh generator seeded with ``s`` on every call,
so it returns the same values for the same shape each time (tf-keras 2.21's
seeded initializers are stateless in the same way). The numbers themselves
cannot equal TensorFlow's or JAX's for the same seed (different generators);
the distributions are Keras's exactly.
"""

from __future__ import annotations

import inspect
import math
import numbers

import numpy as np

from hookfit.utils import rng

# The stddev of a unit normal truncated at +-2: Keras divides by it so that
# the truncated draws have the intended variance.
_TRUNCATED_STDDEV = 0.87962566103423978


def compute_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shape, as Keras computes them."""
    shape = tuple(int(d) for d in shape)
    if len(shape) < 1:
        return 1, 1
    if len(shape) == 1:
        return shape[0], shape[0]
    if len(shape) == 2:
        return shape[0], shape[1]
    receptive_field = math.prod(shape[:-2])
    return shape[-2] * receptive_field, shape[-1] * receptive_field


def _check_shape(shape) -> tuple:
    try:
        shape = tuple(shape)
    except TypeError:
        raise TypeError(f"shape must be a tuple of non-negative integers; got {shape!r}") from None
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 0:
            raise ValueError(f"shape must be a tuple of non-negative integers; got {shape!r}")
    return tuple(int(d) for d in shape)


def _check_seed(seed):
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise ValueError(f"seed must be None or a non-negative integer; got {seed!r}")
    return int(seed)


def _cast(values: np.ndarray, dtype) -> np.ndarray:
    dtype = np.dtype("float32" if dtype is None else dtype)
    if dtype.kind != "f":
        raise ValueError(
            f"initializers only produce floating-point values; got dtype={dtype} "
            "(use 'float32')"
        )
    return np.asarray(values, dtype=dtype)


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype=None)``."""

    def __call__(self, shape, dtype=None, **kwargs):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(self, shape, dtype=None)"
        )

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def clone(self):
        return self.__class__.from_config(self.get_config())

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RandomInitializer(Initializer):
    """Holds the seed and picks the generator each call draws from."""

    def __init__(self, seed=None):
        self.seed = _check_seed(seed)

    def _generator(self) -> np.random.Generator:
        return rng.generator() if self.seed is None else np.random.default_rng(self.seed)

    def get_config(self) -> dict:
        return {"seed": self.seed}


def _truncated_normal(gen, shape, mean, stddev):
    """Normal draws, those beyond two stddevs from the mean redrawn."""
    out = gen.normal(mean, stddev, size=shape)
    bad = np.abs(out - mean) > 2 * stddev
    while bad.any():
        out[bad] = gen.normal(mean, stddev, size=int(bad.sum()))
        bad = np.abs(out - mean) > 2 * stddev
    return out


class Constant(Initializer):
    """Every value equal to ``value`` (a scalar)."""

    def __init__(self, value=0.0):
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or not math.isfinite(value):
            raise ValueError(f"Constant: value must be a finite real number; got {value!r}")
        self.value = float(value)

    def __call__(self, shape, dtype=None, **kwargs):
        return _cast(np.full(_check_shape(shape), self.value), dtype)

    def get_config(self):
        return {"value": self.value}


class Zeros(Initializer):
    """Every value 0."""

    def __call__(self, shape, dtype=None, **kwargs):
        return _cast(np.zeros(_check_shape(shape)), dtype)


class Ones(Initializer):
    """Every value 1."""

    def __call__(self, shape, dtype=None, **kwargs):
        return _cast(np.ones(_check_shape(shape)), dtype)


class RandomNormal(_RandomInitializer):
    """Normal draws with ``mean`` and ``stddev``."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"RandomNormal: stddev must be >= 0; got {stddev!r}")
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        return _cast(self._generator().normal(self.mean, self.stddev, size=shape), dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class RandomUniform(_RandomInitializer):
    """Uniform draws in ``[minval, maxval)``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        super().__init__(seed)
        if not minval <= maxval:
            raise ValueError(
                f"RandomUniform: minval must not exceed maxval; got minval={minval!r}, maxval={maxval!r}"
            )
        self.minval, self.maxval = float(minval), float(maxval)

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        return _cast(self._generator().uniform(self.minval, self.maxval, size=shape), dtype)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class TruncatedNormal(_RandomInitializer):
    """Normal draws, redrawn when more than two stddevs from the mean."""

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        super().__init__(seed)
        if not stddev >= 0:
            raise ValueError(f"TruncatedNormal: stddev must be >= 0; got {stddev!r}")
        self.mean, self.stddev = float(mean), float(stddev)

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        return _cast(_truncated_normal(self._generator(), shape, self.mean, self.stddev), dtype)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(_RandomInitializer):
    """Draws scaled to the weight's fans: ``scale / n`` with ``n`` the
    fan_in, fan_out or their mean; a truncated normal (stddev after
    truncation ``sqrt(scale / n)``), a plain normal, or a uniform in
    ``+-sqrt(3 * scale / n)``."""

    _MODES = ("fan_in", "fan_out", "fan_avg")
    _DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        super().__init__(seed)
        if isinstance(scale, bool) or not isinstance(scale, numbers.Real) or not scale > 0:
            raise ValueError(f"`scale` must be positive float. Received: scale={scale!r}.")
        if mode not in self._MODES:
            raise ValueError(f"Invalid `mode` argument: {mode!r}. Please use one of {self._MODES}.")
        distribution = str(distribution).lower()
        if distribution == "normal":  # Keras's older spelling
            distribution = "truncated_normal"
        if distribution not in self._DISTRIBUTIONS:
            raise ValueError(
                f"Invalid `distribution` argument: {distribution!r}. "
                f"Allowed distributions: {self._DISTRIBUTIONS}."
            )
        self.scale, self.mode, self.distribution = float(scale), mode, distribution

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        fan_in, fan_out = compute_fans(shape)
        fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, fan)
        gen = self._generator()
        if self.distribution == "truncated_normal":
            values = _truncated_normal(gen, shape, 0.0, math.sqrt(scale) / _TRUNCATED_STDDEV)
        elif self.distribution == "untruncated_normal":
            values = gen.normal(0.0, math.sqrt(scale), size=shape)
        else:
            limit = math.sqrt(3.0 * scale)
            values = gen.uniform(-limit, limit, size=shape)
        return _cast(values, dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _variance_scaling_preset(class_name, scale, mode, distribution, doc):
    """A named VarianceScaling (Glorot, He, Lecun): only ``seed`` is free."""

    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale=scale, mode=mode, distribution=distribution, seed=seed)

    def get_config(self):
        return {"seed": self.seed}

    return type(class_name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _variance_scaling_preset(
    "GlorotUniform", 1.0, "fan_avg", "uniform",
    "Uniform in +-sqrt(6 / (fan_in + fan_out)) (Xavier uniform).")
GlorotNormal = _variance_scaling_preset(
    "GlorotNormal", 1.0, "fan_avg", "truncated_normal",
    "Truncated normal, stddev sqrt(2 / (fan_in + fan_out)) (Xavier normal).")
HeUniform = _variance_scaling_preset(
    "HeUniform", 2.0, "fan_in", "uniform", "Uniform in +-sqrt(6 / fan_in).")
HeNormal = _variance_scaling_preset(
    "HeNormal", 2.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(2 / fan_in).")
LecunUniform = _variance_scaling_preset(
    "LecunUniform", 1.0, "fan_in", "uniform", "Uniform in +-sqrt(3 / fan_in).")
LecunNormal = _variance_scaling_preset(
    "LecunNormal", 1.0, "fan_in", "truncated_normal", "Truncated normal, stddev sqrt(1 / fan_in).")
for _cls in (GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal):
    _cls.__module__ = __name__


class Orthogonal(_RandomInitializer):
    """An orthogonal matrix times ``gain``: the Q of a QR factorisation of
    normal draws (shape flattened to 2-D, all but the last axis as rows),
    each column's sign set by R's diagonal so that Q is uniformly
    distributed."""

    def __init__(self, gain=1.0, seed=None):
        super().__init__(seed)
        self.gain = float(gain)

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize must be at least two-dimensional. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = self._generator().normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q = q * np.sign(np.diag(r))
        if rows < cols:
            q = q.T
        return _cast(self.gain * q.reshape(shape), dtype)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; a non-square
    shape gets ones on the main diagonal)."""

    def __init__(self, gain=1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype=None, **kwargs):
        shape = _check_shape(shape)
        if len(shape) != 2:
            raise ValueError(
                "Identity matrix initializer can only be used for 2D matrices. "
                f"Received: shape={shape} of rank {len(shape)}."
            )
        return _cast(self.gain * np.eye(*shape), dtype)

    def get_config(self):
        return {"gain": self.gain}


# Keras's snake_case names are the classes themselves (``glorot_uniform()``
# builds a GlorotUniform), plus Keras's short aliases.
constant = Constant
zeros = Zeros
ones = Ones
random_normal = RandomNormal
random_uniform = RandomUniform
truncated_normal = TruncatedNormal
variance_scaling = VarianceScaling
glorot_uniform = GlorotUniform
glorot_normal = GlorotNormal
he_uniform = HeUniform
he_normal = HeNormal
lecun_uniform = LecunUniform
lecun_normal = LecunNormal
orthogonal = Orthogonal
identity = Identity

_CLASSES = (
    Constant, Zeros, Ones, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal,
    Orthogonal, Identity,
)


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(name))


_BY_NAME = {cls.__name__: cls for cls in _CLASSES}
_BY_NAME.update({_snake(cls.__name__): cls for cls in _CLASSES})
_BY_NAME.update({"uniform": RandomUniform, "normal": RandomNormal, "one": Ones, "zero": Zeros})
SNAKE_NAMES = tuple(sorted(_snake(cls.__name__) for cls in _CLASSES))


def serialize(initializer) -> dict:
    """``{"class_name": ..., "config": ...}`` (Keras's layout)."""
    initializer = get(initializer)
    if not isinstance(initializer, Initializer):
        raise ValueError(
            f"cannot serialize {initializer!r}: only hookfit.initializers objects "
            "(or their names) have a config; a plain function does not"
        )
    return {
        "module": "keras.initializers",
        "class_name": type(initializer).__name__,
        "config": initializer.get_config(),
        "registered_name": None,
    }


def deserialize(config) -> Initializer:
    """An initializer from ``serialize``'s dict (Keras 2 or 3 layout)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(
            "an initializer config must be a dict with 'class_name' (and 'config'); "
            f"got {config!r}"
        )
    cls = _BY_NAME.get(config["class_name"])
    if cls is None:
        raise ValueError(
            f"Unknown initializer {config['class_name']!r}; hookfit supports {list(SNAKE_NAMES)}"
        )
    inner = config.get("config") or {}
    if not isinstance(inner, dict):
        raise ValueError(f"initializer config must be a dict; got {inner!r}")
    inner = dict(inner)
    # Newer Keras 3 writes these for the variance-scaling family; None is Keras 2's rule.
    for key in ("input_axes", "output_axes"):
        if inner.pop(key, None) is not None:
            raise ValueError(
                f"{config['class_name']}: `{key}` is not supported by hookfit (fans come from "
                "the last two axes, as in Keras 2); remove it"
            )
    try:
        return cls.from_config(inner)
    except TypeError as e:
        raise ValueError(f"bad config for {config['class_name']}: {e}") from None


def get(identifier):
    """An initializer from a name, a config dict, an object or a function
    ``f(shape, dtype=None)``; ``None`` stays ``None``."""
    if identifier is None or isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier)
        if cls is None:
            raise ValueError(
                f"Unknown initializer {identifier!r}; hookfit supports {list(SNAKE_NAMES)} "
                "(or their class names, e.g. 'GlorotUniform')"
            )
        return cls()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Initializer):
        return identifier()
    if callable(identifier):
        return identifier
    raise ValueError(
        "Could not interpret initializer identifier: "
        f"{identifier!r}; pass a name such as 'glorot_uniform', a config dict, "
        "a hookfit.initializers object or a function f(shape, dtype=None)"
    )


def check(identifier, argument: str):
    """Validate a layer's initializer argument, keeping names as names
    (layer configs stay readable); anything else becomes an object."""
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown {argument} {identifier!r}; known: {list(SNAKE_NAMES)}"
            )
        return identifier
    try:
        resolved = get(identifier)
    except ValueError as e:
        raise type(e)(f"{argument}: {e}") from None
    if resolved is None:
        raise ValueError(f"{argument} must not be None; pass e.g. 'glorot_uniform'")
    return resolved


def _takes_dtype(fn) -> bool:
    try:
        inspect.signature(fn).bind((1,), dtype="float32")
    except (TypeError, ValueError):
        return False
    return True


def draw(identifier, shape, argument: str) -> np.ndarray:
    """Initial values of ``shape`` as float32, checked."""
    fn = get(identifier)
    shape = tuple(shape)
    if isinstance(fn, Initializer) or _takes_dtype(fn):
        values = fn(shape, dtype="float32")
    else:
        values = fn(shape)  # a plain function f(shape)
    values = np.asarray(values, dtype=np.float32)
    if values.shape != shape:
        raise ValueError(f"{argument} returned shape {values.shape}; expected {shape}")
    if not np.isfinite(values).all():
        raise ValueError(f"{argument} returned NaN or infinite values")
    return values
