"""The MPI backend: collectives over an mpi4py communicator (imported only
here, and only when a communicator of more than one process is used).

mpi4py releases the GIL in every call, and the buffer operations work on the
arrays' memory directly: the gradient Allreduce is in place, with no copy.
"""

from __future__ import annotations

import numpy as np

from hookfit.distribute.communicator import Communicator, check_reduce_buffer, check_root


class MPICommunicator(Communicator):
    def __init__(self, comm=None):
        from mpi4py import MPI

        self._MPI = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        if not isinstance(self.comm, MPI.Intracomm):
            raise TypeError(
                f"comm must be an mpi4py intracommunicator (e.g. MPI.COMM_WORLD); "
                f"got {type(self.comm).__name__}"
            )
        self.rank = self.comm.Get_rank()
        self.size = self.comm.Get_size()

    def allreduce_sum_(self, buf):
        check_reduce_buffer(buf)
        self.comm.Allreduce(self._MPI.IN_PLACE, buf, op=self._MPI.SUM)
        return buf

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
