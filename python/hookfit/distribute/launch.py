"""What ``python -m hookfit.distribute`` sets up before it runs the script:
the job's communicator, and the default ``DataParallel`` strategy that
``fit``/``evaluate``/``predict`` use when they are not given one.

``train_on_batch`` steps one rank on its own batch: the ranks' weights would
drift apart, so in a job of more than one rank it raises instead.
"""

from __future__ import annotations

from hookfit.distribute.data_parallel import DataParallel
from hookfit.distribute.world import world

_default: DataParallel | None = None

NOT_SUPPORTED = (
    "train_on_batch() on {size} ranks would train each rank on its own batch and the weights "
    "would drift apart; use fit(), which is data-parallel under python -m hookfit.distribute"
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
        _refuse_train_on_batch(comm.size)
    return comm


def _refuse_train_on_batch(size: int) -> None:
    from hookfit.models.model import Model

    def train_on_batch(self, *args, **kwargs):
        raise NotImplementedError(NOT_SUPPORTED.format(size=size))

    setattr(Model, "train_on_batch", train_on_batch)
