"""Process-wide settings hookfit owns: how many threads its matrix products use.

The products go through one OpenBLAS (see ``hookfit._blas``). Left alone,
OpenBLAS starts a thread per core it sees, including cores the process may
not run on (a container's or ``taskset``'s CPU mask). hookfit instead sets
that BLAS's thread count itself, once at import and on every
``set_num_threads``:

- default: the CPUs in this process's affinity mask;
- ``HOOKFIT_NUM_THREADS=n`` in the environment overrides the default;
- ``set_num_threads(n)`` at run time overrides both.

Only the BLAS hookfit uses is changed; NumPy's and SciPy's own BLAS keep
their settings (when hookfit falls back to SciPy's copy, that copy is the
one set).
"""

from __future__ import annotations

import numbers
import os

_ENV = "HOOKFIT_NUM_THREADS"
_threads = None  # the count in force, once applied


def _affinity_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _check(n, what):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{what} must be a positive integer (threads); got {n!r}")
    return int(n)


def _default() -> int:
    raw = os.environ.get(_ENV)
    if raw is None or not raw.strip():
        return _affinity_cpus()
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


def _apply(n: int) -> None:
    global _threads
    from hookfit import _blas

    if _blas.library is not None:  # the OpenBLAS hookfit loaded itself
        _blas.library.scipy_openblas_set_num_threads(n)
    else:
        for lib in _scipy_copy():
            lib.set_num_threads(n)
    _threads = n


def set_num_threads(n) -> None:
    """Use ``n`` threads for hookfit's matrix products from now on."""
    _apply(_check(n, "n"))


def get_num_threads() -> int:
    """The thread count hookfit's products use (applying the default first)."""
    if _threads is None:
        _apply(_default())
    return _threads
