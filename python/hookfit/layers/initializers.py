"""Weight initializers, Keras's formulas, drawing from hookfit's own
random stream (``hookfit.utils.set_random_seed`` makes them reproducible)."""

from __future__ import annotations

import math

import numpy as np

from hookfit.utils import rng


def _fans(shape):
    if len(shape) == 1:
        return shape[0], shape[0]
    return shape[0], shape[1]


def _scaling(shape, mode):
    fan_in, fan_out = _fans(shape)
    fan = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[mode]
    return 1.0 / max(1.0, fan)


def _uniform(shape, limit):
    return rng.generator().uniform(-limit, limit, size=shape)


def _truncated_normal(shape, stddev):
    # Normal samples redrawn until they fall within two standard deviations.
    gen = rng.generator()
    out = gen.normal(0.0, stddev, size=shape)
    bad = np.abs(out) > 2 * stddev
    while bad.any():
        out[bad] = gen.normal(0.0, stddev, size=int(bad.sum()))
        bad = np.abs(out) > 2 * stddev
    return out


# 0.879... is the stddev of a unit normal truncated at +-2 (Keras divides by it).
_TRUNC = 0.87962566103423978


def glorot_uniform(shape):
    return _uniform(shape, math.sqrt(3.0 * _scaling(shape, "fan_avg")))


def glorot_normal(shape):
    return _truncated_normal(shape, math.sqrt(_scaling(shape, "fan_avg")) / _TRUNC)


def he_uniform(shape):
    return _uniform(shape, math.sqrt(6.0 * _scaling(shape, "fan_in")))


def he_normal(shape):
    return _truncated_normal(shape, math.sqrt(2.0 * _scaling(shape, "fan_in")) / _TRUNC)


def lecun_uniform(shape):
    return _uniform(shape, math.sqrt(3.0 * _scaling(shape, "fan_in")))


def lecun_normal(shape):
    return _truncated_normal(shape, math.sqrt(_scaling(shape, "fan_in")) / _TRUNC)


def random_uniform(shape):
    return _uniform(shape, 0.05)


def random_normal(shape):
    return rng.generator().normal(0.0, 0.05, size=shape)


def truncated_normal(shape):
    return _truncated_normal(shape, 0.05)


def zeros(shape):
    return np.zeros(shape)


def ones(shape):
    return np.ones(shape)


_BY_NAME = {
    f.__name__: f
    for f in (
        glorot_uniform,
        glorot_normal,
        he_uniform,
        he_normal,
        lecun_uniform,
        lecun_normal,
        random_uniform,
        random_normal,
        truncated_normal,
        zeros,
        ones,
    )
}
# Keras class names are accepted too.
_BY_NAME.update(
    {
        "GlorotUniform": glorot_uniform,
        "GlorotNormal": glorot_normal,
        "HeUniform": he_uniform,
        "HeNormal": he_normal,
        "LecunUniform": lecun_uniform,
        "LecunNormal": lecun_normal,
        "RandomUniform": random_uniform,
        "RandomNormal": random_normal,
        "TruncatedNormal": truncated_normal,
        "Zeros": zeros,
        "Ones": ones,
    }
)


def check(identifier, argument: str):
    """Validate an initializer argument (a name or a callable ``f(shape)``)."""
    if isinstance(identifier, str):
        if identifier not in _BY_NAME:
            raise ValueError(
                f"Unknown {argument} {identifier!r}; known: {sorted(k for k in _BY_NAME if k.islower())}"
            )
        return identifier
    if callable(identifier):
        return identifier
    raise TypeError(
        f"{argument} must be a name such as 'glorot_uniform' or a function f(shape); "
        f"got {type(identifier).__name__} {identifier!r}"
    )


def draw(identifier, shape, argument: str) -> np.ndarray:
    """Initial values of ``shape`` as float32, checked."""
    fn = _BY_NAME[identifier] if isinstance(identifier, str) else identifier
    values = np.asarray(fn(shape), dtype=np.float32)
    if values.shape != tuple(shape):
        raise ValueError(f"{argument} returned shape {values.shape}; expected {tuple(shape)}")
    if not np.isfinite(values).all():
        raise ValueError(f"{argument} returned NaN or infinite values")
    return values
