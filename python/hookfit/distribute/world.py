"""Which ranks this process belongs to, found without importing mpi4py when
the process was not started by an MPI launcher (one process costs nothing).

An MPI launcher tells each process the size of the job in its environment
(``utils/launcher.py``); only when that says more than one, or when the
program has already imported mpi4py itself, is mpi4py used.
"""

from __future__ import annotations

import sys

from hookfit.distribute.communicator import Communicator, SingleCommunicator
from hookfit.utils.launcher import launched_size

_world: Communicator | None = None


def _mpi_world() -> Communicator:
    try:
        from hookfit.distribute.mpi_communicator import communicator_for

        return communicator_for()
    except ImportError as e:
        raise ImportError(
            f"this process is one of {launched_size()} started by an MPI launcher, but mpi4py "
            f"cannot be imported ({e}); install it with: pip install 'hookfit[mpi]'"
        ) from e


def world() -> Communicator:
    """The communicator of every process of the job (COMM_WORLD), or the
    one-process communicator when there is no MPI job."""
    global _world
    if _world is None:
        if "mpi4py.MPI" in sys.modules or launched_size() > 1:
            comm = _mpi_world()
            _world = comm if comm.size > 1 else SingleCommunicator()
        else:
            _world = SingleCommunicator()
    return _world


def rank() -> int:
    """This process's rank in the job (0 without MPI)."""
    return world().rank


def size() -> int:
    """How many processes the job has (1 without MPI)."""
    return world().size


def is_chief() -> bool:
    """True on rank 0: the process that prints and writes files."""
    return world().rank == 0
