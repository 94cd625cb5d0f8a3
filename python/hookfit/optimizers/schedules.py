"""Learning-rate schedules (``keras.optimizers.schedules``) with tf-keras's
formulas, evaluated in float32 as tf-keras's graph does.

A schedule maps the optimizer's step (``optimizer.iterations`` before the
update) to a rate. The training loop asks the optimizer for a float32 table
of the rates of a run of batches (``Optimizer._rates_for``), so built-in
schedules never leave the one-native-call-per-epoch path. A user subclass of
``LearningRateSchedule`` is called once per step in Python when the table is
filled (its ``__call__(step)`` gets an integer step)."""

from __future__ import annotations

import math

import numpy as np

f32 = np.float32


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step)`` and ``get_config()``."""

    def __call__(self, step):
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(step)")

    def _rates(self, steps: np.ndarray) -> np.ndarray:
        """Rates for an array of steps (float32); built-ins vectorise this."""
        return np.array([float(self(int(s))) for s in steps], np.float32)

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} must implement get_config()")

    @classmethod
    def from_config(cls, config):
        return cls(**config)


def _positive(name, value):
    value = float(value)
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"`{name}` must be a positive number; got {value}")
    return value


def _finite(name, value):
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"`{name}` must be a finite number; got {value}")
    return value


class _BuiltIn(LearningRateSchedule):
    def __call__(self, step):
        return f32(self._rates(np.array([step], np.int64))[0])


class _StepDecay(_BuiltIn):
    """A decay driven by p = step / decay_steps (floored when ``staircase``)."""

    def __init__(self, initial_learning_rate, decay_steps, decay_rate, staircase=False, name=None):
        self.initial_learning_rate = _finite("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.decay_rate = _finite("decay_rate", decay_rate)
        self.staircase, self.name = bool(staircase), name

    def _progress(self, steps):
        p = steps.astype(f32) / f32(self.decay_steps)
        return np.floor(p) if self.staircase else p

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_StepDecay):
    """``initial_learning_rate * decay_rate ** (step / decay_steps)``."""

    def _rates(self, steps):
        return (f32(self.initial_learning_rate) * np.power(f32(self.decay_rate), self._progress(steps))).astype(f32)


class PiecewiseConstantDecay(_BuiltIn):
    """``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``."""

    def __init__(self, boundaries, values, name=None):
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "The length of boundaries should be 1 less than the length of values. Received: "
                f"boundaries={boundaries} of length {len(boundaries)}, and values={values} of length {len(values)}."
            )
        self.boundaries = [float(b) for b in boundaries]
        if any(b1 > b2 for b1, b2 in zip(self.boundaries, self.boundaries[1:])):
            raise ValueError(f"boundaries must be increasing; got {boundaries}")
        self.values = [_finite("values", v) for v in values]
        self.name = name

    def _rates(self, steps):
        idx = np.searchsorted(np.asarray(self.boundaries, np.float64), steps.astype(np.float64), side="left")
        return np.asarray(self.values, f32)[idx]

    def get_config(self):
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(_BuiltIn):
    """``(initial - end) * (1 - step / decay_steps) ** power + end``, the step
    capped at decay_steps (or the period stretched when ``cycle``)."""

    def __init__(self, initial_learning_rate, decay_steps, end_learning_rate=0.0001, power=1.0, cycle=False,
                 name=None):
        self.initial_learning_rate = _finite("initial_learning_rate", initial_learning_rate)
        self.decay_steps = _positive("decay_steps", decay_steps)
        self.end_learning_rate = _finite("end_learning_rate", end_learning_rate)
        self.power = _finite("power", power)
        self.cycle, self.name = bool(cycle), name

    def _rates(self, steps):
        s = steps.astype(f32)
        d = np.full_like(s, f32(self.decay_steps))
        if self.cycle:
            mult = np.where(s == 0, f32(1), np.ceil(s / d))
            d = d * mult
        else:
            s = np.minimum(s, d)
        p = s / d
        init, end = f32(self.initial_learning_rate), f32(self.end_learning_rate)
        return ((init - end) * np.power(f32(1) - p, f32(self.power)) + end).astype(f32)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power, "cycle": self.cycle,
                "name": self.name}


class InverseTimeDecay(_StepDecay):
    """``initial / (1 + decay_rate * step / decay_steps)``."""

    def _rates(self, steps):
        p = self._progress(steps)
        return (f32(self.initial_learning_rate) / (f32(1) + f32(self.decay_rate) * p)).astype(f32)


def _cosine(fraction, alpha):
    decayed = f32(0.5) * (f32(1) + np.cos(f32(math.pi) * fraction))
    return (f32(1) - f32(alpha)) * decayed + f32(alpha)


class CosineDecay(_BuiltIn):
    """Cosine decay from the initial rate (or, after a linear warmup of
    ``warmup_steps`` to ``warmup_target``, from the target) to ``alpha`` times it."""

    def __init__(self, initial_learning_rate, decay_steps, alpha=0.0, name=None, warmup_target=None,
                 warmup_steps=0):
        self.initial_learning_rate = _finite("initial_learning_rate", initial_learning_rate)
        self.decay_steps = float(decay_steps)
        if not (math.isfinite(self.decay_steps) and self.decay_steps >= 0):
            raise ValueError(f"`decay_steps` must be >= 0; got {decay_steps}")
        self.alpha = _finite("alpha", alpha)
        self.warmup_target = None if warmup_target is None else _finite("warmup_target", warmup_target)
        self.warmup_steps = float(warmup_steps)
        self.name = name

    def _rates(self, steps):
        s = steps.astype(f32)
        init, d = f32(self.initial_learning_rate), f32(self.decay_steps)
        if self.warmup_target is None:
            s = np.minimum(s, d)
            return (init * _cosine(s / d, self.alpha)).astype(f32)
        w, target = f32(self.warmup_steps), f32(self.warmup_target)
        s = np.minimum(s, d + w)
        with np.errstate(divide="ignore", invalid="ignore"):
            warm = (target - init) * (s / w) + init
            decay = target * _cosine((s - w) / d, self.alpha)
        return np.where(s < w, warm, decay).astype(f32)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


class CosineDecayRestarts(_BuiltIn):
    """SGDR: cosine decay restarting after ``first_decay_steps``, each period
    ``t_mul`` times longer and ``m_mul`` times lower."""

    def __init__(self, initial_learning_rate, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name=None):
        self.initial_learning_rate = _finite("initial_learning_rate", initial_learning_rate)
        self.first_decay_steps = _positive("first_decay_steps", first_decay_steps)
        self.t_mul, self.m_mul = _finite("t_mul", t_mul), _finite("m_mul", m_mul)
        self.alpha, self.name = _finite("alpha", alpha), name

    def _rates(self, steps):
        frac = steps.astype(f32) / f32(self.first_decay_steps)
        t_mul = f32(self.t_mul)
        if self.t_mul == 1.0:
            i = np.floor(frac)
            frac = frac - i
        else:
            i = np.floor(np.log(f32(1) - frac * (f32(1) - t_mul)) / np.log(t_mul))
            sum_r = (f32(1) - np.power(t_mul, i)) / (f32(1) - t_mul)
            frac = (frac - sum_r) / np.power(t_mul, i)
        m_fac = np.power(f32(self.m_mul), i)
        cos = f32(0.5) * m_fac * (f32(1) + np.cos(f32(math.pi) * frac))
        decayed = (f32(1) - f32(self.alpha)) * cos + f32(self.alpha)
        return (f32(self.initial_learning_rate) * decayed).astype(f32)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "first_decay_steps": self.first_decay_steps,
                "t_mul": self.t_mul, "m_mul": self.m_mul, "alpha": self.alpha, "name": self.name}


_BY_NAME = {c.__name__: c for c in (ExponentialDecay, PiecewiseConstantDecay, PolynomialDecay, InverseTimeDecay,
                                    CosineDecay, CosineDecayRestarts)}


def deserialize(config):
    cls = _BY_NAME.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"Unknown learning-rate schedule {config.get('class_name')!r}; known: {sorted(_BY_NAME)}")
    return cls.from_config(config.get("config", {}))


def serialize(schedule):
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}
