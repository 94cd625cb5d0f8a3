"""The MPI backend: collectives over an mpi4py communicator (imported only
here, and only when a communicator of more than one process is used).

mpi4py releases the GIL in every call, and the buffer operations work on the
arrays' memory directly: the gradient Allreduce is in place, with no copy.
When every rank is on one machine, the training step's reduce buffer is lent
from a node shared-memory window and summed there instead
(``node_shared_sum.py``: about 5x faster than MPICH's Allreduce on the MLP's
gradients); ``shared_memory=False`` (or ``HOOKFIT_MPI_SHARED_MEMORY=0`` in
the environment) keeps MPI's Allreduce for everything.
"""

from __future__ import annotations

import os

import numpy as np

from hookfit.distribute.communicator import Communicator, check_reduce_buffer, check_root
from hookfit.distribute.node_shared_sum import NodeSharedBuffer

_SHARED_MEMORY_ENV = "HOOKFIT_MPI_SHARED_MEMORY"


def shared_memory_default() -> bool:
    value = os.environ.get(_SHARED_MEMORY_ENV, "1").strip()
    if value not in ("0", "1"):
        raise ValueError(
            f"{_SHARED_MEMORY_ENV} must be 1 (sum the gradients of ranks on one machine in shared "
            f"memory, the default) or 0 (MPI's Allreduce); got {value!r}"
        )
    return value == "1"


_wrappers: dict = {}  # one MPICommunicator per live mpi4py communicator (its window is kept)


def communicator_for(comm=None) -> "MPICommunicator":
    """The MPICommunicator of an mpi4py communicator (None: COMM_WORLD), the
    same object every time: its shared window is made once, not per fit."""
    from mpi4py import MPI

    if comm is None:
        comm = MPI.COMM_WORLD
    key = comm.py2f() if isinstance(comm, MPI.Comm) and comm != MPI.COMM_NULL else None
    cached = _wrappers.get(key) if key is not None else None
    # A freed communicator's object turns into COMM_NULL (its handle may be reused).
    if cached is not None and cached.comm != MPI.COMM_NULL:
        return cached
    made = MPICommunicator(comm)
    if key is not None:
        _wrappers[key] = made
    return made


class MPICommunicator(Communicator):
    def __init__(self, comm=None, shared_memory: bool | None = None):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        if not isinstance(self.comm, MPI.Intracomm):
            raise TypeError(
                f"comm must be an mpi4py intracommunicator (e.g. MPI.COMM_WORLD); "
                f"got {type(self.comm).__name__}"
            )
        if shared_memory is None:
            shared_memory = shared_memory_default()
        if not isinstance(shared_memory, bool):
            raise TypeError(f"shared_memory must be True or False; got {shared_memory!r}")
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()
        self._shared_memory = shared_memory
        self._node = None  # the ranks' node communicator, once asked (False: they span machines)
        self._shared: NodeSharedBuffer | None = None
        self._retired: list = []  # outgrown windows: MPI frees them at finalize

    def allreduce_sum_(self, buf):
        check_reduce_buffer(buf)
        shared = self._shared
        if shared is not None and shared.holds(buf):
            shared.sum_(buf.size)
        else:
            self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        return buf

    def lend_reduce_buffer(self, floats):
        """Collective. This rank's buffer of a node shared window when every
        rank is on this machine (None otherwise, or while it is lent)."""
        if not self._shared_memory or self._on_one_node() is None:
            return None
        shared = self._shared
        if shared is not None and shared.lent is not None:
            return None  # a data-parallel run inside another: MPI's Allreduce
        if self.any_(shared is None or shared.floats < floats):
            shared = self._allocate(floats)
            if shared is None:
                return None
        return shared.lend(floats)

    def return_reduce_buffer(self, buf):
        if self._shared is not None and self._shared.holds(buf):
            self._shared.lent = None

    def _on_one_node(self):
        if self._node is None:
            node = self.comm.Split_type(self._MPI.COMM_TYPE_SHARED)
            self._node = node if node.Get_size() == self.size else False
        return self._node or None

    def _allocate(self, floats):
        """A new window on every rank, or None on every rank if any failed
        (an MPI without shared windows)."""
        try:
            made = NodeSharedBuffer(self._MPI, self._node, floats)
        except self._MPI.Exception:
            made = None
        if self.any_(made is None):
            self._shared_memory = False
            return None
        if self._shared is not None:
            self._retired.append(self._shared)
        self._shared = made
        return made

    def bcast_(self, array, root=0):
        root = check_root(root, self.size)
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or not array.flags.writeable:
            raise TypeError("array must be a writable C-contiguous NumPy array (broadcast in place)")
        self.comm.Bcast(array, root=root)
        return array

    def bcast_bytes(self, data, root=0):
        root = check_root(root, self.size)
        if self.rank == root and not isinstance(data, (bytes, bytearray, memoryview)):
            # Every rank must still take part, or the others wait forever:
            # send the failure, then raise everywhere.
            self.comm.bcast(None, root=root)
            raise TypeError(f"data must be bytes on the root rank; got {type(data).__name__}")
        out = self.comm.bcast(bytes(data) if self.rank == root else None, root=root)
        if out is None:
            raise TypeError(f"rank {root} broadcast something that is not bytes")
        return out

    def allgather_bytes(self, data):
        return self.comm.allgather(bytes(data))

    def any_(self, flag):
        return bool(self.comm.allreduce(bool(flag), op=self._MPI.LOR))

    def abort(self, code=1):
        self.comm.Abort(int(code))
