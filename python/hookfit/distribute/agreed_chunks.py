"""Scheduled batch hooks in a data-parallel fit: the chunks of batches
between hook boundaries are rank 0's.

With ``steps_per_execution=N``, ``batch_every``, ``save_freq=N`` or the
progress bar's redraw schedule, the loop runs chunks of batches and calls
the hooks only at chunk boundaries; each batch inside a chunk is still
grad -> Allreduce -> update. What must agree between ranks is where the
chunks end, since ``stop_training`` is OR-reduced there (a collective call
on every rank). The batch-driven schedules are the same on every rank, but
the progress bar exists on rank 0 only and redraws by time: so every rank
asks its own schedules (to keep their state) and then takes rank 0's chunk
length (one small broadcast per chunk, nothing per batch).
"""

from __future__ import annotations


class AgreedChunks:
    """A ``Scheduled`` dispatch (or none: this rank has no scheduled hook)
    whose chunk lengths come from rank 0."""

    per_batch = False

    def __init__(self, inner, comm):
        self._inner = inner
        self._comm = comm
        self._last = 0
        # The native runs stop on a non-finite loss on every rank or on none.
        self.stop_on_nonfinite = comm.any_(inner is not None and inner.stop_on_nonfinite)

    def reset(self) -> None:
        if self._inner is not None:
            self._inner.reset()

    def start_epoch(self, first: int, last: int) -> None:
        self._last = last
        if self._inner is not None:
            self._inner.start_epoch(first, last)

    def chunk(self, batch: int) -> int:
        mine = self._inner.chunk(batch) if self._inner is not None else self._last - batch + 1
        comm = self._comm
        return int(comm.bcast_bytes(str(mine).encode() if comm.is_chief else None).decode())

    def before(self, batch: int) -> None:
        if self._inner is not None:
            self._inner.before(batch)

    def after(self, last: int, ran: int, logs, nonfinite: bool = False) -> None:
        if self._inner is not None:
            self._inner.after(last, ran, logs, nonfinite)

    def end_epoch(self, last: int) -> None:
        if self._inner is not None:
            self._inner.end_epoch(last)


def agreed_dispatcher(cl, mode: str, steps_per_execution: int, comm):
    """The batch dispatch of a data-parallel train loop: the kind rank 0's
    callbacks need (none, per batch, scheduled), the same on every rank."""
    from hookfit.callbacks.batch_dispatch import PerBatch

    local = cl.batch_dispatcher(mode, steps_per_execution)
    kind = "none" if local is None else ("per batch" if local.per_batch else "scheduled")
    chief = comm.bcast_bytes(kind.encode() if comm.is_chief else None).decode()
    if chief == "per batch":
        return local if local is not None and local.per_batch else PerBatch(cl, mode)
    if chief == "none" and local is None:
        return None
    if local is not None and local.per_batch:
        # Only rank 0's callbacks differ (its progress bar): cannot happen
        # unless a callback was built differently on this rank.
        raise RuntimeError(
            f"rank {comm.rank} has a callback that needs every batch and rank 0 has none; "
            "every rank must pass the same callbacks"
        )
    return AgreedChunks(local, comm)
