"""Callbacks: the Keras 2 ``Callback`` protocol and the built-ins.

The built-in callbacks beyond ``History`` and ``ProgbarLogger`` live one per
module and are imported on first use.
"""

from __future__ import annotations

import importlib

from hookfit.callbacks.callback import Callback, batch_schedule
from hookfit.callbacks.callback_list import CallbackList
from hookfit.callbacks.history import History
from hookfit.callbacks.progbar_logger import ProgbarLogger

# Public name -> module under hookfit.callbacks (imported lazily).
_LAZY = {
    "BackupAndRestore": "backup_and_restore",
    "CallbackCosts": "callback_costs",
    "CSVLogger": "csv_logger",
    "EarlyStopping": "early_stopping",
    "LambdaCallback": "lambda_callback",
    "LearningRateScheduler": "learning_rate_scheduler",
    "ModelCheckpoint": "model_checkpoint",
    "MonitorCallback": "monitor_callback",
    "ReduceLROnPlateau": "reduce_lr_on_plateau",
    "TensorBoard": "tensorboard",
    "TerminateOnNaN": "terminate_on_nan",
}

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger", "batch_schedule", *sorted(_LAZY)]


def __getattr__(name):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hookfit.callbacks' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"hookfit.callbacks.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
