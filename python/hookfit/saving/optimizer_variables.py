"""Optimizer state <-> the optimizer variables Keras stores in its files.

hookfit keeps each optimizer slot as one flat array over all parameters
(kernel, bias, kernel, ... as ``get_weights`` lists them); Keras keeps one
variable per slot and model variable. Both Keras generations store the
iteration count first; Keras 3 then the learning rate; then the slot
variables in the order the optimizer's ``build`` creates them (a "call"
creates its slots for every model variable, interleaving several names).
"""

from __future__ import annotations

import numpy as np

from hookfit.saving.file_errors import FileFormatError, UnsupportedConfigError

# Per optimizer class: the build calls, each a list of (hookfit slot index,
# Keras 2 variable name), given the optimizer (for its settings) and the
# Keras generation.


def _build_calls(optimizer, keras: int) -> list[list[tuple[int, str]]]:
    kind = type(optimizer).__name__
    if kind == "Adam":
        calls = [[(0, "m"), (1, "v")]]
        if optimizer.amsgrad:
            calls.append([(2, "vhat")])
        return calls
    if kind == "RMSprop":
        calls = [[(0, "velocity")]]
        if optimizer.momentum > 0:
            calls.append([(1, "momentum")])
        if optimizer.centered:
            calls.append([(2, "average_gradient")])
        return calls
    if kind == "SGD":
        # tf-keras 2 always makes the momentum slot; Keras 3 only with momentum.
        return [[(0, "m")]] if (keras == 2 or optimizer.momentum != 0) else []
    raise UnsupportedConfigError(f"Saving the state of the optimizer {kind} in Keras files is not supported.")


def _pieces(flat: np.ndarray, shapes) -> list[np.ndarray]:
    out, offset = [], 0
    for shape in shapes:
        size = int(np.prod(shape))
        out.append(flat[offset : offset + size].reshape(shape))
        offset += size
    return out


def to_keras(optimizer, variable_names, shapes, keras: int) -> list[tuple[str, np.ndarray]]:
    """[(Keras 2 variable name, array)] in Keras's order, iterations first
    (then, for Keras 3, the learning rate)."""
    state = optimizer.get_state()
    slots = [np.asarray(s, dtype=np.float32).reshape(-1) for s in state["slots"]]
    out = [("iteration:0", np.asarray(state["iterations"], dtype=np.int64 if keras == 2 else np.int32))]
    if keras == 3:
        out.append(("learning_rate:0", np.asarray(state["learning_rate"], dtype=np.float32)))
    for call in _build_calls(optimizer, keras):
        per_slot = {slot: _pieces(slots[slot], shapes) if slot < len(slots) else None for slot, _ in call}
        for v, var_name in enumerate(variable_names):
            for slot, keras_name in call:
                piece = per_slot[slot]
                array = piece[v] if piece is not None else np.zeros(shapes[v], np.float32)
                out.append((f"{keras_name}/{var_name.split(':')[0]}:0", array))
    return out


def expected_shapes(optimizer, shapes, keras: int) -> list[tuple]:
    """The shapes of the variables ``to_keras`` lists, in order."""
    out = [(), ()] if keras == 3 else [()]
    for call in _build_calls(optimizer, keras):
        for shape in shapes:
            out.extend(tuple(shape) for _ in call)
    return out


def from_keras(optimizer, arrays, shapes, keras: int, source: str) -> dict:
    """A ``get_state()`` dict for ``optimizer`` from Keras's variable list
    (shapes already checked against ``expected_shapes``)."""
    own = optimizer.get_state()
    slots = [np.zeros_like(np.asarray(s, dtype=np.float32)).reshape(-1) for s in own["slots"]]
    iterations = int(np.asarray(arrays[0]).reshape(()))
    if iterations < 0 or iterations >= 2**62:
        raise FileFormatError(f"{source}: the optimizer's iteration count {iterations} is out of range.")
    learning_rate = own["learning_rate"]
    position = 1
    if keras == 3:
        learning_rate = float(np.asarray(arrays[1]).reshape(()))
        position = 2
    offsets = np.cumsum([0] + [int(np.prod(s)) for s in shapes])
    for call in _build_calls(optimizer, keras):
        for v in range(len(shapes)):
            for slot, _ in call:
                if slot < len(slots):
                    slots[slot][offsets[v] : offsets[v + 1]] = np.asarray(arrays[position], np.float32).reshape(-1)
                position += 1
    return {
        "iterations": iterations,
        "learning_rate": learning_rate,
        "slots": [s.reshape(np.shape(o)) for s, o in zip(slots, own["slots"])],
    }


def read_state(optimizer, model, group, names, label: str, keras: int) -> dict:
    """Read the variables ``names`` of the HDF5 ``group`` (each shape checked
    against what ``optimizer`` on ``model`` needs first) into a state dict."""
    from hookfit.saving import h5_io

    shapes = [w.shape for w in model.get_weights()]
    expected = expected_shapes(optimizer, shapes, keras)
    if len(names) != len(expected):
        raise FileFormatError(
            f"{label}: the optimizer state has {len(names)} variables; {type(optimizer).__name__} on this "
            f"model needs {len(expected)} (its momentum/amsgrad/centered settings differ?)."
        )
    arrays = [
        h5_io.read_dataset(group, n, label, shape, what=f"optimizer variable {n!r}")
        for n, shape in zip(names, expected)
    ]
    return from_keras(optimizer, arrays, shapes, keras=keras, source=label)


def restore(model, read) -> None:
    """Set ``model.optimizer``'s state from ``read(optimizer)`` (None: the
    file holds no optimizer state)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    state = read(optimizer)
    if state is not None:
        optimizer.set_state(state)
