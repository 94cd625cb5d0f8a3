# Included by _core.pyx: the bookkeeping of timed hook dispatches (a
# LeanHook's record), one call per hand-over.

cdef enum:
    _FEW_CALLBACKS = 16  # per-callback arrays on the stack up to this many


def record_hook_times(list times, Py_ssize_t n, Py_ssize_t untimed, list acc, list least, list counts,
                      list judged, list slow, tuple extends, limit_ns):
    """A hook table's timed dispatches: ``times`` holds ``n`` durations (ns)
    per dispatch, callback by callback (a last incomplete dispatch is
    ignored). Adds each callback's to ``acc[k]``, lowers ``least[k]`` to its
    fastest, passes them to ``extends[k]`` (its samples), adds the
    dispatches to ``counts[0]`` and ``untimed`` to ``counts[1]``; unless
    ``slow[0]``, judges each dispatch's total into ``judged`` (ns, count;
    count -1: the first is not judged) and sets ``slow[0]`` once their mean
    exceeds ``limit_ns``. ValueError when the lists do not hold ``n``
    callbacks, OverflowError for a value beyond int64; then nothing
    changes."""
    cdef Py_ssize_t m = len(times) // n if n > 0 else 0
    cdef Py_ssize_t i, k
    cdef int64_t few_times[8 * _FEW_CALLBACKS]
    cdef int64_t few_acc[_FEW_CALLBACKS]
    cdef int64_t few_least[_FEW_CALLBACKS]
    cdef int64_t *t = few_times
    cdef int64_t *a = few_acc
    cdef int64_t *low = few_least
    cdef hf_hook_judged j
    cdef bint judging = not slow[0]
    cdef int became_slow
    if n <= 0 or len(acc) != n or len(least) != n or len(extends) != n:
        raise ValueError(f"record_hook_times: {n} callbacks need that many totals, fastest calls and sample "
                         f"rings; got {len(acc)}, {len(least)} and {len(extends)}")
    try:
        if m * n > 8 * _FEW_CALLBACKS:
            t = <int64_t *>_zalloc(<size_t>(m * n), sizeof(int64_t))
        if n > _FEW_CALLBACKS:
            a = <int64_t *>_zalloc(<size_t>n, sizeof(int64_t))
            low = <int64_t *>_zalloc(<size_t>n, sizeof(int64_t))
        if t == NULL or a == NULL or low == NULL:
            raise MemoryError("record_hook_times: no memory for the durations")
        for i in range(m * n):
            t[i] = times[i]
        for k in range(n):
            a[k] = acc[k]
            low[k] = least[k]
        j.ns, j.count = judged[0], judged[1]
        became_slow = hf_hook_times_record(t, <size_t>m, <size_t>n, a, low, &j, judging, limit_ns)
        for k in range(n):
            acc[k] = a[k]
            least[k] = low[k]
            extends[k](times if n == 1 and len(times) == m else times[k:m * n:n])
    finally:
        if t != few_times:
            PyMem_Free(t)
        if a != few_acc:
            PyMem_Free(a)
            PyMem_Free(low)
    counts[0] += m
    counts[1] += untimed
    if judging:
        judged[0], judged[1] = j.ns, j.count
        if became_slow:
            slow[0] = True
