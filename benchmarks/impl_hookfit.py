"""In-process implementation "hookfit": the public API, exactly as a user
calls it (``import hookfit as keras``; ``fit``/``evaluate``/``predict`` with
verbose=0)."""

from __future__ import annotations

import data
import machine
from keras_shaped import build_model, make_callbacks, workload

NAME = "hookfit"


def setup():
    import logging

    import hookfit as keras

    # The slow-callback check still runs (its cost is part of what is timed);
    # its warnings, which pass-through callbacks on a 10 µs step do trigger,
    # would only bury the tables.
    logging.getLogger("hookfit").setLevel(logging.ERROR)
    from hookfit import _native

    missing = [a for a in ("Sequential", "layers", "optimizers", "callbacks") if not hasattr(keras, a)]
    if missing:
        raise ImportError(f"hookfit has no {', '.join(missing)} (is the package fully installed?)")

    versions = {"hookfit": getattr(keras, "__version__", "?")}
    versions["hookfit core"] = (
        f"{_native.core.__name__} ({_native.core.cpu_features()}; {machine.module_file(_native.core)})"
    )

    def make(case):
        x, y = data.for_case(case)
        model = build_model(keras, case)
        return workload(case, model, x, y, make_callbacks(keras.callbacks.Callback, case))

    return versions, make
