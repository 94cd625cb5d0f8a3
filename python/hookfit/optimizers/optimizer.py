"""The ``Optimizer`` base: hyper-parameters on the Python side, slots in C.

An optimizer object only describes the update rule; its state (the slot
arrays and the iteration counter) lives in the compiled ``Network`` it is
bound to at ``compile``. The learning rate is the exception: it is read by
the training loop before every batch, so a callback may change it at any
time, as in Keras 2. It is stored rounded to float32, as Keras's float32
variable stores it (``0.001`` reads back as ``0.0010000000474974513``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from hookfit.optimizers.rate_table import RateTable, check_rates, computes_ahead
from hookfit.optimizers.schedules import LearningRateSchedule


class HyperParameter(float):
    """A float that knows the optimizer attribute it was read from.

    It reads like a plain float; ``assign`` (used by
    ``hookfit.backend.set_value``) writes a new value back to that attribute,
    and ``numpy()`` gives the stored ``np.float32``, like a Keras variable.
    """

    def __new__(cls, value, owner, name):
        self = super().__new__(cls, value)
        self._owner = owner
        self._name = name
        return self

    def assign(self, value):
        setattr(self._owner, self._name, value)

    def numpy(self):
        return np.float32(self)

    def __reduce__(self):  # pickles (and deep-copies) as a plain float
        return (float, (float(self),))


def _as_learning_rate(value) -> float | LearningRateSchedule:
    if isinstance(value, LearningRateSchedule):
        return value
    if isinstance(value, HyperParameter):
        value = float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"learning_rate must be a number (a float such as 0.001); got "
            f"{type(value).__name__} {value!r} (or a keras.optimizers.schedules.LearningRateSchedule)"
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"learning_rate must be finite and >= 0; got {value}")
    # Keras keeps the rate in a float32 variable: store what it would store.
    with np.errstate(over="ignore"):
        stored = np.float32(value)
    if not np.isfinite(stored):
        raise ValueError(
            f"learning_rate={value:g} overflows float32 (the learning-rate variable's type, max "
            f"{float(np.finfo(np.float32).max):.4g}); use a smaller rate"
        )
    return float(stored)


def _optional_positive(name, value):
    """None (off) or a finite number > 0, as Keras's clip/decay settings."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value):
        raise ValueError(f"`{name}` must be None or a finite number; got {value!r}")
    if value < 0:
        raise ValueError(f"`{name}` must be >= 0; got {value!r}")
    return float(value)


class Optimizer:
    """Base class of hookfit's optimizers (``SGD``, ``RMSprop``, ``Adam``).

    Args:
        learning_rate: a float >= 0 (``lr`` is accepted as an alias).
        name: the optimizer's name.
    """

    _kind: int = -1  # the core's OPT_* code, set by subclasses
    _hyper_names: tuple = ()  # the settings passed to Network.configure

    def __init__(self, learning_rate, name, weight_decay=None, clipnorm=None, clipvalue=None,
                 global_clipnorm=None, use_ema=False, ema_momentum=0.99, ema_overwrite_frequency=None,
                 **kwargs):
        if "lr" in kwargs:  # Keras 2 legacy alias
            learning_rate = kwargs.pop("lr")
        kwargs.pop("jit_compile", None)  # accepted for compatibility: everything runs in C
        self.weight_decay = _optional_positive("weight_decay", weight_decay)
        self.clipnorm = _optional_positive("clipnorm", clipnorm)
        self.clipvalue = _optional_positive("clipvalue", clipvalue)
        self.global_clipnorm = _optional_positive("global_clipnorm", global_clipnorm)
        if self.clipnorm is not None and self.global_clipnorm is not None:
            raise ValueError(
                "At most one of `clipnorm` and `global_clipnorm` can be set. Received: "
                f"clipnorm={clipnorm}, global_clipnorm={global_clipnorm}."
            )
        self.use_ema = bool(use_ema)
        ema_momentum = float(ema_momentum)
        if self.use_ema and not 0.0 <= ema_momentum <= 1.0:
            raise ValueError(f"`ema_momentum` must be in the range [0, 1]. Received: ema_momentum={ema_momentum}")
        if ema_overwrite_frequency is not None and (
            isinstance(ema_overwrite_frequency, bool) or not isinstance(ema_overwrite_frequency, int)
            or ema_overwrite_frequency < 1
        ):
            raise ValueError(
                "`ema_overwrite_frequency` must be an integer >= 1 or None. Received: "
                f"ema_overwrite_frequency={ema_overwrite_frequency}"
            )
        self.ema_momentum = ema_momentum
        self.ema_overwrite_frequency = ema_overwrite_frequency
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected argument(s) {sorted(kwargs)}"
            )
        self.name = name
        self._learning_rate = _as_learning_rate(learning_rate)
        self._rate_table = None  # a built-in schedule's rates, filled ahead
        self._network = None
        self._iterations = 0

    # -- learning rate ---------------------------------------------------------

    @property
    def learning_rate(self) -> HyperParameter:
        """The learning rate (float32-rounded float); assignable. With a
        schedule: the rate of the current step (not assignable, as in Keras)."""
        return HyperParameter(self._rate_at(self.iterations), self, "learning_rate")

    @learning_rate.setter
    def learning_rate(self, value):
        self._set_learning_rate(value)

    @property
    def lr(self) -> HyperParameter:
        """Alias of ``learning_rate`` (Keras 2)."""
        return HyperParameter(self._rate_at(self.iterations), self, "learning_rate")

    @lr.setter
    def lr(self, value):
        self._set_learning_rate(value)

    def _set_learning_rate(self, value):
        if isinstance(getattr(self, "_learning_rate", None), LearningRateSchedule):
            raise TypeError(
                "This optimizer was created with a `LearningRateSchedule` object as its "
                "`learning_rate` constructor argument, hence its learning rate is not settable. "
                "If you need the learning rate to be settable, you should instantiate the "
                "optimizer with a float `learning_rate` argument."
            )
        self._learning_rate = _as_learning_rate(value)

    @property
    def _schedule(self):
        """The LearningRateSchedule driving the rate, or None."""
        lr = self._learning_rate
        return lr if isinstance(lr, LearningRateSchedule) else None

    def _rate_at(self, iteration: int) -> float:
        """The rate the step with this iteration count uses (read per batch:
        the constant case is kept to one attribute read and a type test)."""
        lr = self._learning_rate
        if not isinstance(lr, LearningRateSchedule):
            return lr
        table = getattr(self, "_rate_table", None)
        if table is not None:  # (per batch with a per-batch callback: no slice)
            rate = table.rate_at(lr, iteration)
            if rate is not None:
                return rate
        return self._schedule_rates(lr, iteration, 1)[0].item()

    def _rates_for(self, iterations: int, n_batches: int):
        """The rates of the next n_batches steps: a float when constant, else a
        float32 array with one rate per batch (what Network.train_batches takes)."""
        lr = self._learning_rate  # read per native run: the constant case first
        if not isinstance(lr, LearningRateSchedule):
            return lr
        return self._schedule_rates(lr, iterations, n_batches)

    def _schedule_rates(self, schedule, first: int, count: int) -> np.ndarray:
        """float32 rates of steps first .. first + count - 1 (a built-in
        schedule's from a table filled ahead: optimizers/rate_table.py)."""
        table = getattr(self, "_rate_table", None)  # (None too in a subclass skipping __init__)
        if table is not None:
            rates = table.rates_for(schedule, first, count)
            if rates is not None:
                return rates
        if not computes_ahead(schedule):
            return check_rates(schedule._rates(np.arange(first, first + count, dtype=np.int64)))
        table = self._rate_table = RateTable(schedule, first, count)
        rates = table.rates_for(schedule, first, count)
        # (None: an invalid rate among these steps, which check_rates names)
        return check_rates(table.rates[:count]) if rates is None else rates

    # -- state living in the compiled network ----------------------------------

    @property
    def iterations(self) -> int:
        """How many updates have been applied."""
        if self._network is not None:
            return int(self._network.iterations)
        return self._iterations

    @iterations.setter
    def iterations(self, value):
        value = int(value)
        if value < 0:
            raise ValueError(f"iterations must be >= 0; got {value}")
        if self._network is not None:
            self._network.iterations = value
        self._iterations = value

    def _hyper(self) -> dict:
        return {name: getattr(self, name) for name in self._hyper_names}

    _COMMON = ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "use_ema", "ema_momentum",
               "ema_overwrite_frequency")

    def _spec(self) -> dict:
        """The core's spec dict (NUMERICS_SPEC.md): the kind and its settings."""
        return {"kind": self._kind, **self._hyper(), **{k: getattr(self, k) for k in self._COMMON}}

    def finalize_variable_values(self, var_list=None):
        """With use_ema, give the trained weights their moving averages (what
        Keras does at the end of fit)."""
        if self.use_ema and self._network is not None and self.iterations > 0:
            params = self._network.params
            params[...] = self._network.optimizer_slots()[-1]

    def _bind(self, network) -> None:
        """Make ``network`` apply this rule; zeroes slots and iterations."""
        self._network = network

    def get_state(self) -> dict:
        """Everything needed to continue bit-exactly: iterations, learning
        rate and copies of the slot arrays (empty before compile)."""
        slots = [] if self._network is None else [s.copy() for s in self._network.optimizer_slots()]
        return {
            "iterations": self.iterations,
            "learning_rate": self._rate_at(self.iterations),
            "slots": slots,
        }

    def set_state(self, state: dict) -> None:
        """Restore a ``get_state()`` result (the model must be compiled)."""
        slots = list(state.get("slots", []))
        if self._network is not None:
            own = self._network.optimizer_slots()
            if len(slots) != len(own):
                raise ValueError(
                    f"optimizer state has {len(slots)} slot arrays; {self.name} on this "
                    f"model has {len(own)}"
                )
            for i, (dst, src) in enumerate(zip(own, slots)):
                src = np.asarray(src, dtype=np.float32)
                if src.shape != dst.shape:
                    raise ValueError(
                        f"optimizer slot {i} has shape {src.shape}; this model needs {dst.shape}"
                    )
            for dst, src in zip(own, slots):
                dst[...] = src
        elif slots:
            raise ValueError("restore optimizer slots after model.compile(), not before")
        if self._schedule is None:
            self.learning_rate = state["learning_rate"]
        self.iterations = state["iterations"]

    def get_config(self) -> dict:
        lr = self._learning_rate
        if isinstance(lr, LearningRateSchedule):
            lr = {"class_name": type(lr).__name__, "config": lr.get_config()}
        config = {"name": self.name, "learning_rate": lr}
        config.update(self._hyper())
        config.update({k: getattr(self, k) for k in self._COMMON})
        return config

    @classmethod
    def from_config(cls, config: dict):
        config = dict(config)
        lr = config.get("learning_rate")
        if isinstance(lr, dict) and "class_name" in lr:
            from hookfit.optimizers.schedules import deserialize

            config["learning_rate"] = deserialize(lr)
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
