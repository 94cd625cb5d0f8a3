"""``DataParallel``: the strategy object ``fit``/``evaluate``/``predict`` take.

It names the communicator (None: every process of the MPI job) and owns the
arithmetic of sharding: ``batch_size`` is the global batch, and rank ``r`` of
``p`` takes a contiguous slice of each global batch, so every rank runs the
same number of steps by construction, uneven last batches included (a rank
may get an empty slice of a tiny last batch; it still takes part in the
reduction, with zeros).
"""

from __future__ import annotations

from hookfit.distribute.communicator import Communicator


def shard_bounds(rows: int, rank: int, size: int) -> tuple:
    """[start, stop) of ``rank``'s contiguous share of ``rows`` rows: the
    first ``rows % size`` ranks take one row more."""
    base, extra = divmod(rows, size)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


class DataParallel:
    """Data-parallel execution over ``comm``.

    Args:
        comm: None for the MPI job's COMM_WORLD (one process without MPI),
            an mpi4py intracommunicator, or a hookfit ``Communicator`` (such
            as one end of ``thread_group(n)`` for replicas in threads).
    """

    def __init__(self, comm=None):
        self.comm = as_communicator(comm)

    @property
    def rank(self) -> int:
        return self.comm.rank

    @property
    def size(self) -> int:
        return self.comm.size

    @property
    def is_chief(self) -> bool:
        return self.comm.rank == 0

    def shard(self, rows: int) -> tuple:
        """This rank's [start, stop) of a global batch of ``rows`` rows."""
        return shard_bounds(rows, self.comm.rank, self.comm.size)

    def __repr__(self):
        return f"DataParallel(rank={self.rank}, size={self.size}, comm={type(self.comm).__name__})"


def as_communicator(comm) -> Communicator:
    if comm is None:
        from hookfit.distribute.world import world

        return world()
    if isinstance(comm, Communicator):
        return comm
    if type(comm).__module__.startswith("mpi4py"):
        from hookfit.distribute.communicator import SingleCommunicator
        from hookfit.distribute.mpi_communicator import communicator_for

        wrapped = communicator_for(comm)
        return wrapped if wrapped.size > 1 else SingleCommunicator()
    raise TypeError(
        "comm must be None (the MPI job's COMM_WORLD), an mpi4py communicator or a "
        f"hookfit.distribute Communicator; got {type(comm).__name__}"
    )
