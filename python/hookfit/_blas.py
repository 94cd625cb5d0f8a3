"""Which BLAS the compiled core's matrix products use, chosen once at import.

scipy bundles an OpenBLAS that lags the releases; the ``scipy-openblas32``
wheel (a dependency) ships the newest one for exactly this use, and on this
project's reference CPU its sgemm is 10-18% faster at the MLP shapes. Its
``scipy_sgemm_`` has the Fortran ABI of scipy's ``cython_blas.sgemm``, so the
core takes its address through the same function-pointer table.

``HOOKFIT_BLAS=scipy`` keeps scipy's copy (for A/B measurements or if the
wheel is missing); the default ``auto`` takes the newest one available.

On AMD's Zen 4 (family 25 with AVX-512), OpenBLAS picks its SkylakeX
(AVX-512) kernels, but Zen 4 runs 512-bit operations as two 256-bit halves;
its Zen (AVX2) kernels were faster there: the 784-1024-1024-10 step at
batch 256 1.08x on one thread and 1.11x on two, 100-512-512-512-1 at 1024
1.05x and 1.01x, the MLP 784-256-128-10 unchanged (interleaved rounds on a
2-vCPU Zen 4 VM). So hookfit's copy is loaded with those kernels there,
unless ``OPENBLAS_CORETYPE`` is set.
"""

from __future__ import annotations

import ctypes
import os

_CHOICES = ("auto", "scipy", "scipy-openblas32")

# The loaded library, kept for the life of the process (the core holds a
# pointer into it), and its path for the thread policy.
library = None
library_path = None


def _zen4(cpuinfo="/proc/cpuinfo") -> bool:
    """Whether this is an AMD family-25 CPU with AVX-512 (Zen 4)."""
    fields = {}
    try:
        with open(cpuinfo, encoding="ascii", errors="replace") as f:
            for line in f:
                key, sep, value = line.partition(":")
                key = key.strip()
                if not sep or key in fields:
                    continue
                if key in ("vendor_id", "cpu family", "flags"):
                    fields[key] = value.strip()
                if not key:  # the first processor's block ends
                    break
    except OSError:
        return False
    return (fields.get("vendor_id") == "AuthenticAMD" and fields.get("cpu family") == "25"
            and "avx512f" in fields.get("flags", "").split())


def _load_scipy_openblas32():
    # OpenBLAS reads OPENBLAS_CORETYPE once, when it is loaded (importing
    # scipy_openblas32 loads it); set only for that moment, so that child
    # processes and libraries loaded later do not inherit it.
    coretype = "Zen" if "OPENBLAS_CORETYPE" not in os.environ and _zen4() else None
    if coretype is not None:
        os.environ["OPENBLAS_CORETYPE"] = coretype
    try:
        import scipy_openblas32

        path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
        lib = ctypes.CDLL(path)
    finally:
        if coretype is not None:
            del os.environ["OPENBLAS_CORETYPE"]
    address = ctypes.cast(lib.scipy_sgemm_, ctypes.c_void_p).value
    lib.scipy_openblas_get_corename.restype = ctypes.c_char_p
    kernels = lib.scipy_openblas_get_corename().decode("ascii", "replace")
    return lib, path, address, f"scipy-openblas32 {scipy_openblas32.__version__} ({kernels} kernels)"


def select(core) -> str:
    """Point ``core``'s products at the chosen BLAS; returns its name."""
    global library, library_path
    choice = os.environ.get("HOOKFIT_BLAS", "auto").strip().lower() or "auto"
    if choice not in _CHOICES:
        raise ImportError(f"HOOKFIT_BLAS={choice!r} is not known; use one of {', '.join(_CHOICES)}")
    if choice == "scipy" or not hasattr(core, "_set_sgemm"):
        return core.blas_name() if hasattr(core, "blas_name") else "numpy"
    try:
        lib, path, address, name = _load_scipy_openblas32()
    except (ImportError, OSError, AttributeError) as exc:
        if choice == "scipy-openblas32":
            raise ImportError(
                f"HOOKFIT_BLAS=scipy-openblas32 but that OpenBLAS cannot be loaded ({exc}); "
                "pip install scipy-openblas32, or set HOOKFIT_BLAS=auto"
            ) from exc
        return core.blas_name()
    from hookfit import config

    lib.scipy_openblas_set_num_threads.argtypes = [ctypes.c_int]
    lib.scipy_openblas_get_num_threads.restype = ctypes.c_int
    core._set_sgemm(address, name)
    library, library_path = lib, path
    config._apply(config._default(), explicit=False)  # hookfit's pool does the threading
    return name
