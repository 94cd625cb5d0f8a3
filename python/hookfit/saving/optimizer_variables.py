"""Optimizer state <-> the optimizer variables Keras stores in its files.

hookfit keeps each optimizer slot as one flat array over all the model's
weights (kernel, bias, ... as ``get_weights`` lists them, non-trainable ones
included and unused); Keras keeps one variable per slot and *trainable*
model variable. Both Keras generations store the iteration count first;
Keras 3 then the learning rate; then, with ``use_ema``, the moving averages
(the base optimizer's ``build`` makes them before the subclass's slots);
then the slot variables in the order the optimizer's ``build`` creates them
(one call makes its slots for every model variable, interleaving several
names); Keras 3's Nadam ends with its scalar ``u_product``.
"""

from __future__ import annotations

import math

import numpy as np

from hookfit.saving.file_errors import FileFormatError, UnsupportedConfigError

# Per optimizer class, the build calls of its slots: each a list of
# (hookfit slot index, Keras 2 variable name). Keras 3's names differ
# (momentum/velocity, ...) but its files address variables by position.
_SLOT_CALLS = {
    "Adagrad": [[(0, "accumulator")]],
    "Adamax": [[(0, "m"), (1, "u")]],
    "Adadelta": [[(0, "accumulated_grad"), (1, "accumulated_delta_var")]],
    "Nadam": [[(0, "m"), (1, "v")]],
    "Ftrl": [[(0, "accumulator"), (1, "linear")]],
    "Lion": [[(0, "m")]],
}
_NADAM_U_PRODUCT_SLOT = 2
# Slots that Keras's build fills with initial_accumulator_value (hookfit
# fills them at its first step, so an untrained state is written as Keras has it).
_ACCUMULATOR_STARTS = {"Adagrad": 0, "Ftrl": 0}


def _kind(optimizer) -> str:
    kind = type(optimizer).__name__
    return "Adam" if kind == "AdamW" else kind


def _slot_calls(optimizer, keras: int) -> list[list[tuple[int, str]]]:
    kind = _kind(optimizer)
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
    if kind in _SLOT_CALLS:
        return _SLOT_CALLS[kind]
    raise UnsupportedConfigError(
        f"Saving the state of the optimizer {type(optimizer).__name__} in Keras files is not supported "
        f"(supported: SGD, RMSprop, Adam, AdamW, {', '.join(_SLOT_CALLS)})."
    )


def _build_calls(optimizer, n_slots: int, keras: int) -> list[list[tuple[int, str]]]:
    """Every per-variable build call in Keras's order: the EMA averages (the
    last hookfit slot) first, then the optimizer's own slots."""
    calls = _slot_calls(optimizer, keras)
    if getattr(optimizer, "use_ema", False):
        calls = [[(n_slots - 1, "average")]] + calls
    return calls


def _has_u_product(optimizer, keras: int) -> bool:
    # tf-keras 2 keeps Nadam's u_product as an untracked tf.Variable (not in
    # its files); Keras 3 tracks it as the optimizer's last variable.
    return keras == 3 and _kind(optimizer) == "Nadam"


def nadam_u_product(beta_1: float, iterations: int) -> float:
    """tf-keras 2's momentum-schedule product after ``iterations`` steps (what
    hookfit's Nadam keeps), for a file that does not hold it."""
    product = 1.0
    exact = min(iterations, 4000)  # beyond that 0.96**t is below float precision
    for t in range(1, exact + 1):
        product *= beta_1 * (1.0 - 0.5 * 0.96**t)
    if iterations > exact and product != 0.0:
        product *= beta_1 ** (iterations - exact)
    return float(np.float32(product))


def trainable_variables(model, optimizer) -> list[tuple[str, tuple, int, int]]:
    """[(variable path, shape, offset, size)] of the trainable weights in
    Keras's order (model.layers, each layer's weights), with where each sits
    in the flat slot buffers. The network lists its weights by offset; the
    two orders are checked to agree (else the file would get garbage)."""
    from hookfit.saving import keras_layers

    wanted = []
    for layer in model.layers:
        weights = layer.get_weights()
        if not weights or not getattr(layer, "trainable", True):
            continue
        names = keras_layers.translator_for_layer(layer).weight_names
        for i, w in enumerate(weights[: len(getattr(layer, "trainable_weights", weights))]):
            wanted.append((f"{layer.name}/{names[i] if i < len(names) else f'weight_{i}'}", tuple(np.shape(w))))
    network = getattr(optimizer, "_network", None)
    if network is None:
        raise UnsupportedConfigError("the optimizer is not bound to a compiled model; compile before saving its state.")
    placed = sorted((offset, size) for _, _, offset, size, trainable in network.variables() if trainable)
    if len(placed) != len(wanted) or any(int(np.prod(shape)) != size for (_, shape), (_, size) in zip(wanted, placed)):
        raise UnsupportedConfigError(
            "the optimizer's slots are laid out in another order than Keras's trainable variables for this "
            "model; its state cannot be written in a Keras file (save to '.npz' instead)."
        )
    return [(name, shape, offset, size) for (name, shape), (offset, size) in zip(wanted, placed)]


def to_keras(optimizer, model, keras: int) -> list[tuple[str, np.ndarray]]:
    """[(Keras 2 variable name, array)] in Keras's order, iterations first
    (then, for Keras 3, the learning rate)."""
    state = optimizer.get_state()
    slots = [np.asarray(s, dtype=np.float32).reshape(-1) for s in state["slots"]]
    pieces = trainable_variables(model, optimizer)
    fresh = state["iterations"] == 0  # Keras's build has run; hookfit's first step has not
    flat_weights = np.asarray(optimizer._network.params, np.float32)
    out = [("iteration:0", np.asarray(state["iterations"], dtype=np.int64 if keras == 2 else np.int32))]
    if keras == 3:
        out.append(("learning_rate:0", np.asarray(state["learning_rate"], dtype=np.float32)))
    starts = {_ACCUMULATOR_STARTS[_kind(optimizer)]} if _kind(optimizer) in _ACCUMULATOR_STARTS else set()
    for call in _build_calls(optimizer, len(slots), keras):
        for name, shape, offset, size in pieces:
            for slot, keras_name in call:
                if fresh and keras_name == "average":
                    array = flat_weights[offset : offset + size]
                elif fresh and slot in starts:
                    array = np.full(size, optimizer.initial_accumulator_value, np.float32)
                elif slot < len(slots):
                    array = slots[slot][offset : offset + size]
                else:
                    array = np.zeros(size, np.float32)
                out.append((f"{keras_name}/{name}:0", array.reshape(shape)))
    if _has_u_product(optimizer, keras):
        u = 1.0 if fresh else float(slots[_NADAM_U_PRODUCT_SLOT][0])
        out.append(("u_product:0", np.asarray(u, dtype=np.float32)))
    return out


def expected_shapes(optimizer, model, keras: int) -> list[tuple]:
    """The shapes of the variables ``to_keras`` lists, in order."""
    n_slots = len(optimizer.get_state()["slots"])
    trainable = [shape for _, shape, _, _ in trainable_variables(model, optimizer)]
    out = [(), ()] if keras == 3 else [()]
    for call in _build_calls(optimizer, n_slots, keras):
        for shape in trainable:
            out.extend(tuple(shape) for _ in call)
    if _has_u_product(optimizer, keras):
        out.append(())
    return out


def from_keras(optimizer, model, arrays, keras: int, source: str) -> dict:
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
    pieces = trainable_variables(model, optimizer)
    for call in _build_calls(optimizer, len(slots), keras):
        for _, _, offset, size in pieces:
            for slot, _ in call:
                if slot < len(slots):
                    slots[slot][offset : offset + size] = np.asarray(arrays[position], np.float32).reshape(-1)
                position += 1
    if _kind(optimizer) == "Nadam" and len(slots) > _NADAM_U_PRODUCT_SLOT and slots[_NADAM_U_PRODUCT_SLOT].size:
        if _has_u_product(optimizer, keras):
            u = float(np.asarray(arrays[position]).reshape(()))
        else:
            u = nadam_u_product(float(optimizer.beta_1), iterations)
        if not math.isfinite(u):
            raise FileFormatError(f"{source}: Nadam's u_product {u!r} is not a finite number.")
        slots[_NADAM_U_PRODUCT_SLOT][0] = u
    return {
        "iterations": iterations,
        "learning_rate": learning_rate,
        "slots": [s.reshape(np.shape(o)) for s, o in zip(slots, own["slots"])],
    }


def read_state(optimizer, model, group, names, label: str, keras: int) -> dict:
    """Read the variables ``names`` of the HDF5 ``group`` (each shape checked
    against what ``optimizer`` on ``model`` needs first) into a state dict."""
    from hookfit.saving import h5_io

    expected = expected_shapes(optimizer, model, keras)
    if len(names) != len(expected):
        raise FileFormatError(
            f"{label}: the optimizer state has {len(names)} variables; {type(optimizer).__name__} on this "
            f"model needs {len(expected)} (its momentum/amsgrad/centered/use_ema settings, or which "
            "layers are trainable, differ?)."
        )
    arrays = [
        h5_io.read_dataset(group, n, label, shape, what=f"optimizer variable {n!r}")
        for n, shape in zip(names, expected)
    ]
    return from_keras(optimizer, model, arrays, keras=keras, source=label)


def restore(model, read) -> None:
    """Set ``model.optimizer``'s state from ``read(optimizer)`` (None: the
    file holds no optimizer state)."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None:
        return
    state = read(optimizer)
    if state is not None:
        optimizer.set_state(state)
