"""The implementation of the numeric core in use: the compiled ``_core``, or
its pure-NumPy twin ``_reference`` when the environment variable
``HOOKFIT_IMPLEMENTATION=reference`` is set (a debugging fallback; both have
the same API, see ``_core.pyi``).

    from hookfit._native import Network, Dataset, core
"""

from __future__ import annotations

import os

_choice = os.environ.get("HOOKFIT_IMPLEMENTATION", "compiled").strip().lower()

if _choice == "reference":
    from hookfit import _reference as core
elif _choice in ("", "compiled", "core"):
    from hookfit import _core as core  # type: ignore[no-redef]
else:
    raise ImportError(
        f"HOOKFIT_IMPLEMENTATION={_choice!r} is not known; use 'compiled' (the default) or 'reference'"
    )

from hookfit import _blas  # noqa: E402

_blas.select(core)

from hookfit import config  # noqa: E402

config._choose_dense1_kernel(core)

Network = core.Network
Dataset = core.Dataset

__all__ = ["Dataset", "Network", "core"]
