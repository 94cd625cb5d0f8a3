"""Data-parallel training over MPI (mpi4py), or over threads in one process.

Two ways to run a script on many processes:

- unchanged: ``mpiexec -n 4 python -m hookfit.distribute train.py [args]``
  (an uncaught exception on any rank aborts the whole job, never a hang);
- explicitly, with a ``DataParallel`` strategy over a communicator.

``rank()``, ``size()`` and ``is_chief()`` tell a user's callback where it
runs. One process (no MPI launcher, or one rank) never imports mpi4py.
"""

from __future__ import annotations

from hookfit.distribute.communicator import Communicator, CommunicatorError, SingleCommunicator
from hookfit.distribute.data_parallel import DataParallel, shard_bounds
from hookfit.distribute.signature import SignatureMismatchError, check_same_run, sample_checksum
from hookfit.distribute.thread_communicator import ThreadCommunicator, run_replicas, thread_group
from hookfit.distribute.world import is_chief, rank, size, world

__all__ = [
    "Communicator",
    "CommunicatorError",
    "DataParallel",
    "SignatureMismatchError",
    "SingleCommunicator",
    "ThreadCommunicator",
    "check_same_run",
    "is_chief",
    "rank",
    "run_replicas",
    "sample_checksum",
    "shard_bounds",
    "size",
    "thread_group",
    "world",
]
