"""The gradient sum of ranks that share one machine, through its memory.

MPI's Allreduce passes each rank's buffer through the library's own shared
segments (a copy in and a copy out on every rank, in small pipelined
pieces). When every rank of the communicator is on one machine, the
training step's reduce buffer can instead live in an MPI shared-memory
window (``MPI_Win_allocate_shared``) that every rank reads directly: after
a barrier, each rank adds its own slice of all the ranks' buffers and
writes that sum into the same slice of every buffer; after a second
barrier every rank holds the whole sum. No copy in or out, each float is
read and written once per rank.

Each slice's sum is made by one rank, in a fixed order (its own buffer
first, then the others in rank order), so every rank holds bitwise the same
result and a run is repeatable. On 2 ranks it is bitwise MPI's sum (float
addition of two numbers is commutative).

The window is MPI memory: it lives as long as the communicator (MPI frees it
at finalize), because a network may still point into it. Only the buffer
lent to a data-parallel run is summed this way; every other buffer goes
through MPI's Allreduce.
"""

from __future__ import annotations

import numpy as np

from hookfit.distribute.data_parallel import shard_bounds

_PAGE = 4096  # segments in whole pages: every rank's buffer starts page-aligned


class NodeSharedBuffer:
    """One float32 buffer per rank in a node's shared window, and their sum."""

    def __init__(self, MPI, node_comm, floats: int):
        self.comm = node_comm
        self.rank, self.size = node_comm.Get_rank(), node_comm.Get_size()
        nbytes = -(-max(floats, 1) * 4 // _PAGE) * _PAGE
        self.window = MPI.Win.Allocate_shared(nbytes, 4, comm=node_comm)
        # One passive access epoch for the window's life: Sync then orders
        # this rank's loads and stores against the other ranks' (MPI's
        # unified memory model for shared windows).
        self.window.Lock_all()
        self.views = [
            np.frombuffer(self.window.Shared_query(q)[0], dtype=np.float32, count=floats)
            for q in range(self.size)
        ]
        self.floats = floats
        self._base = self.views[self.rank].__array_interface__["data"][0]
        self.lent: np.ndarray | None = None  # the array lent out, if any

    def lend(self, floats: int) -> np.ndarray:
        self.lent = self.views[self.rank][:floats]
        return self.lent

    def holds(self, buf: np.ndarray) -> bool:
        """Whether buf is the start of this rank's shared buffer (the lent
        array itself, at every step, is told by identity)."""
        return buf is self.lent or (
            buf.size <= self.floats and buf.__array_interface__["data"][0] == self._base
        )

    def sum_(self, n: int) -> None:
        """The sum of every rank's first n floats, into all of them (every
        rank calls it with the same n)."""
        lo, hi = shard_bounds(n, self.rank, self.size)  # this rank's slice
        views, window = self.views, self.window
        window.Sync()
        self.comm.Barrier()  # every rank's buffer is written
        window.Sync()
        own = views[self.rank][lo:hi]
        with np.errstate(over="ignore", invalid="ignore"):  # as MPI: inf and NaN pass silently
            for q, view in enumerate(views):
                if q != self.rank:
                    np.add(own, view[lo:hi], out=own)
        for q, view in enumerate(views):
            if q != self.rank:
                view[lo:hi] = own
        window.Sync()
        self.comm.Barrier()  # every slice is summed everywhere
        window.Sync()
