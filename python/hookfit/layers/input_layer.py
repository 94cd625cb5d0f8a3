"""``Input``/``InputLayer``: declare the number of features up front."""

from __future__ import annotations

import numbers

from hookfit.layers.layer import Layer


def feature_count(shape, argument: str) -> int:
    """The feature count of a Keras shape such as ``(784,)`` (batch axis excluded)."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (int(shape),)
    if not isinstance(shape, (tuple, list)) or len(shape) != 1:
        raise ValueError(
            f"{argument} must be a 1-tuple such as (784,): hookfit's Dense stacks take "
            f"flat feature vectors; got {shape!r}. Flatten inputs with x.reshape(len(x), -1)"
        )
    (d,) = shape
    if isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1:
        raise ValueError(f"{argument} must hold a positive integer; got {shape!r}")
    return int(d)


class InputLayer(Layer):
    """Declares ``input_shape=(features,)``; it has no weights.

    >>> layer = InputLayer(input_shape=(784,))
    """

    def __init__(self, input_shape=None, batch_size=None, name=None, **kwargs):
        shape = kwargs.pop("shape", None)
        batch_input_shape = kwargs.pop("batch_input_shape", None)
        if batch_input_shape is not None:
            shape = tuple(batch_input_shape)[1:]
        shape = input_shape if input_shape is not None else shape
        if shape is None:
            raise ValueError("InputLayer needs input_shape=(features,)")
        super().__init__(name=name, **kwargs)
        self.input_dim = feature_count(shape, "input_shape")
        self.batch_size = batch_size

    @property
    def input_shape(self):
        return (None, self.input_dim)

    output_shape = input_shape

    def get_config(self) -> dict:
        return {"batch_input_shape": (None, self.input_dim), "name": self.name}


def Input(shape=None, batch_size=None, name=None, **kwargs):
    """Keras's ``Input(shape=(features,))``, for ``Sequential([Input(...), ...])``.

    >>> import hookfit as keras
    >>> model = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(1)])
    """
    if shape is None:
        raise ValueError("Input needs shape=(features,), e.g. Input(shape=(784,))")
    return InputLayer(input_shape=shape, batch_size=batch_size, name=name, **kwargs)
