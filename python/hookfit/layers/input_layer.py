"""``Input``/``InputLayer``: where a model's data enters."""

from __future__ import annotations

from hookfit.layers.keras_tensor import KerasTensor
from hookfit.layers.layer import Layer, feature_shape
from hookfit.unsupported import unsupported
from hookfit.utils import naming


def feature_count(shape, argument: str) -> int:
    """The feature count of a 1-D Keras shape such as ``(784,)`` (batch axis excluded)."""
    shape = feature_shape(shape, argument)
    if len(shape) != 1:
        raise ValueError(
            f"{argument} must be a 1-tuple such as (784,) here; got {shape!r}. Flatten "
            "inputs with x.reshape(len(x), -1) or start with layers.Flatten(input_shape=...)"
        )
    return shape[0]


def _input_name() -> str:
    # Keras 2 numbers inputs from 1: input_1, input_2, ...
    name = naming.unique_name("input")
    return "input_1" if name == "input" else f"input_{int(name.rsplit('_', 1)[1]) + 1}"


class InputLayer(Layer):
    """The entry point of a model: declares the shape of each sample.

    >>> layer = InputLayer(input_shape=(784,))
    """

    def __init__(self, input_shape=None, batch_size=None, dtype=None, name=None, **kwargs):
        shape = kwargs.pop("shape", None)
        batch_shape = kwargs.pop("batch_input_shape", None) or kwargs.pop("batch_shape", None)
        for key in ("sparse", "ragged"):
            if kwargs.pop(key, None):
                raise unsupported(f"{key} inputs", "inputs", ["dense arrays"])
        if batch_shape is not None:
            shape = tuple(batch_shape)[1:]
            batch_size = batch_size or tuple(batch_shape)[0]
        shape = input_shape if input_shape is not None else shape
        if shape is None:
            raise ValueError("InputLayer needs shape=(features,), e.g. Input(shape=(784,))")
        super().__init__(name=name or _input_name(), dtype=dtype, **kwargs)
        self._shape = feature_shape(shape, "shape")
        self.batch_size = batch_size
        self._input_shapes = [(None, *self._shape)]
        self._variables = []
        tensor = KerasTensor((None, *self._shape), self)
        self._inbound.append(([], tensor))

    @property
    def input_dim(self) -> int:
        """The flat feature count (the product of the shape)."""
        import math

        return math.prod(self._shape)

    @property
    def input_shape(self):
        return (None, *self._shape)

    @property
    def output_shape(self):
        # Keras 2 reports an InputLayer's shape as a list of one shape.
        return [(None, *self._shape)]

    @property
    def output(self):
        return self._inbound[0][1]

    def _output_shape(self, shapes):
        return (None, *self._shape)

    def __call__(self, *args, **kwargs):
        raise TypeError(
            "an InputLayer is not called on data; use keras.Input(shape=...) to start a graph"
        )

    def _graph_node(self, inputs):
        return None

    def get_config(self) -> dict:
        return {"batch_input_shape": (None, *self._shape), "dtype": "float32",
                "sparse": False, "ragged": False, "name": self.name}


def Input(shape=None, batch_size=None, name=None, dtype=None, **kwargs):
    """A symbolic input: ``keras.Input(shape=(features,), name=...)``.

    >>> import hookfit as keras
    >>> inputs = keras.Input(shape=(784,))
    >>> outputs = keras.layers.Dense(10)(inputs)
    >>> model = keras.Model(inputs, outputs)
    """
    if kwargs.get("tensor") is not None:
        raise unsupported("Input(tensor=...)", "arguments", ["shape", "batch_size", "name"])
    kwargs.pop("tensor", None)
    batch_shape = kwargs.pop("batch_shape", None)
    if shape is None and batch_shape is None:
        raise ValueError("Input needs shape=(features,), e.g. Input(shape=(784,))")
    layer = InputLayer(input_shape=shape, batch_size=batch_size, name=name, dtype=dtype,
                       batch_shape=batch_shape, **kwargs)
    return layer.output
