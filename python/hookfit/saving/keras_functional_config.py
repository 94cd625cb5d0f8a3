"""Functional model configs in the shapes Keras writes them.

Keras 3 (``config.json``): ``{"class_name": "Functional", "config": {"layers":
[...], "input_layers": ..., "output_layers": ...}}`` where each layer entry has
``inbound_nodes: [{"args": [tensor or [tensors]], "kwargs": {}}]`` and a tensor
is ``{"class_name": "__keras_tensor__", "config": {"shape", "dtype",
"keras_history": [layer, node, index]}}``. tf-keras 2 (``model_config``):
the same layer list with ``inbound_nodes: [[[layer, node, index, {}], ...]]``
and ``class_name`` "Functional" (older files: "Model").

Reading checks the whole graph from the config alone before any layer is
made: unique names, every reference to a listed layer, no cycle, one call
per layer (hookfit has no shared layers), the widths of every tensor and the
parameter count within bounds.
"""

from __future__ import annotations

from hookfit.saving import keras_layers
from hookfit.saving.file_errors import UnsupportedConfigError
from hookfit.saving.limits import check_fits_in, check_parameter_count

FUNCTIONAL_CLASSES = ("Functional", "Model")


def _tensor_ref(tensor, keras: int):
    # Node indices count the calls inside this model (Keras re-indexes them
    # so); hookfit layers are called once per model, so always node 0.
    if keras == 2:
        return [tensor._layer.name, 0, 0, {}]
    return {
        "class_name": "__keras_tensor__",
        "config": {"shape": list(tensor.shape), "dtype": "float32",
                   "keras_history": [tensor._layer.name, 0, 0]},
    }


def to_keras(model, keras: int) -> dict:
    """The functional model config Keras ``keras`` (2 or 3) writes."""
    from hookfit.saving.keras_model_config import entry

    layers = []
    for call in model._calls:
        layer = call.layer
        translator = keras_layers.translator_for_layer(layer)
        extra = {}
        if keras == 3 and call.inputs:
            shapes = [list(t.shape) for t in call.inputs]
            extra["build_config"] = {"input_shape": shapes if layer._takes_list else shapes[0]}
        item = entry(translator.keras_class, translator.to_keras(layer, keras), keras, **extra)
        item["name"] = layer.name
        refs = [_tensor_ref(t, keras) for t in call.inputs]
        if not call.inputs:
            item["inbound_nodes"] = []
        elif keras == 2:
            item["inbound_nodes"] = [refs]
        else:
            item["inbound_nodes"] = [{"args": [refs if layer._takes_list else refs[0]], "kwargs": {}}]
        layers.append(item)
    inputs = [[t._layer.name, 0, 0] for t in model._input_tensors]
    output = model._output_tensor
    config = {"name": model.name, "trainable": bool(getattr(model, "trainable", True)), "layers": layers,
              "input_layers": inputs,  # a dict of arrays is fed by input name, as Keras does
              "output_layers": [[output._layer.name, 0, 0]]}
    if keras == 2:
        return {"class_name": "Functional", "config": config}
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional"}


# -- reading -------------------------------------------------------------------


def _history(ref, where: str) -> str:
    """The layer name a serialised tensor reference points at."""
    if isinstance(ref, dict) and ref.get("class_name") == "__keras_tensor__":
        ref = (ref.get("config") or {}).get("keras_history")
    if isinstance(ref, list) and len(ref) >= 3 and isinstance(ref[0], str):
        if ref[1] != 0 or ref[2] != 0:
            raise UnsupportedConfigError(
                f"{where}: the reference {ref[:3]!r} uses node {ref[1]}/tensor {ref[2]}; hookfit has no "
                "shared layers or multi-output layers (only node 0, tensor 0)."
            )
        return ref[0]
    raise UnsupportedConfigError(f"{where}: the tensor reference {ref!r:.200} is not understood.")


def _inbound_names(nodes, where: str) -> list[str]:
    """The producer layer names of a layer's one call (Keras 2 or 3 format)."""
    if not isinstance(nodes, list):
        raise UnsupportedConfigError(f"{where}: inbound_nodes must be a list; got {nodes!r:.200}.")
    if not nodes:
        return []
    if len(nodes) > 1:
        raise UnsupportedConfigError(
            f"{where}: the layer is called {len(nodes)} times; hookfit does not support shared layers "
            "(one layer per call)."
        )
    node = nodes[0]
    if isinstance(node, dict):  # Keras 3
        args = node.get("args")
        if not isinstance(args, list) or len(args) != 1:
            raise UnsupportedConfigError(f"{where}: the call arguments {args!r:.200} are not one tensor or list.")
        kwargs = node.get("kwargs") or {}
        extra = sorted(k for k, v in kwargs.items() if k not in ("training", "mask") or (k == "mask" and v is not None))
        if extra:
            raise UnsupportedConfigError(f"{where}: the call arguments {extra} are not supported by hookfit.")
        refs = args[0] if isinstance(args[0], list) and not (args[0] and isinstance(args[0][0], str)) else [args[0]]
    elif isinstance(node, list):  # Keras 2: [[name, node, index, kwargs], ...]
        refs = node
    else:
        raise UnsupportedConfigError(f"{where}: the inbound node {node!r:.200} is not understood.")
    if not refs:
        raise UnsupportedConfigError(f"{where}: a call with no input tensors.")
    return [_history(r, where) for r in refs]


def _endpoint_names(value, what: str, source: str) -> list[tuple[str | None, str]]:
    """[(dict key or None, layer name)] of ``input_layers``/``output_layers``."""
    if isinstance(value, dict):
        return [(str(k), _history(v, f"{source}, {what} {k!r}")) for k, v in value.items()]
    if isinstance(value, list) and len(value) >= 3 and isinstance(value[0], str):
        value = [value]  # Keras 3 writes one endpoint without the outer list
    if not isinstance(value, list) or not value:
        raise UnsupportedConfigError(f"{source}: {what} {value!r:.200} is not a list of layer references.")
    return [(None, _history(v, f"{source}, {what}")) for v in value]


def _plan(config: dict, source: str):
    """Layers in an order producers-first, each with its translator, config,
    producers and output width; refuses a bad graph before anything exists."""
    entries = config.get("layers")
    if not isinstance(entries, list) or not entries:
        raise UnsupportedConfigError(f"{source}: the functional config has no list of layers.")
    by_name: dict = {}
    for i, item in enumerate(entries):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            name = ((item or {}).get("config") or {}).get("name") if isinstance(item, dict) else None
        where = f"{source}, layer {i} ({name})"
        if not isinstance(name, str) or not name:
            raise UnsupportedConfigError(f"{where}: the layer has no name.")
        if name in by_name:
            raise UnsupportedConfigError(f"{where}: two layers are named {name!r}; layer names must be unique.")
        translator = keras_layers.translator_for_config(item, where)
        producers = _inbound_names(item.get("inbound_nodes", []), where)
        by_name[name] = (translator, item["config"], producers, where)
    for name, (translator, _, producers, where) in by_name.items():
        for p in producers:
            if p not in by_name:
                raise UnsupportedConfigError(f"{where}: its input comes from layer {p!r}, which is not in the model.")
        if isinstance(translator, keras_layers.InputLayerTranslator) and producers:
            raise UnsupportedConfigError(f"{where}: an InputLayer cannot have inputs.")
        if not producers and not isinstance(translator, keras_layers.InputLayerTranslator):
            raise UnsupportedConfigError(f"{where}: the layer is never called on an input (a dangling layer).")
    order: list[str] = []
    state: dict[str, str] = {}
    for start in by_name:  # depth-first, iterative: no recursion limit on long chains
        stack = [(start, 0)]
        while stack:
            name, i = stack.pop()
            if i == 0:
                if state.get(name) == "done":
                    continue
                if state.get(name) == "open":
                    raise UnsupportedConfigError(f"{by_name[name][3]}: the graph has a cycle through layer {name!r}.")
                state[name] = "open"
            producers = by_name[name][2]
            if i < len(producers):
                stack.append((name, i + 1))
                nxt = producers[i]
                if state.get(nxt) == "open":
                    raise UnsupportedConfigError(f"{by_name[name][3]}: the graph has a cycle through layer {nxt!r}.")
                if state.get(nxt) != "done":
                    stack.append((nxt, 0))
            else:
                state[name] = "done"
                order.append(name)
    return by_name, order


def _width(translator, layer_config, inputs: list[int], where: str) -> tuple[int, int]:
    """(parameters, output width) of a layer on inputs of these widths."""
    if isinstance(translator, keras_layers.InputLayerTranslator):
        return 0, keras_layers.feature_count_of(layer_config.get("batch_shape") or layer_config.get("batch_input_shape"), where)
    kind = translator.keras_class
    if kind == "Add":
        if len(set(inputs)) != 1:
            raise UnsupportedConfigError(f"{where}: Add needs inputs of one width; got {inputs}.")
        return 0, inputs[0]
    if kind == "Concatenate":
        return 0, keras_layers.check_units(sum(inputs), where)
    if len(inputs) != 1:
        raise UnsupportedConfigError(f"{where}: a {kind} layer takes one input; got {len(inputs)}.")
    return translator.parameter_count(layer_config, inputs[0], where)


def from_keras(model_config: dict, classes: dict, source: str, *, weights_bytes: int):
    """Rebuild a hookfit functional model from Keras's functional config."""
    config = model_config.get("config")
    if not isinstance(config, dict):
        raise UnsupportedConfigError(f"{source}: the functional model config is not a JSON object.")
    by_name, order = _plan(config, source)
    inputs = _endpoint_names(config.get("input_layers"), "input_layers", source)
    outputs = _endpoint_names(config.get("output_layers"), "output_layers", source)
    for _, name in inputs + outputs:
        if name not in by_name:
            raise UnsupportedConfigError(f"{source}: the model endpoint {name!r} is not among its layers.")
    for _, name in inputs:
        if not isinstance(by_name[name][0], keras_layers.InputLayerTranslator):
            raise UnsupportedConfigError(f"{source}: the model input {name!r} is not an InputLayer.")
    if len(outputs) != 1:
        raise UnsupportedConfigError(
            f"{source}: the model has {len(outputs)} outputs; hookfit supports exactly one output."
        )
    # Sizes from the configs alone, before any layer exists.
    widths: dict[str, int] = {}
    total = 0
    for name in order:
        translator, layer_config, producers, where = by_name[name]
        count, widths[name] = _width(translator, layer_config, [widths[p] for p in producers], where)
        total += count
        check_parameter_count(total, source)
    check_fits_in(total * 4, weights_bytes, source)
    tensors = {}
    for name in order:
        translator, layer_config, producers, where = by_name[name]
        layer = translator.from_keras(layer_config, classes, where)
        try:
            if not producers:
                tensors[name] = layer.output
            else:
                args = [tensors[p] for p in producers]
                tensors[name] = layer(args if layer._takes_list else args[0])
        except (TypeError, ValueError) as e:
            raise UnsupportedConfigError(f"{where}: {e}") from None
    functional = classes.get("Functional")
    if functional is None:
        raise UnsupportedConfigError(f"{source}: this hookfit has no functional models.")
    model_inputs = ({key: tensors[name] for key, name in inputs} if inputs[0][0] is not None
                    else [tensors[name] for _, name in inputs])
    model_name = config.get("name") if isinstance(config.get("name"), str) else None
    try:
        model = functional(model_inputs, tensors[outputs[0][1]], name=model_name)
    except (TypeError, ValueError) as e:
        raise UnsupportedConfigError(f"{source}: the graph cannot be built by hookfit: {e}") from None
    if config.get("trainable") is False:
        model.trainable = False
    return model
