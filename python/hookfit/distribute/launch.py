"""What ``python -m hookfit.distribute`` sets up before it runs the script:
the job's communicator, and the default ``DataParallel`` strategy that
``fit``/``evaluate``/``predict`` are to use when they are not given one.

Until the training loop takes a strategy (issue 14, phase 3), a job of more
than one rank must not silently run a full, independent copy of every fit on
each rank (each writing the same files): there, the model's training and
inference methods raise a clear error instead. One rank runs unchanged.
"""

from __future__ import annotations

from hookfit.distribute.data_parallel import DataParallel
from hookfit.distribute.world import world

_default: DataParallel | None = None

NOT_YET = (
    "{what}() on {size} ranks: data-parallel {what} is not wired into the training loop of "
    "this hookfit build yet (hookfit.distribute provides the communicators, the launcher and "
    "the split native step so far). Run with one rank, or see README, 'Distributed training'."
)


def default_strategy() -> DataParallel | None:
    """The launcher's strategy, or None when the script was not launched by
    ``python -m hookfit.distribute``."""
    return _default


def start():
    """Set up the job's communicator and the default strategy; returns the
    communicator."""
    global _default
    comm = world()
    _default = DataParallel(comm)
    if comm.size > 1:
        _refuse_unsharded_training(comm.size)
    return comm


def _refuse_unsharded_training(size: int) -> None:
    from hookfit.models.model import Model

    def refuse(what):
        def method(self, *args, **kwargs):
            raise NotImplementedError(NOT_YET.format(what=what, size=size))

        method.__name__ = what
        return method

    for what in ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch"):
        setattr(Model, what, refuse(what))
