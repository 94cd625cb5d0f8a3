"""In-process implementation "hookfit": the public API, exactly as a user
calls it (``import hookfit as keras``; ``fit``/``evaluate``/``predict`` with
verbose=0)."""

from __future__ import annotations

import data
import machine
from keras_shaped import build_model, make_callbacks, workload

NAME = "hookfit"


def first_batch_callback(keras):
    """A callback whose end hook (a no-op) runs at each epoch's first batch
    and then not again for an hour: the chunk boundary Keras's progress bar
    needs (it draws at the first batch), without any drawing."""

    class FirstBatch(keras.callbacks.Callback):
        batch_every_seconds = 3600

        def on_train_batch_end(self, batch, logs=None):
            pass

    return [FirstBatch()]


def builtin_callbacks(keras):
    """ModelCheckpoint(save_freq=50) + TensorBoard(update_freq=50) +
    TerminateOnNaN(), writing into a directory removed at exit: in RAM
    (/dev/shm) when there is one, so that the row measures the loop rather
    than the disk's fsync (every checkpoint is fsynced). The checkpoint is
    the file Keras 3 requires for weights (``*.weights.h5``) when h5py is
    installed, else ``.npz``."""
    import atexit
    import os
    import shutil
    import tempfile

    ram = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    where = tempfile.mkdtemp(prefix="hookfit-bench-", dir=ram)
    atexit.register(shutil.rmtree, where, True)
    try:
        import h5py  # noqa: F401

        checkpoint = "ckpt.weights.h5"
    except ImportError:
        checkpoint = "ckpt.npz"
    cb = keras.callbacks
    return [
        cb.ModelCheckpoint(os.path.join(where, checkpoint), save_weights_only=True, save_freq=50),
        cb.TensorBoard(log_dir=os.path.join(where, "tb"), update_freq=50),
        cb.TerminateOnNaN(),
    ]


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
        callbacks = make_callbacks(keras.callbacks.Callback, case)
        if case.builtins == "first_batch_hook":
            callbacks += first_batch_callback(keras)
        elif case.builtins:
            callbacks += builtin_callbacks(keras)
        return workload(case, model, x, y, callbacks)

    return versions, make
