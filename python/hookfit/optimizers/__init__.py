"""Optimizers with Keras 2's formulas, defaults and names."""

from __future__ import annotations

from hookfit.optimizers import schedules
from hookfit.optimizers.adadelta import Adadelta
from hookfit.optimizers.adagrad import Adagrad
from hookfit.optimizers.adam import Adam
from hookfit.optimizers.adamax import Adamax
from hookfit.optimizers.adamw import AdamW
from hookfit.optimizers.ftrl import Ftrl
from hookfit.optimizers.lion import Lion
from hookfit.optimizers.nadam import Nadam
from hookfit.optimizers.optimizer import Optimizer
from hookfit.optimizers.rmsprop import RMSprop
from hookfit.optimizers.sgd import SGD

__all__ = ["Adadelta", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lion", "Nadam", "Optimizer",
           "RMSprop", "SGD", "get", "schedules"]

# Each class has defaults for every argument (the base Optimizer has none).
_BY_NAME: dict[str, type[Optimizer]] = {"sgd": SGD, "rmsprop": RMSprop, "adam": Adam, "adamw": AdamW, "nadam": Nadam,
            "adagrad": Adagrad, "adamax": Adamax, "adadelta": Adadelta, "ftrl": Ftrl, "lion": Lion}


def get(identifier) -> Optimizer:
    """An optimizer from a name (``"rmsprop"``), a config dict or an instance."""
    if isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(
                f"Unknown optimizer {identifier!r}; known names: {sorted(_BY_NAME)} "
                "(or pass an optimizer object such as hookfit.optimizers.RMSprop(0.01))"
            )
        return cls()  # type: ignore[call-arg]  # every registered class defaults all arguments
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer class {identifier['class_name']!r}")
        return cls.from_config(identifier.get("config", {}))
    raise TypeError(
        f"optimizer must be a name such as 'rmsprop' or an Optimizer object; got "
        f"{type(identifier).__name__} {identifier!r}"
    )
