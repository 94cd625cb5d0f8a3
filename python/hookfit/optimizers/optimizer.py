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


def _as_learning_rate(value) -> float:
    if isinstance(value, HyperParameter):
        value = float(value)
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(
            f"learning_rate must be a number (a float such as 0.001); got "
            f"{type(value).__name__} {value!r}. Learning-rate schedule objects are not "
            f"supported: change the rate from a callback (LearningRateScheduler) instead"
        )
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"learning_rate must be finite and >= 0; got {value}")
    # Keras keeps the rate in a float32 variable: store what it would store.
    return float(np.float32(value))


_UNSUPPORTED = ("clipnorm", "clipvalue", "global_clipnorm", "weight_decay", "use_ema")


class Optimizer:
    """Base class of hookfit's optimizers (``SGD``, ``RMSprop``, ``Adam``).

    Args:
        learning_rate: a float >= 0 (``lr`` is accepted as an alias).
        name: the optimizer's name.
    """

    _kind: int = -1  # the core's OPT_* code, set by subclasses
    _hyper_names: tuple = ()  # the settings passed to Network.configure

    def __init__(self, learning_rate, name, **kwargs):
        if "lr" in kwargs:  # Keras 2 legacy alias
            learning_rate = kwargs.pop("lr")
        for key in _UNSUPPORTED:
            if kwargs.pop(key, None) not in (None, False):
                raise ValueError(
                    f"{type(self).__name__}: `{key}` is not supported by hookfit; "
                    "remove it from the optimizer's arguments"
                )
        for key in ("ema_momentum", "ema_overwrite_frequency", "jit_compile"):
            kwargs.pop(key, None)  # accepted for compatibility, no effect
        if kwargs:
            raise TypeError(
                f"{type(self).__name__} got unexpected argument(s) {sorted(kwargs)}"
            )
        self.name = name
        self._learning_rate = _as_learning_rate(learning_rate)
        self._network = None
        self._iterations = 0

    # -- learning rate ---------------------------------------------------------

    @property
    def learning_rate(self) -> HyperParameter:
        """The learning rate (float32-rounded float); assignable."""
        return HyperParameter(self._learning_rate, self, "learning_rate")

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _as_learning_rate(value)

    @property
    def lr(self) -> HyperParameter:
        """Alias of ``learning_rate`` (Keras 2)."""
        return HyperParameter(self._learning_rate, self, "learning_rate")

    @lr.setter
    def lr(self, value):
        self._learning_rate = _as_learning_rate(value)

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

    def _spec(self) -> dict:
        """The core's spec dict (NUMERICS_SPEC.md): the kind and its settings."""
        return {"kind": self._kind, **self._hyper()}

    def _bind(self, network) -> None:
        """Make ``network`` apply this rule; zeroes slots and iterations."""
        self._network = network

    def get_state(self) -> dict:
        """Everything needed to continue bit-exactly: iterations, learning
        rate and copies of the slot arrays (empty before compile)."""
        slots = [] if self._network is None else [s.copy() for s in self._network.optimizer_slots()]
        return {
            "iterations": self.iterations,
            "learning_rate": self._learning_rate,
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
        self.learning_rate = state["learning_rate"]
        self.iterations = state["iterations"]

    def get_config(self) -> dict:
        config = {"name": self.name, "learning_rate": self._learning_rate}
        config.update(self._hyper())
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"
