"""``Sequential``: a linear stack of Dense layers."""

from __future__ import annotations

from hookfit.layers.dense import Dense
from hookfit.layers.input_layer import InputLayer
from hookfit.layers.layer import Layer
from hookfit.models.model import Model
from hookfit.utils import naming


def _memory_size(n_bytes: float) -> str:
    for unit in ("Byte", "KB", "MB", "GB", "TB"):
        if n_bytes / 1024 < 1:
            return f"{n_bytes:.2f} {unit}"
        n_bytes /= 1024
    return f"{n_bytes:.2f} PB"


class Sequential(Model):
    """A stack of layers, each feeding the next (Keras 2 API).

    >>> import hookfit as keras
    >>> model = keras.Sequential()
    >>> model.add(keras.layers.Dense(1, input_dim=784))
    >>> model.compile(optimizer=keras.optimizers.RMSprop(learning_rate=0.1),
    ...               loss="mean_squared_error", metrics=["mean_absolute_error"])
    """

    def __init__(self, layers=None, name=None):
        super().__init__(name=name or naming.unique_name("sequential"))
        self._input_layer = None
        self._layers = []
        if layers is not None:
            if isinstance(layers, Layer):
                layers = [layers]
            for layer in layers:
                self.add(layer)

    @property
    def layers(self) -> list:
        """The Dense layers, in order (an ``Input`` is not a layer here, as in Keras)."""
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer; the weights are created as soon as the input size is known."""
        if isinstance(layer, InputLayer):
            if self._layers or self._input_layer is not None:
                raise ValueError("an Input/InputLayer can only be the first layer of a Sequential")
            self._input_layer = layer
            return
        if not isinstance(layer, Dense):
            raise TypeError(
                "Sequential.add expects a hookfit.layers.Dense (or an Input first); got "
                f"{type(layer).__name__} {layer!r}"
            )
        if layer._model is not None or any(l is layer for l in self._layers):
            raise ValueError(f"layer {layer.name!r} is already part of a model; create a new one")
        if not self._layers and self._input_layer is not None and layer.input_dim is not None:
            if layer.input_dim != self._input_layer.input_dim:
                raise ValueError(
                    f"layer {layer.name!r} declares input_dim={layer.input_dim} but the Input "
                    f"has {self._input_layer.input_dim} features"
                )
        if self._layers and layer.input_dim is not None:
            expected = self._layers[-1].units
            if layer.input_dim != expected:
                raise ValueError(
                    f"layer {layer.name!r} declares input_dim={layer.input_dim} but follows "
                    f"a layer with {expected} units"
                )
        self._layers.append(layer)
        input_dim = self._declared_input_dim() if self._network is None else self._network.input_dim
        if input_dim is not None:
            self._build_network(input_dim)

    def pop(self) -> None:
        """Remove the last layer."""
        if not self._layers:
            raise TypeError("There are no layers in the model.")
        layer = self._layers.pop()
        layer._model = layer._index = None
        if self._layers and self._network is not None:
            self._build_network(self._network.input_dim)
        elif not self._layers:
            self._network = None

    def _weighted_layers(self) -> list:
        return self._layers

    def _declared_input_dim(self):
        if self._input_layer is not None:
            return self._input_layer.input_dim
        if self._layers:
            return self._layers[0].input_dim
        return None

    @property
    def input_shape(self):
        return (None, self.input_dim)

    @property
    def output_shape(self):
        if not self._layers:
            raise AttributeError("the model has no layers yet")
        return (None, self._layers[-1].units)

    def summary(self, line_length=65, positions=None, print_fn=None):
        """Print the layer table, as Keras 2 does."""
        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling "
                "`build()` or by calling the model on a batch of data."
            )
        print_fn = print_fn or print
        stops = [int(line_length * p) for p in (positions or (0.45, 0.85, 1.0))]

        def row(fields):
            line = ""
            for field, stop in zip(fields, stops):
                line += " " + str(field) if not line else str(field)
                line = line[:stop].ljust(stop)
            return line

        lines = [f'Model: "{self.name}"', "_" * line_length]
        lines.append(row(("Layer (type)", "Output Shape", "Param #")))
        lines.append("=" * line_length)
        for layer in self._layers:
            lines.append(
                row((f"{layer.name} ({type(layer).__name__})", str(layer.output_shape), layer.count_params()))
            )
            lines.append(" " * line_length)
        lines.append("=" * line_length)
        total = self.count_params()
        lines.append(f"Total params: {total} ({_memory_size(total * 4)})")
        lines.append(f"Trainable params: {total} ({_memory_size(total * 4)})")
        lines.append(f"Non-trainable params: 0 ({_memory_size(0)})")
        lines.append("_" * line_length)
        for line in lines:
            print_fn(line)

    def get_config(self) -> dict:
        layers = []
        if self._input_layer is not None:
            layers.append({"class_name": "InputLayer", "config": self._input_layer.get_config()})
        elif self.built and self._layers and self._layers[0].input_dim is None:
            layers.append(
                {"class_name": "InputLayer", "config": {"batch_input_shape": (None, self.input_dim)}}
            )
        layers += [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]
        return {"name": self.name, "layers": layers}

    @classmethod
    def from_config(cls, config: dict):
        model = cls(name=config.get("name"))
        for entry in config["layers"]:
            kind, cfg = entry["class_name"], dict(entry["config"])
            if kind == "InputLayer":
                cfg.pop("name", None)
                model.add(InputLayer(**cfg))
            elif kind == "Dense":
                cfg.pop("name", None)
                model.add(Dense(**cfg))
            else:
                raise ValueError(f"unknown layer class {kind!r} in the model config")
        return model
