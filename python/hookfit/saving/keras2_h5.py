"""Keras 2's (tf-keras 2) legacy HDF5 layouts.

Weights (``save_weights("w.h5")``): the root holds the attributes
``layer_names``, ``backend``, ``keras_version``; one group per layer, named
after the layer, with a ``weight_names`` attribute (``dense/kernel:0``, ...)
and the datasets at those paths; an empty ``top_level_model_weights`` group.

Whole model (``save("m.h5")``): the root attributes ``keras_version``,
``backend``, ``model_config`` and ``training_config`` (JSON), the weights
layout above in the group ``model_weights``, and the optimizer's variables
in ``optimizer_weights`` (with their own ``weight_names``).
"""

from __future__ import annotations

import json

import numpy as np

from hookfit.saving import h5_io, keras_layers, optimizer_variables
from hookfit.saving.file_errors import FileFormatError
from hookfit.saving.layer_weights import WeightsMismatchError, current_weights

KERAS_VERSION = "2.21.0"  # the tf-keras these files follow
BACKEND = "tensorflow"


def _weight_names(layer) -> list[str]:
    names = keras_layers.translator_for_layer(layer).weight_names
    return [f"{layer.name}/{n}:0" for n in names[: len(layer.get_weights())]]


def write_weights(group, model, weights_of=None) -> None:
    """``weights_of(layer)``: the arrays to write for ``layer`` (default:
    its current weights)."""
    weights_of = weights_of or current_weights
    layers = list(model.layers)
    group.attrs["layer_names"] = np.array([layer.name.encode("utf8") for layer in layers])
    group.attrs["backend"] = BACKEND.encode("utf8")
    group.attrs["keras_version"] = KERAS_VERSION.encode("utf8")
    for layer in sorted(layers, key=lambda layer: layer.name):
        g = group.create_group(layer.name)
        names = _weight_names(layer)
        g.attrs["weight_names"] = np.array([n.encode("utf8") for n in names], dtype="S")
        for name, value in zip(names, weights_of(layer)):
            g.put_dataset(name, np.asarray(value, dtype=np.float32))
    g = group.create_group("top_level_model_weights")
    g.attrs["weight_names"] = np.array([], dtype="S1")


def write_model(f, model, *, model_config: dict, training_config) -> None:
    f.attrs["keras_version"] = KERAS_VERSION
    f.attrs["backend"] = BACKEND
    f.attrs["model_config"] = json.dumps(model_config).encode("utf8")
    if training_config is not None:
        f.attrs["training_config"] = json.dumps(training_config).encode("utf8")
    write_weights(f.create_group("model_weights"), model)
    optimizer = getattr(model, "optimizer", None)
    if training_config is not None and optimizer is not None:
        variables = optimizer_variables.to_keras(optimizer, model, keras=2)
        g = f.create_group("optimizer_weights")
        g.attrs["weight_names"] = np.array([n.encode("utf8") for n, _ in variables], dtype="S")
        for name, value in variables:
            g.put_dataset(name, value)


def _layer_arrays(group, name, label) -> list:
    g = h5_io.child_group(group, name, label)
    return [
        h5_io.stored_dataset(g, weight, label, what=f"weight {weight!r} of layer {name!r}")
        for weight in h5_io.read_name_list(g, "weight_names", label)
    ]


def read_weights(group, label, entries, *, by_name: bool) -> dict:
    """entry -> [StoredArray] for ``layer_entries`` ``entries``: by order of
    the layers that have weights (Keras 2's topological loading), or by
    layer name with ``by_name``."""
    if "layer_names" not in group.attrs and not any(k.startswith("layer_names") for k in group.attrs):
        raise FileFormatError(
            f"{label} has no 'layer_names' attribute: it is not a Keras 2 HDF5 weights file "
            "(a Keras 3 weights file must be named '*.weights.h5')."
        )
    layer_names = h5_io.read_name_list(group, "layer_names", label)
    stored = {name: _layer_arrays(group, name, label) for name in layer_names}
    if by_name:
        by_layer = {getattr(layer, "name", entry): entry for entry, layer in entries}
        return {by_layer[name]: arrays for name, arrays in stored.items() if name in by_layer}
    with_weights = [name for name in layer_names if stored[name]]
    model_with_weights = [entry for entry, layer in entries if layer.get_weights()]
    if len(with_weights) != len(model_with_weights):
        raise WeightsMismatchError(
            f"Layer count mismatch when loading weights from {label}: the model has "
            f"{len(model_with_weights)} layers with weights, the file {len(with_weights)} "
            f"({with_weights}). Load it into a model with the same architecture, or use by_name=True."
        )
    return {entry: stored[name] for entry, name in zip(model_with_weights, with_weights)}


def read_model_config(f, label) -> tuple[dict, dict | None]:
    config = h5_io.read_string_attribute(f, "model_config", label, required=False)
    if config is None:
        raise FileFormatError(
            f"{label} has no 'model_config' attribute: it is a weights file, not a whole model; load "
            "it with model.load_weights."
        )
    training = h5_io.read_string_attribute(f, "training_config", label, required=False)
    try:
        return json.loads(config), (json.loads(training) if training else None)
    except ValueError as e:
        raise FileFormatError(f"{label}: its model_config or training_config is not valid JSON ({e}).") from None


def read_optimizer(f, label, optimizer, model):
    group = h5_io.child_group(f, "optimizer_weights", label, required=False)
    if group is None:
        return None
    names = h5_io.read_name_list(group, "weight_names", label)
    return optimizer_variables.read_state(optimizer, model, group, names, label, keras=2)
