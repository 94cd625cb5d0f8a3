"""Which file format a path means, from its suffix, as Keras decides.

Whole models: ``.keras`` (Keras 3 archive), ``.h5``/``.hdf5`` (Keras 2's
legacy HDF5), ``.npz`` (hookfit's light format). Weights: ``.weights.h5``
(Keras 3 layout), ``.h5``/``.hdf5`` (Keras 2 layout), ``.npz``.
"""

from __future__ import annotations

import os

MODEL_FORMATS = {".keras": "keras", ".h5": "keras2_h5", ".hdf5": "keras2_h5", ".npz": "npz"}
WEIGHTS_FORMATS = {".weights.h5": "keras3_h5", ".h5": "keras2_h5", ".hdf5": "keras2_h5", ".npz": "npz"}


def model_format(path) -> str:
    """The whole-model format of ``path``; ``ValueError`` naming the accepted suffixes."""
    name = os.fspath(path)
    if name.endswith(".weights.h5"):
        raise ValueError(
            f"{name!r} names a weights file ('.weights.h5'); a whole model goes to '.keras' (Keras 3), "
            "'.h5' (Keras 2) or '.npz' (hookfit). Use save_weights for '.weights.h5'."
        )
    for suffix, kind in MODEL_FORMATS.items():
        if name.endswith(suffix):
            return kind
    raise ValueError(
        f"Cannot tell the model format of {name!r}: the file name must end with '.keras' (Keras 3 "
        "archive), '.h5' (Keras 2 HDF5) or '.npz' (hookfit's NumPy archive)."
    )


def weights_format(path) -> str:
    """The weights format of ``path``; ``ValueError`` naming the accepted suffixes."""
    name = os.fspath(path)
    for suffix, kind in WEIGHTS_FORMATS.items():
        if name.endswith(suffix):
            return kind
    if name.endswith(".keras"):
        raise ValueError(
            f"{name!r} names a whole-model file; weights go to '.weights.h5' (Keras 3), '.h5' (Keras 2) "
            "or '.npz'. Use model.save for '.keras'."
        )
    raise ValueError(
        f"Cannot tell the weights format of {name!r}: the file name must end with '.weights.h5' (Keras 3 "
        "layout), '.h5' (Keras 2 layout) or '.npz' (NumPy archive, no extra dependency)."
    )


def check_checkpoint_path(path, *, save_weights_only: bool) -> None:
    """What ``ModelCheckpoint`` accepts, as Keras does: whole models to
    ``.keras``/``.h5`` (and hookfit's ``.npz``), weights to
    ``.weights.h5``/``.h5`` (and ``.npz``). Raises ``ValueError``."""
    if save_weights_only:
        weights_format(path)
    else:
        model_format(path)


def check_overwrite(path, overwrite: bool) -> None:
    """``overwrite=False`` and an existing file: Keras asks on the terminal;
    hookfit refuses instead (a prompt would hang an unattended run)."""
    if not overwrite and os.path.exists(path):
        raise FileExistsError(
            f"{os.fspath(path)!r} exists and overwrite=False: nothing was written. Pass "
            "overwrite=True to replace it, or choose another name."
        )
