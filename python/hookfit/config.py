"""Process-wide settings hookfit owns: how many threads its native work uses.

hookfit runs its products and other parallel work on a small pool of its own
threads (csrc/hf_pool.h): work is split into a fixed set of tasks that free
threads claim one by one, so results are bitwise the same for any thread
count, an idle pool sleeps, and a thread slowed by another process on its
core takes fewer tasks instead of holding the step back. The OpenBLAS hookfit
loads for its products (``hookfit._blas``) then runs single-threaded inside
those tasks: its own threads would only compete with the pool.

- default: the CPUs in this process's affinity mask; under an MPI launcher
  that did not bind its ranks (the mask is every CPU), those CPUs shared
  among the ranks on this machine (``MPI_LOCALNRANKS`` from MPICH's
  mpiexec, ``OMPI_COMM_WORLD_LOCAL_SIZE`` from Open MPI's): 2 ranks on 2
  cores take one thread each instead of two threads fighting for each core;
- with the default, each parallel job uses only the CPUs that other
  processes leave free, read from the kernel's CPU counters (and its CPU
  pressure counter, where there is one) at most every 0.1 s (Linux;
  csrc/hf_cpu_share.h): with a busy neighbour on the second of two cores,
  two threads would wait for whichever one the scheduler preempts, and run
  slower than one;
- ``HOOKFIT_NUM_THREADS=n`` in the environment overrides the default;
- ``set_num_threads(n)`` at run time overrides both. A count set either way
  is used as it is, busy neighbours or not.

Only hookfit's own OpenBLAS is changed; NumPy's and SciPy's keep their
settings. (With ``HOOKFIT_BLAS=scipy`` the products use SciPy's copy and its
own threads; then the pool keeps one thread unless ``set_num_threads`` is
called, which sets that copy's threads too.)

The Dense(1) kernel (the tutorial's model) walks its rows in one of two ways
whose speed depends on the CPU; hookfit times both once per process at import
(2-3 ms, over rows read as an epoch reads them) and keeps the faster. ``HOOKFIT_DENSE1_KERNEL=fused`` or
``pipelined`` forces one (``auto``, the default, times them).
"""

from __future__ import annotations

import os

from hookfit.utils.arguments import is_integer

_ENV = "HOOKFIT_NUM_THREADS"
_threads = None  # the count in force, once applied


def _affinity_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _check(n, what):
    if not is_integer(n) or not 1 <= n <= 64:
        raise ValueError(f"{what} must be a positive integer (threads, at most 64); got {n!r}")
    return int(n)


def _from_user() -> bool:
    """Whether the environment names the thread count (then it is kept as is)."""
    raw = os.environ.get(_ENV)
    return raw is not None and bool(raw.strip())


def _default() -> int:
    if not _from_user():
        from hookfit.utils.launcher import launched_local_size  # the environment only

        cpus, ranks = _affinity_cpus(), launched_local_size()
        if ranks > 1 and cpus >= (os.cpu_count() or cpus):  # unbound ranks share the machine
            cpus = max(1, cpus // ranks)
        return min(cpus, 64)
    raw = os.environ[_ENV]
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{_ENV}={raw!r} must be a positive integer (threads)") from None
    return _check(value, _ENV)


def _scipy_copy():
    """threadpoolctl's handle on scipy's bundled OpenBLAS (the fallback BLAS)."""
    from threadpoolctl import ThreadpoolController

    controllers = ThreadpoolController().select(internal_api="openblas").lib_controllers
    mine = [c for c in controllers if f"{os.sep}scipy.libs{os.sep}" in c.filepath]
    if not mine:
        raise RuntimeError(
            "hookfit cannot find scipy's OpenBLAS among the loaded libraries "
            f"({[c.filepath for c in controllers]}); set OPENBLAS_NUM_THREADS instead"
        )
    return mine


def _apply(n: int, *, explicit: bool) -> None:
    global _threads
    from hookfit import _blas, _core

    if _blas.library is not None:  # hookfit's own OpenBLAS: one thread inside each task
        _blas.library.scipy_openblas_set_num_threads(1)
        _core.set_threads(n)
        # The default yields the CPUs other processes keep busy; a count the
        # user chose (set_num_threads, HOOKFIT_NUM_THREADS) is kept as it is.
        _core.set_pool_share(not explicit and not _from_user())
    elif explicit:  # scipy's copy does the products with its own threads
        for lib in _scipy_copy():
            lib.set_num_threads(n)
        _core.set_threads(1)
    _threads = n


def set_num_threads(n) -> None:
    """Use ``n`` threads for hookfit's native work from now on."""
    _apply(_check(n, "n"), explicit=True)


def get_num_threads() -> int:
    """The thread count hookfit's native work uses."""
    if _threads is None:
        _apply(_default(), explicit=False)
    return _threads


_KERNEL_ENV = "HOOKFIT_DENSE1_KERNEL"


def _choose_dense1_kernel(core) -> None:
    """At import: the Dense(1) kernel named by the environment, else the faster here."""
    if not hasattr(core, "set_dense1_kernel"):  # the NumPy twin has one way
        return
    raw = os.environ.get(_KERNEL_ENV, "auto").strip().lower() or "auto"
    if raw not in ("auto", "fused", "pipelined"):
        raise ValueError(f"{_KERNEL_ENV}={raw!r} must be 'auto', 'fused' or 'pipelined'")
    core.set_dense1_kernel(raw)
