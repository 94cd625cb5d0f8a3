"""``model.summary()`` in Keras 2's (tf-keras 2.21) format.

A Sequential model, or a functional one whose layers form a chain, gets the
three-column table (65 characters); any other graph gets the four-column one
(98 characters) with "Connected to": each input as ``layer[node][tensor]``.
Long fields wrap onto further lines, preferably after a ``),``/``],``/``',``.
"""

from __future__ import annotations

import numpy as np

_BREAKS = ("),", "},", "],", "',")


def _memory_size(n_bytes: float) -> str:
    for unit in ("Byte", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


def _rows(fields, positions) -> list:
    """The printed lines of one table row (fields wrap within their columns)."""
    left = [str(f) for f in fields]
    lines = []
    while any(left):
        line = ""
        for col in range(len(left)):
            start = positions[col - 1] if col else 0
            end = positions[col]
            last = col == len(positions) - 1
            space = 0 if last else 2
            cutoff = end - start - space - (0 if last else 1)
            piece = left[col][:cutoff]
            cuts = [piece.find(b) + len(b) for b in _BREAKS if piece.find(b) >= 0]
            if cuts:
                cutoff = min(cuts)
                piece = piece[:cutoff]
            if col == 0:
                line += " "
            line += piece + " " * space
            left[col] = left[col][cutoff:]
            line += " " * (positions[col] - len(line))
        lines.append(line)
    return lines


def _sequential_like(model) -> bool:
    if type(model).__name__ == "Sequential":
        return True
    calls = list(model._calls)
    for previous, call in zip(calls, calls[1:]):
        if len(call.inputs) != 1 or call.inputs[0] is not previous.output:
            return False
    return True


def _connections(call) -> list:
    return [f"{t._layer.name}[{t._node_index}][0]" for t in call.inputs]


def _size(weights) -> tuple[int, int]:
    return (int(sum(np.size(w) for w in weights)),
            int(sum(np.size(w) * np.asarray(w).dtype.itemsize for w in weights)))


def print_summary(model, line_length=None, positions=None, print_fn=None, show_trainable=False,
                  layer_range=None) -> None:
    if not model.built:
        raise ValueError(
            "This model has not yet been built. Build the model first by calling `build()` or "
            "by calling the model on a batch of data."
        )
    print_fn = print_fn or print
    sequential = _sequential_like(model)
    if sequential:
        line_length = line_length or 65
        positions = list(positions or [0.45, 0.85, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = list(positions or [0.3, 0.6, 0.70, 1.0])
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    if show_trainable:
        line_length += 11
        positions.append(line_length)
        header.append("Trainable")

    layers = model.layers
    if layer_range is not None:
        import re

        if len(layer_range) != 2 or not all(isinstance(n, str) for n in layer_range):
            raise ValueError(f"layer_range must be two layer names; got {layer_range!r}")
        low = [i for i, l in enumerate(layers) if re.match(layer_range[0], l.name)]
        high = [i for i, l in enumerate(layers) if re.match(layer_range[1], l.name)]
        if not low or not high:
            raise ValueError(
                f"Passed layer_names do not match the layer names in the model. Received: {layer_range}"
            )
        layers = layers[min(low) : max(high) + 1]
    call_of = {id(c.layer): c for c in model._calls}

    lines = [f'Model: "{model.name}"', "_" * line_length]
    lines += _rows(header, positions)
    lines.append("=" * line_length)
    for layer in layers:
        fields = [f"{layer.name} ({type(layer).__name__})", layer.output_shape, layer.count_params()]
        if not sequential:
            call = call_of.get(id(layer))
            fields.append(_connections(call) if call is not None else [])
        if show_trainable:
            fields.append("Y" if layer.trainable else "N")
        lines += _rows(fields, positions)
        lines.append(" " * line_length)
    lines.append("=" * line_length)
    trainable, trainable_bytes = _size(model.trainable_weights)
    frozen, frozen_bytes = _size(model.non_trainable_weights)
    lines.append(f"Total params: {trainable + frozen} ({_memory_size(trainable_bytes + frozen_bytes)})")
    lines.append(f"Trainable params: {trainable} ({_memory_size(trainable_bytes)})")
    lines.append(f"Non-trainable params: {frozen} ({_memory_size(frozen_bytes)})")
    lines.append("_" * line_length)
    for line in lines:
        print_fn(line)
