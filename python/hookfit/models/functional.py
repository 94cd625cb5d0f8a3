"""Functional models: ``keras.Model(inputs=..., outputs=..., name=...)``.

The graph runs as one compiled network (see ``layer_graph``): one native
call per batch, as a Sequential. Several inputs are fed as a list (in
``model.inputs`` order) or a dict keyed by input name; a model has exactly
one output.
"""

from __future__ import annotations

from hookfit.layers.input_layer import InputLayer
from hookfit.layers.keras_tensor import KerasTensor
from hookfit.models.model import Model
from hookfit.unsupported import NotSupportedError


def _input_tensors(inputs) -> list:
    if isinstance(inputs, dict):
        inputs = list(inputs.values())
    elif isinstance(inputs, KerasTensor):
        inputs = [inputs]
    elif not isinstance(inputs, (list, tuple)) or not inputs:
        raise TypeError(
            f"inputs must be a keras.Input tensor, or a list/dict of them; got {inputs!r}"
        )
    inputs = list(inputs)
    for t in inputs:
        if not isinstance(t, KerasTensor) or t._inputs or not isinstance(t._layer, InputLayer):
            raise ValueError(
                "Input tensors to a Functional must come from `keras.Input`. Received: "
                f"{t!r} (missing previous layer metadata)."
            )
    if len({id(t) for t in inputs}) != len(inputs):
        raise ValueError("the same Input appears twice in inputs=[...]")
    return inputs


def _output_tensor(outputs):
    if isinstance(outputs, dict):
        outputs = list(outputs.values())
    if isinstance(outputs, (list, tuple)):
        if len(outputs) != 1:
            raise NotSupportedError(
                f"hookfit does not support models with several outputs (got {len(outputs)}); "
                "supported: exactly one output tensor. Build one model per output, or join "
                "them with layers.Concatenate() into one output"
            )
        outputs = outputs[0]
    if not isinstance(outputs, KerasTensor):
        raise TypeError(
            f"outputs must be the symbolic output of a layer call; got {type(outputs).__name__}"
        )
    return outputs


class Functional(Model):
    """A model defined by its input and output tensors."""

    def __init__(self, inputs, outputs, name=None, trainable=True, **kwargs):
        if kwargs:
            raise TypeError(f"Model() got unexpected argument(s) {sorted(kwargs)}")
        inputs = _input_tensors(inputs)
        output = _output_tensor(outputs)
        super().__init__(name=name)
        self._input_tensors = inputs
        self._output_tensor = output
        from hookfit.models import layer_graph

        self._calls = layer_graph.trace(inputs, output)  # refuses bad graphs now
        for call in self._calls:
            owner = call.layer._model
            if call.layer._variables and owner is not None and owner is not self:
                raise ValueError(
                    f"layer {call.layer.name!r} already belongs to model {owner.name!r}; "
                    "hookfit does not share layers between models: create new layers"
                )
        for call in self._calls:
            if call.layer._variables:
                call.layer._model = self
        if not trainable:
            self.trainable = False

    def _graph(self):
        return self._input_tensors, self._output_tensor

    @property
    def layers(self) -> list:
        """Every layer of the graph, Input layers included, deepest first (as Keras)."""
        return [c.layer for c in self._calls]

    def get_config(self) -> dict:
        """Keras's functional config: layers with their inbound nodes."""
        layers = []
        for call in self._calls:
            inbound = [[[t._layer.name, t._node_index, 0, {}] for t in call.inputs]] if call.inputs else []
            layers.append({
                "class_name": type(call.layer).__name__,
                "config": call.layer.get_config(),
                "name": call.layer.name,
                "inbound_nodes": inbound,
            })
        return {
            "name": self.name,
            "layers": layers,
            "input_layers": [[t._layer.name, 0, 0] for t in self._input_tensors],
            "output_layers": [[self._output_tensor._layer.name, self._output_tensor._node_index, 0]],
        }

    @classmethod
    def from_config(cls, config: dict):
        from hookfit import layers as layer_module

        tensors = {}
        for entry in config["layers"]:
            kind, cfg = entry["class_name"], dict(entry["config"])
            if kind == "InputLayer":
                layer = InputLayer(**cfg)
                tensors[entry["name"]] = layer.output
                continue
            layer = getattr(layer_module, kind).from_config(cfg)
            for node in entry["inbound_nodes"]:
                args = [tensors[name] for name, *_ in node]
                tensors[entry["name"]] = layer(args if layer._takes_list else args[0])
        inputs = [tensors[name] for name, *_ in config["input_layers"]]
        outputs = [tensors[name] for name, *_ in config["output_layers"]]
        return cls(inputs, outputs, name=config.get("name"))
