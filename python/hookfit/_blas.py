"""Which BLAS the compiled core's matrix products use, chosen once at import.

scipy bundles an OpenBLAS that lags the releases; the ``scipy-openblas32``
wheel (a dependency) ships the newest one for exactly this use, and on this
project's reference CPU its sgemm is 10-18% faster at the MLP shapes. Its
``scipy_sgemm_`` has the Fortran ABI of scipy's ``cython_blas.sgemm``, so the
core takes its address through the same function-pointer table.

``HOOKFIT_BLAS=scipy`` keeps scipy's copy (for A/B measurements or if the
wheel is missing); the default ``auto`` takes the newest one available.
"""

from __future__ import annotations

import ctypes
import os

_CHOICES = ("auto", "scipy", "scipy-openblas32")

# The loaded library, kept for the life of the process (the core holds a
# pointer into it), and its path for the thread policy.
library = None
library_path = None


def _load_scipy_openblas32():
    import scipy_openblas32

    path = os.path.join(scipy_openblas32.get_lib_dir(), scipy_openblas32.get_library(True))
    lib = ctypes.CDLL(path)
    address = ctypes.cast(lib.scipy_sgemm_, ctypes.c_void_p).value
    return lib, path, address, f"scipy-openblas32 {scipy_openblas32.__version__}"


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
