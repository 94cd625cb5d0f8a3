"""What ``python -m hookfit.distribute`` sets up before it runs the script:
the job's communicator, and the default ``DataParallel`` strategy that
``fit``/``evaluate``/``predict``/``train_on_batch`` use when they are not
given one.
"""

from __future__ import annotations

from hookfit.distribute.data_parallel import DataParallel
from hookfit.distribute.world import world

_default: DataParallel | None = None


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
    return comm
