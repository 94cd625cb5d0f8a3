"""What an MPI launcher announced in a process's environment, read without
importing MPI (one process must not pay for it).

Every launcher tells each process the size of the job: Open MPI's
``OMPI_COMM_WORLD_SIZE``, ``PMI_SIZE`` from MPICH, Intel MPI and Slurm's PMI.
MPICH's mpiexec (``MPI_LOCALNRANKS``) and Open MPI's
(``OMPI_COMM_WORLD_LOCAL_SIZE``) also say how many of those processes run on
this machine.
"""

from __future__ import annotations

import os

_SIZE_VARIABLES = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_LOCAL_SIZE_VARIABLES = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")


def _announced(names) -> int:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.isdigit() and int(value) >= 1:
            return int(value)
    return 1


def launched_size() -> int:
    """The job size an MPI launcher announced (1 if none)."""
    return _announced(_SIZE_VARIABLES)


def launched_local_size() -> int:
    """How many of the job's processes run on this machine (1 if none said)."""
    return _announced(_LOCAL_SIZE_VARIABLES)
