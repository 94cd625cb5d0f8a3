"""Twin of ``_core_hook_times.pxi`` / ``csrc/hf_hook_times.c``: a hook
table's timed dispatches recorded one by one, as plain Python."""

from __future__ import annotations

__all__ = ["record_hook_times"]

_INT64 = range(-(2**63), 2**63)


def record_hook_times(times, n, untimed, acc, least, counts, judged, slow, extends, limit_ns) -> None:
    """See ``_core.pyi``."""
    if n <= 0 or len(acc) != n or len(least) != n or len(extends) != n:
        raise ValueError(f"record_hook_times: {n} callbacks need that many totals, fastest calls and sample "
                         f"rings; got {len(acc)}, {len(least)} and {len(extends)}")
    m = len(times) // n
    if any(v not in _INT64 for v in [*times[: m * n], *acc, *least, *judged, limit_ns]):
        raise OverflowError("record_hook_times: a value beyond int64")
    for i in range(0, m * n, n):
        total = 0
        for k in range(n):
            dt = times[i + k]
            acc[k] += dt
            if dt < least[k]:
                least[k] = dt
            total += dt
        if not slow[0]:
            if judged[1] >= 0:
                judged[0] += total
                if judged[0] > limit_ns * (judged[1] + 1):
                    slow[0] = True
            judged[1] += 1
    for k in range(n):
        extends[k](times[k : m * n : n])
    counts[0] += m
    counts[1] += untimed
