"""``Sequential``: a linear stack of layers (the chain special case of a graph)."""

from __future__ import annotations

from hookfit.layers.input_layer import InputLayer
from hookfit.layers.keras_tensor import KerasTensor
from hookfit.layers.layer import Layer, feature_shape
from hookfit.models.model import Model
from hookfit.unsupported import NotSupportedError
from hookfit.utils import naming


class Sequential(Model):
    """A stack of layers, each feeding the next (Keras 2 API).

    The input shape comes from a first ``keras.Input``/``InputLayer``, from
    ``input_shape=``/``input_dim=`` on the first layer, from ``build()`` or
    from the first data; as in Keras 2, ``input_shape``/``input_dim`` on later
    layers is ignored.

    >>> import hookfit as keras
    >>> model = keras.Sequential()
    >>> model.add(keras.layers.Dense(1, input_dim=784))
    >>> model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
    ...               loss="mean_squared_error", metrics=["mean_absolute_error"])
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name or naming.unique_name("sequential"))
        self._input_layer = None
        self._layers = []
        self._output = None  # the last layer's symbolic output, once the input is known
        if layers is not None:
            if isinstance(layers, (Layer, KerasTensor)):
                layers = [layers]
            for layer in layers:
                self.add(layer)
        if not trainable:
            self.trainable = False

    @property
    def layers(self) -> list:
        """The layers, in order (an Input is not a layer here, as in Keras 2)."""
        return list(self._layers)

    def _graph(self):
        if self._input_layer is None:
            return None
        return [self._input_layer.output], self._output if self._layers else None

    @property
    def inputs(self) -> list:
        return [] if self._input_layer is None else [self._input_layer.output]

    @property
    def outputs(self) -> list:
        return [] if self._output is None or not self._layers else [self._output]

    def add(self, layer) -> None:
        """Append a layer; the weights are created as soon as the input size is known."""
        self._refuse_while_fitting("change the model's layers")
        if isinstance(layer, KerasTensor):
            if layer._inputs or not isinstance(layer._layer, InputLayer):
                raise TypeError(
                    "Sequential.add takes layers (or a keras.Input first); got the output of "
                    f"layer {layer._layer.name!r}. Use the functional API (keras.Model) for graphs"
                )
            layer = layer._layer
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("an Input/InputLayer can only be the first layer of a Sequential")
            self._input_layer = layer
            self._output = layer.output
            return
        if isinstance(layer, Model):
            raise NotSupportedError(
                "hookfit does not support nesting a model inside a Sequential; supported: "
                "hookfit.layers (add the inner model's layers instead)"
            )
        if not isinstance(layer, Layer):
            raise TypeError(
                "The added layer must be an instance of class Layer. Received: "
                f"layer={layer!r} of type {type(layer).__name__}."
            )
        if layer._takes_list:
            raise ValueError(
                f"a {type(layer).__name__} layer merges several inputs: it cannot be part of a "
                "Sequential model; use the functional API (keras.Model(inputs, outputs))"
            )
        if layer._model is not None or any(l is layer for l in self._layers):
            raise ValueError(f"layer {layer.name!r} is already part of a model; create a new one")
        if any(l.name == layer.name for l in self._layers):
            raise ValueError(
                f'All layers added to a Sequential model should have unique names. Name '
                f'"{layer.name}" is already the name of a layer in this model.'
            )
        if not self._layers and self._input_layer is None:
            shape = layer._declared_shape
            if shape is None and layer.built:  # e.g. an adapted Normalization
                shape = tuple(layer._input_shapes[0][1:])
            if shape is not None:
                self._input_layer = InputLayer(input_shape=shape, name=f"{layer.name}_input")
                self._output = self._input_layer.output
        if self._output is not None:
            self._output = layer._call_symbolic([self._output])
        self._layers.append(layer)
        layer._model = self  # a layer's weights belong to one model
        self._network = None  # recompiled on first use, with the layers' weights

    def pop(self) -> None:
        """Remove the last layer."""
        self._refuse_while_fitting("change the model's layers")
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        if layer._inbound and self._output is layer._inbound[-1][1]:
            self._output = layer._inbound.pop()[0][0]
        layer._model = None
        self._network = None

    def _build_from_shape(self, shape) -> None:
        shape = feature_shape(tuple(shape), "input_shape")
        if self._input_layer is not None:
            if tuple(self._input_layer.output.shape[1:]) != shape:
                raise ValueError(
                    f"model {self.name!r} takes inputs of shape {self._input_layer.output.shape}; "
                    f"got (None, {', '.join(map(str, shape))})"
                )
            return
        if not self._layers:
            raise ValueError(f"model {self.name!r} has no layers; add at least one layer")
        self._input_layer = InputLayer(input_shape=shape, name=f"{self._layers[0].name}_input")
        out = self._input_layer.output
        for layer in self._layers:
            out = layer._call_symbolic([out])
        self._output = out
        self._network = None

    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        layers += [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: dict):
        from hookfit import layers as layer_module

        model = cls(name=config.get("name"))
        for entry in config["layers"]:
            kind, cfg = entry["class_name"], dict(entry["config"])
            if kind == "InputLayer":
                cfg.pop("name", None)
                model.add(InputLayer(**{k: v for k, v in cfg.items()
                                        if k in ("batch_input_shape", "input_shape", "shape")}))
                continue
            layer_class = getattr(layer_module, kind)  # refuses unknown classes
            cfg.pop("name", None)
            model.add(layer_class.from_config(cfg))
        return model
