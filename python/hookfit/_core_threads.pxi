# Included by _core.pyx: the thread pool of the C core (csrc/hf_pool.h).
# hookfit.config owns the policy; these are its levers.


def set_threads(n):
    """Use ``n`` threads in all (the caller included) for the core's parallel
    work; the results do not depend on it."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= HF_POOL_MAX_THREADS:
        raise ShapeError(f"threads must be an integer in [1, {HF_POOL_MAX_THREADS}]; got {n!r}")
    cdef hf_status st
    cdef size_t want = <size_t>n
    with nogil:  # joining workers may wait for a job of another thread
        st = hf_pool_resize(want)
    if st == HF_ERR_RANGE:
        raise WorkspaceError(
            f"the system refused to start more threads; running with {hf_pool_size()}"
        )
    _ok(st, "set_threads")


def get_threads():
    """Threads the core's parallel work uses, the caller included."""
    return hf_pool_size()


def set_pool_share(on):
    """Sharing mode (hookfit's default): each parallel job uses only the CPUs
    other processes leave free (csrc/hf_cpu_share.h); off: every thread."""
    cdef int flag = 1 if on else 0
    with nogil:  # waits for a job of another thread to end
        hf_pool_share(flag)


def get_pool_share():
    """Whether sharing mode is on (off where the CPU counters cannot be read)."""
    return bool(hf_pool_sharing())


def pool_active_threads():
    """Threads the next parallel job would use, the caller included."""
    return hf_pool_active()


def _cpu_reading():
    """(wall ns, this process's CPU ns, busy seconds of the mask's CPUs, CPUs,
    CPU pressure µs or -1), or None where the kernel's counters cannot be read."""
    cdef hf_cpu_reading r
    if not hf_cpu_read(&r):
        return None
    return (r.wall_ns, r.own_ns, r.busy_s, r.n_cpus, r.wait_us)


cdef hf_cpu_reading _reading_of(t):
    cdef hf_cpu_reading r
    r.wall_ns, r.own_ns, r.busy_s, r.n_cpus, r.wait_us = t
    return r


def _cpu_others(a, b):
    """CPUs other processes kept busy between two ``_cpu_reading()`` results."""
    cdef hf_cpu_reading ra = _reading_of(a), rb = _reading_of(b)
    return hf_cpu_others(&ra, &rb)


def _cpu_waiting(a, b):
    """The share of the time some task waited for a CPU between two readings (-1: unknown)."""
    cdef hf_cpu_reading ra = _reading_of(a), rb = _reading_of(b)
    return hf_cpu_waiting(&ra, &rb)


def _cpu_threads_worth(double others, double waiting, int n_cpus, size_t threads, size_t current):
    return hf_cpu_threads_worth(others, waiting, n_cpus, threads, current)


def _gemm_blocks(m, n, k):
    """How a product of this shape is cut: (blocks, block length)."""
    cdef size_t block = 0
    cdef size_t blocks = hf_gemm_blocks(<size_t>m, <size_t>n, <size_t>k, &block)
    return blocks, block


cdef void _count_task(void *ctx, size_t task) noexcept nogil:
    cdef int *counts = <int *>ctx
    counts[task] += 1


def _pool_check(n_tasks, rounds):
    """Run ``rounds`` jobs of ``n_tasks`` tasks; each task counts its own runs.
    Returns the counts (each must equal ``rounds``): a self-test of the pool."""
    counts = np.zeros(n_tasks, dtype=np.intc)
    cdef int *p = <int *>cnp.PyArray_DATA(<cnp.ndarray>counts)
    cdef size_t nt = <size_t>n_tasks, r, total = <size_t>rounds
    with nogil:
        for r in range(total):
            hf_pool_run(nt, _count_task, p)
    return counts


def _dense1_blocks(n):
    """How a Dense(1) batch of ``n`` rows is cut: (blocks, rows per block)."""
    cdef size_t rows = 0
    cdef size_t blocks = hf_dense1_blocks(<size_t>n, &rows)
    return blocks, rows


_DENSE1_KERNELS = {"pipelined": HF_DENSE1_PIPELINED, "fused": HF_DENSE1_FUSED}


def set_dense1_kernel(name):
    """Walk Dense(1) training rows with ``name`` ('fused' or 'pipelined', see
    csrc/hf_dense1.h), or 'auto': time both now and keep the faster."""
    if name == "auto":
        with nogil:
            hf_dense1_calibrate()
        return
    if name not in _DENSE1_KERNELS:
        raise ShapeError(f"the Dense(1) kernel must be 'auto', 'fused' or 'pipelined'; got {name!r}")
    hf_dense1_set_variant(_DENSE1_KERNELS[name])


def dense1_kernel():
    """The Dense(1) training kernel in use: 'fused' or 'pipelined'."""
    return "fused" if hf_dense1_variant() == HF_DENSE1_FUSED else "pipelined"
