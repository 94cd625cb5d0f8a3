"""The Keras 3 weights layout (``.weights.h5``, and ``model.weights.h5``
inside a ``.keras`` archive).

``layers/<entry>/vars/<i>`` datasets, a ``name`` attribute on each ``vars``
group, an empty top-level ``vars`` group for the model itself, and, in a
whole-model file, ``optimizer/vars/<i>`` (iterations, learning rate, slots).
"""

from __future__ import annotations

import numpy as np

from hookfit.saving import h5_io, optimizer_variables
from hookfit.saving.file_errors import FileFormatError
from hookfit.saving.layer_weights import current_weights, layer_entries


def write(f, model, *, optimizer=None, weights_of=None) -> None:
    """``weights_of(layer)``: the arrays to write for ``layer`` (default:
    its current weights)."""
    weights_of = weights_of or current_weights
    layers = f.create_group("layers")
    for entry, layer in layer_entries(model):
        group = layers.create_group(entry).create_group("vars")
        group.attrs["name"] = getattr(layer, "name", entry)
        for i, w in enumerate(weights_of(layer)):
            group.put_dataset(str(i), np.asarray(w, dtype=np.float32))
    if optimizer is not None:
        group = f.create_group("optimizer").create_group("vars")
        group.attrs["name"] = str(getattr(optimizer, "name", "optimizer")).lower()
        for i, (_, array) in enumerate(optimizer_variables.to_keras(optimizer, model, keras=3)):
            group.put_dataset(str(i), array)
    # Keras 3 also stores the model's own (empty) variables at the root.
    f.create_group("vars").attrs["name"] = getattr(model, "name", "sequential")


def _indexed(group, label):
    names = h5_io.child_names(group, label)
    if any(not n.isdigit() for n in names) or sorted(int(n) for n in names) != list(range(len(names))):
        raise FileFormatError(f"{label}: {group.name} holds {names[:10]}, not variables 0..n-1.")
    return [str(i) for i in range(len(names))]


def read_layers(f, label) -> dict:
    """entry -> [StoredArray] (shapes known, data not read yet)."""
    layers = h5_io.child_group(f, "layers", label, required=False)
    if layers is None:
        raise FileFormatError(
            f"{label} has no 'layers' group: it is not in the Keras 3 weights layout (a Keras 2 "
            "'.h5' weights file must be named '*.h5', not '*.weights.h5')."
        )
    found: dict = {}
    for entry in h5_io.child_names(layers, label):
        group = h5_io.child_group(layers, entry, label)
        variables = h5_io.child_group(group, "vars", label, required=False)
        if variables is None:
            found[entry] = []
            continue
        found[entry] = [
            h5_io.stored_dataset(variables, i, label, what=f"variable {i} of layer {entry!r}")
            for i in _indexed(variables, label)
        ]
    return found


def read_optimizer(f, label, optimizer, model):
    """The optimizer state stored in ``f`` (None when absent), every shape
    checked against what ``optimizer`` on ``model`` needs before reading."""
    group = h5_io.child_group(f, "optimizer", label, required=False)
    if group is None:
        return None
    variables = h5_io.child_group(group, "vars", label, required=False)
    if variables is None:
        return None
    return optimizer_variables.read_state(optimizer, model, variables, _indexed(variables, label), label, keras=3)
