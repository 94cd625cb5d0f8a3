"""Peer: Keras 2 (tf-keras) or Keras 3 (jax or torch backend), one per process.

    python benchmarks/peers/keras_peer.py keras2|keras3-jax|keras3-torch --cases ... --out ...

Run by ``run.py`` with the interpreter given by ``--peer-python``; the
backend is chosen by the environment before Keras is imported (``run.py``
sets it; the defaults here make the script usable on its own). Same cases,
same calls as hookfit (``keras_shaped.py``), same data (``data.py``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from peer_protocol import ONE_THREAD_ENV, serve

FLAVORS = ("keras2", "keras3-jax", "keras3-torch")


def setup(flavor: str):
    for key, value in ONE_THREAD_ENV.items():
        os.environ.setdefault(key, value)
    versions = {}
    if flavor == "keras2":
        os.environ["TF_USE_LEGACY_KERAS"] = "1"
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        from tensorflow import keras

        versions["tensorflow"] = tf.__version__
        if not keras.__name__.startswith("tf_keras"):
            raise ImportError(f"tf.keras is {keras.__name__}, not tf_keras (install tf-keras)")
        import tf_keras

        versions["tf_keras"] = tf_keras.__version__
    else:
        backend = flavor.split("-", 1)[1]
        os.environ["KERAS_BACKEND"] = backend
        if backend == "torch":
            import torch

            torch.set_num_threads(1)
            torch.set_num_interop_threads(1)
            versions["torch"] = torch.__version__
        else:
            import jax
            import jaxlib

            versions["jax"] = jax.__version__
            versions["jaxlib"] = jaxlib.__version__
        import keras

        if keras.backend.backend() != backend:
            raise ImportError(f"Keras picked backend {keras.backend.backend()}, not {backend}")
        versions["keras"] = keras.__version__
    import numpy as np

    versions["numpy"] = np.__version__

    import data
    from keras_shaped import build_model, make_callbacks, workload

    def make(case):
        if case.builtins:
            from peer_protocol import Declined

            raise Declined("the built-in callback mix is measured for hookfit only")
        x, y = data.for_case(case)
        model = build_model(keras, case, input_layer=flavor != "keras2")
        callbacks = make_callbacks(keras.callbacks.Callback, case)
        return workload(case, model, x, y, callbacks)

    return versions, make


if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in FLAVORS:
        sys.exit(f"usage: keras_peer.py {{{'|'.join(FLAVORS)}}} --cases ... --out PATH")
    flavor = sys.argv.pop(1)
    serve(flavor, lambda: setup(flavor))
