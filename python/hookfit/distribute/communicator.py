"""The collective operations the data-parallel loop uses, whatever carries them.

Every rank calls the same operation at the same point of the loop; an
operation returns on a rank only when every rank has called it. Two backends
implement this: ``MPICommunicator`` (mpi4py, across processes and machines)
and ``ThreadCommunicator`` (replicas as threads of one process, for tests and
for trying data-parallel code without MPI). The loop needs only these five:

- ``allreduce_sum_(buf)``: in place on one C-contiguous float32 buffer (the
  gradients and metric deltas of a step), every rank ends with the same sum;
- ``bcast_(array, root)``: in place, rank ``root``'s array everywhere;
- ``bcast_bytes(data, root)``: rank ``root``'s bytes everywhere (a pickled
  state, a generator state);
- ``allgather_bytes(data)``: every rank's bytes, in rank order, everywhere;
- ``any_(flag)``: the OR of every rank's flag (``stop_training``).
"""

from __future__ import annotations

import numpy as np


class CommunicatorError(RuntimeError):
    """A collective operation was misused, or another replica failed."""


def check_reduce_buffer(buf, what="buffer") -> None:
    """Allreduce works in place on one contiguous float32 array: refuse
    anything else before any rank blocks, with the reason."""
    if not isinstance(buf, np.ndarray):
        raise TypeError(f"{what} must be a float32 NumPy array; got {type(buf).__name__}")
    if buf.dtype != np.float32 or not buf.flags.c_contiguous or not buf.flags.writeable:
        raise TypeError(
            f"{what} must be a writable C-contiguous float32 array (reduced in place); "
            f"got dtype {buf.dtype}, contiguous={buf.flags.c_contiguous}, "
            f"writeable={buf.flags.writeable}"
        )


def check_root(root: int, size: int) -> int:
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size:
        raise ValueError(f"root must be a rank in [0, {size}); got {root!r}")
    return int(root)


class Communicator:
    """Base of the backends: ``rank``, ``size`` and the collectives above."""

    rank: int = 0
    size: int = 1

    @property
    def is_chief(self) -> bool:
        return self.rank == 0

    def allreduce_sum_(self, buf: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def bcast_(self, array: np.ndarray, root: int = 0) -> np.ndarray:
        raise NotImplementedError

    def bcast_bytes(self, data: bytes | None, root: int = 0) -> bytes:
        raise NotImplementedError

    def allgather_bytes(self, data: bytes) -> list:
        raise NotImplementedError

    def any_(self, flag) -> bool:
        raise NotImplementedError

    def lend_reduce_buffer(self, floats: int) -> np.ndarray | None:
        """Collective. Memory for a network's reduce buffer (``floats``
        float32) that ``allreduce_sum_`` sums with no copy, until
        ``return_reduce_buffer``; None when this backend has none (then the
        network keeps its own buffer)."""
        return None

    def return_reduce_buffer(self, buf: np.ndarray) -> None:
        """``buf``, lent by ``lend_reduce_buffer``, is no longer used."""

    def allgather_rows(self, rows: np.ndarray) -> np.ndarray:
        """Every rank's block of rows (same dtype and columns), stacked in rank
        order: predictions sharded by rows, whole on every rank."""
        rows = np.ascontiguousarray(rows)
        parts = self.allgather_bytes(rows.tobytes())
        tail = rows.shape[1:]
        blocks = [np.frombuffer(p, dtype=rows.dtype).reshape((-1, *tail)) for p in parts]
        return np.concatenate(blocks, axis=0)

    def abort(self, code: int = 1) -> None:
        """End every rank now (used when one rank failed and the others would
        wait for it forever)."""
        raise NotImplementedError


class SingleCommunicator(Communicator):
    """One process: every collective is the identity. Used when there is no
    MPI or the world has one rank; nothing is imported or copied."""

    def allreduce_sum_(self, buf):
        check_reduce_buffer(buf)
        return buf

    def bcast_(self, array, root=0):
        check_root(root, 1)
        return array

    def bcast_bytes(self, data, root=0):
        check_root(root, 1)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes on the root rank; got {type(data).__name__}")
        return bytes(data)

    def allgather_bytes(self, data):
        return [bytes(data)]

    def any_(self, flag):
        return bool(flag)

    def abort(self, code=1):
        raise SystemExit(code)
