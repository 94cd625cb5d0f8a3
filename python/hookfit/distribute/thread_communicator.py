"""The in-process backend: N replicas as threads of one process.

It runs data-parallel code in ordinary pytest and without MPI. The replicas
really run at once: the native steps release the GIL. Each collective is a
rendezvous on one shared barrier; the sum is formed once, in rank order, so
every replica gets bitwise the same result (as MPI's Allreduce gives). When a
replica fails, the barrier is broken and every other replica raises
``CommunicatorError`` at its next collective instead of waiting forever.
"""

from __future__ import annotations

import threading

import numpy as np

from hookfit.distribute.communicator import (
    Communicator,
    CommunicatorError,
    check_reduce_buffer,
    check_root,
)


class ReplicaReleased(CommunicatorError):
    """This replica stopped because another one failed (or timed out)."""


class _Rendezvous:
    """A reusable barrier that can be broken without undoing a rendezvous
    already complete (threading.Barrier's abort also fails threads that were
    released but not yet woken)."""

    def __init__(self, size: int, timeout: float | None):
        self.size, self.timeout = size, timeout
        self._cond = threading.Condition()
        self._arrived = 0
        self._generation = 0
        self.broken = False

    def wait(self) -> None:
        with self._cond:
            if self.broken:
                raise threading.BrokenBarrierError
            generation = self._generation
            self._arrived += 1
            if self._arrived == self.size:
                self._arrived = 0
                self._generation += 1
                self._cond.notify_all()
                return
            done = self._cond.wait_for(
                lambda: self._generation != generation or self.broken, self.timeout
            )
            if self._generation != generation:
                return
            if not done:
                self.broken = True
                self._cond.notify_all()
            raise threading.BrokenBarrierError

    def abort(self) -> None:
        with self._cond:
            self.broken = True
            self._cond.notify_all()


class _Group:
    def __init__(self, size: int, timeout: float | None):
        self.size = size
        self.barrier = _Rendezvous(size, timeout)
        self.slots = [None] * size
        self.shared = None  # the value every replica copies after a rendezvous


class ThreadCommunicator(Communicator):
    """One replica's end of a group made by ``thread_group``."""

    def __init__(self, group: _Group, rank: int):
        self._group = group
        self.rank = rank
        self.size = group.size

    def _wait(self) -> None:
        try:
            self._group.barrier.wait()
        except threading.BrokenBarrierError:
            raise ReplicaReleased(
                f"replica {self.rank}: another replica failed or timed out; stopping too"
            ) from None

    def _exchange(self, value) -> list:
        """Every replica's value, in rank order (two rendezvous: no replica
        overwrites its slot before all have read the slots)."""
        g = self._group
        g.slots[self.rank] = value
        self._wait()
        values = list(g.slots)
        self._wait()
        return values

    def allreduce_sum_(self, buf):
        check_reduce_buffer(buf)
        g = self._group
        g.slots[self.rank] = buf
        self._wait()
        if self.rank == 0:
            shapes = {s.shape for s in g.slots}
            if len(shapes) == 1:
                total = g.slots[0].copy()
                for other in g.slots[1:]:
                    np.add(total, other, out=total)
                g.shared = total
            else:
                g.shared = f"the replicas reduce buffers of different shapes {sorted(shapes)}"
        self._wait()
        shared = g.shared
        if isinstance(shared, str):
            raise CommunicatorError(shared)  # on every replica alike
        buf[...] = shared
        self._wait()  # the sum stays until every replica has copied it
        return buf

    def bcast_(self, array, root=0):
        root = check_root(root, self.size)
        if not isinstance(array, np.ndarray) or not array.flags.writeable:
            raise TypeError("array must be a writable NumPy array (broadcast in place)")
        values = self._exchange(array)
        src = values[root]
        if any(v.shape != src.shape or v.dtype != src.dtype for v in values):
            raise CommunicatorError(
                "the replicas broadcast arrays of different shapes or dtypes: "
                + ", ".join(f"{v.dtype}{v.shape}" for v in values)
            )
        if self.rank != root:
            array[...] = src
        self._wait()  # the root's array is not changed before every copy is made
        return array

    def bcast_bytes(self, data, root=0):
        root = check_root(root, self.size)
        values = self._exchange(data)
        out = values[root]
        if not isinstance(out, (bytes, bytearray, memoryview)):
            raise TypeError(f"data must be bytes on the root rank; got {type(out).__name__}")
        return bytes(out)

    def allgather_bytes(self, data):
        return [bytes(v) for v in self._exchange(bytes(data))]

    def any_(self, flag):
        return any(bool(v) for v in self._exchange(bool(flag)))

    def abort(self, code=1):
        self._group.barrier.abort()
        raise CommunicatorError(f"replica {self.rank} aborted the group (code {code})")


def thread_group(size: int, timeout: float | None = 300.0) -> list:
    """``size`` connected ``ThreadCommunicator`` ends, one per replica.
    ``timeout``: seconds a replica waits at a rendezvous before every replica
    raises (a bug in the caller must not hang the test suite)."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer; got {size!r}")
    group = _Group(size, timeout)
    return [ThreadCommunicator(group, r) for r in range(size)]


def run_replicas(size: int, fn, *args, timeout: float | None = 300.0) -> list:
    """Run ``fn(comm, *args)`` in ``size`` threads, one per replica; return the
    results in rank order. If any replica raises, the others are released
    (they raise ``CommunicatorError``) and the first original error is
    re-raised here."""
    comms = thread_group(size, timeout)
    results: list = [None] * size
    errors: list[BaseException | None] = [None] * size

    def replica(rank):
        try:
            results[rank] = fn(comms[rank], *args)
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller
            errors[rank] = e
            comms[rank]._group.barrier.abort()

    threads = [
        threading.Thread(target=replica, args=(r,), name=f"hookfit-replica-{r}", daemon=True)
        for r in range(size)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    failed = [e for e in errors if e is not None]
    if failed:
        # The replica that failed first, not the ones released by it.
        original = [e for e in failed if not isinstance(e, ReplicaReleased)]
        raise (original or failed)[0]
    return results
