"""``Layer``: what every hookfit layer shares.

A layer is called on symbolic tensors (building a model's graph) or on NumPy
arrays (an eager computation, returning NumPy). Its weights are created when
its input size becomes known (first call, or a Sequential learning its input
shape) as NumPy arrays; once a model compiles its network, the layer's
weights become writable views into that network's one flat float32 buffer,
so training changes them in place.

A subclass provides:
  ``_output_shape(shapes)``  the output shape for the input shapes (and
                             refuses inputs it cannot take),
  ``_weight_specs(shapes)``  [(name, shape, initializer, trainable), ...],
  ``_graph_node(inputs)``    the core's node dict, or None for a no-op,
  ``_eager(arrays, training)`` the NumPy computation of a call on data.
"""

from __future__ import annotations

import re

import numpy as np

from hookfit.layers import initializers
from hookfit.layers.keras_tensor import KerasTensor
from hookfit.unsupported import unsupported
from hookfit.utils import naming


def _snake(name: str) -> str:
    # Keras's to_snake_case: LeakyReLU -> leaky_re_lu, BatchNormalization -> batch_normalization.
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


_BASE_ARGUMENTS = ("name", "trainable", "dtype", "input_shape", "input_dim", "batch_input_shape",
                   "batch_size")


def feature_shape(shape, argument: str) -> tuple:
    """A Keras shape without the batch axis, e.g. ``(784,)`` or ``(28, 28)``, checked."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)) or not shape:
        raise ValueError(f"{argument} must be a tuple such as (784,); got {shape!r}")
    for d in shape:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise ValueError(
                f"{argument} must hold positive integers (hookfit needs every size known); "
                f"got {tuple(shape)!r}"
            )
    return tuple(int(d) for d in shape)


def flat_width(shape, who: str) -> int:
    """The feature count of a 2-D ``(None, n)`` shape; refuses higher ranks."""
    if len(shape) != 2:
        raise ValueError(
            f"{who} takes 2-D inputs (batch, features); got shape {shape}. Add "
            "keras.layers.Flatten() before it (hookfit supports dense networks)"
        )
    return int(shape[1])


class Layer:
    """Base of hookfit's layers (Keras 2 semantics)."""

    _takes_list = False  # merge layers take a list of inputs
    _has_modes = False  # computes differently in training and inference (Dropout, BN)

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, **kwargs):
        if kwargs:
            key = sorted(kwargs)[0]
            raise unsupported(
                f"the argument {key}= of {type(self).__name__}", "arguments",
                self._supported_arguments(),
            )
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string; got {type(name).__name__}")
        if dtype not in (None, "float32") and getattr(dtype, "name", None) != "float32":
            raise unsupported(f"dtype={dtype!r}", "dtypes", ["float32"])
        trainable_flag(trainable)
        self.name = name or naming.unique_name(_snake(type(self).__name__))
        self._trainable = bool(trainable)
        # The input shape declared for a first layer (batch axis excluded).
        self._declared_shape = None
        if input_dim is not None:
            self._declared_shape = feature_shape((input_dim,), "input_dim")
        elif input_shape is not None:
            self._declared_shape = feature_shape(input_shape, "input_shape")
        elif batch_input_shape is not None:
            self._declared_shape = feature_shape(tuple(batch_input_shape)[1:], "batch_input_shape")
        self._batch_size = batch_size
        self._variables = None  # arrays (own, or views into a model's network)
        self._input_shapes = None  # the shapes it was built for
        self._model = None  # the model whose network holds the weights
        self._inbound = []  # [(input KerasTensors, output KerasTensor)] per symbolic call

    @classmethod
    def _supported_arguments(cls):
        import inspect

        names = []
        for klass in cls.__mro__:
            init = klass.__dict__.get("__init__")
            if init is None:
                continue
            for p in inspect.signature(init).parameters.values():
                if p.kind == p.POSITIONAL_OR_KEYWORD and p.name != "self" and p.name not in names:
                    names.append(p.name)
        return names

    # -- trainable ---------------------------------------------------------------

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        self._trainable = trainable_flag(value)

    # -- building ----------------------------------------------------------------

    @property
    def built(self) -> bool:
        return self._input_shapes is not None

    def _build(self, shapes) -> None:
        """Check the input shapes and create the initial weights."""
        shapes = [tuple(s) for s in shapes]
        self._output_shape(shapes)  # refuses what the layer cannot take
        specs = self._weight_specs(shapes)
        self._check_size(specs, shapes)
        self._variables = [
            initializers.draw(init, shape, f"{self.name}.{name} initializer")
            for name, shape, init, _ in specs
        ]
        self._input_shapes = shapes

    def _check_size(self, specs, shapes) -> None:
        """Refuse weights beyond the bound files are held to (a typo such as
        ``Input(shape=(2**40,))`` would otherwise try to allocate terabytes)."""
        from hookfit.saving.limits import MAX_PARAMETERS  # lazy: saving imports layers

        count = sum(int(np.prod(shape, dtype=object)) for _, shape, _, _ in specs)
        if count > MAX_PARAMETERS:
            raise ValueError(
                f"layer {self.name!r} would hold {count:,} weights for input shape(s) {shapes}, more "
                f"than hookfit's bound of {MAX_PARAMETERS:,} (1 GiB of float32, the bound model files "
                "are held to); check the "
                "input shape and the layer's width."
            )

    def build(self, input_shape) -> None:
        """Create the weights for ``input_shape`` (with the batch axis), as Keras."""
        shapes = input_shape if self._takes_list else [input_shape]
        shapes = [(None, *feature_shape(tuple(s)[1:], "input_shape")) for s in shapes]
        if not self.built:
            self._build(shapes)

    def _check_same_shapes(self, shapes) -> None:
        if [tuple(s[1:]) for s in shapes] != [tuple(s[1:]) for s in self._input_shapes]:
            raise ValueError(
                f"layer {self.name!r} was built for input shape(s) "
                f"{self._shape_text(self._input_shapes)}; got {self._shape_text(shapes)}"
            )

    def _shape_text(self, shapes):
        shapes = [tuple(s) for s in shapes]
        return str(shapes if self._takes_list else shapes[0])

    # -- calling -----------------------------------------------------------------

    def __call__(self, inputs, training=None, **kwargs):
        if kwargs:
            raise unsupported(f"the call argument(s) {sorted(kwargs)}", "call arguments",
                              ["inputs", "training"])
        if training not in (None, True, False):
            raise TypeError(f"training must be True, False or None; got {training!r}")
        if self._takes_list:
            if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
                raise ValueError(
                    f"{type(self).__name__} expects a list of at least 2 inputs; got {inputs!r}"
                )
            flat = list(inputs)
        else:
            flat = [inputs]
            if isinstance(inputs, (list, tuple)) and len(inputs) == 1:
                flat = list(inputs)
        symbolic = [isinstance(t, KerasTensor) for t in flat]
        if all(symbolic):
            if training is not None and self._has_modes:
                raise unsupported(
                    f"fixing training={training} when calling {type(self).__name__} on a "
                    "symbolic tensor", "values", ["training=None (the mode follows fit/predict)"])
            return self._call_symbolic(flat)
        if any(symbolic):
            raise TypeError(
                f"layer {self.name!r} was called on a mix of symbolic tensors (from keras.Input) "
                "and arrays; pass only one kind"
            )
        return self._call_eager(flat, bool(training))

    def _call_symbolic(self, tensors) -> KerasTensor:
        shapes = [t.shape for t in tensors]
        if not self.built:
            self._build(shapes)
        else:
            self._check_same_shapes(shapes)
        out = KerasTensor(self._output_shape(shapes), self, tensors)
        self._inbound.append((list(tensors), out))
        return out

    def _call_eager(self, values, training: bool) -> np.ndarray:
        arrays = []
        for v in values:
            a = np.asarray(v)
            if a.dtype.kind not in "fiub":
                raise TypeError(f"layer {self.name!r}: inputs must hold real numbers; got {a.dtype}")
            if a.ndim < 2:
                raise ValueError(
                    f"layer {self.name!r}: inputs need a batch axis, shape (samples, features); "
                    f"got shape {a.shape}"
                )
            arrays.append(a.astype(np.float32, copy=False))
        shapes = [(None, *a.shape[1:]) for a in arrays]
        if not self.built:
            self._build(shapes)
        else:
            self._check_same_shapes(shapes)
        return self._eager(arrays, training)

    # -- subclass interface -------------------------------------------------------

    def _output_shape(self, shapes):
        return (None, flat_width(shapes[0], type(self).__name__))

    def _weight_specs(self, shapes) -> list:
        return []

    def _graph_node(self, inputs: list) -> dict | None:
        raise NotImplementedError

    def _eager(self, arrays, training: bool) -> np.ndarray:
        raise NotImplementedError

    # -- graph ---------------------------------------------------------------

    def _single_call(self, what):
        if not self._inbound:
            raise AttributeError(
                f"Layer {self.name} is not connected, no {what} to return "
                "(call it on a keras.Input first)"
            )
        if len(self._inbound) > 1:
            raise AttributeError(
                f"Layer {self.name} has multiple inbound nodes, hence the notion of "
                f'"layer {what}" is ill-defined.'
            )
        return self._inbound[0]

    @property
    def input(self):
        """The symbolic input of the layer's one call (a list for merge layers)."""
        inputs = self._single_call("input")[0]
        return list(inputs) if self._takes_list else inputs[0]

    @property
    def output(self):
        """The symbolic output of the layer's one call."""
        return self._single_call("output")[1]

    @property
    def input_shape(self):
        if self._input_shapes is None:
            if self._declared_shape is not None:
                return (None, *self._declared_shape)
            raise AttributeError(
                f"The layer {self.name!r} has never been called and thus has no defined "
                "input shape."
            )
        shapes = [tuple(s) for s in self._input_shapes]
        return shapes if self._takes_list else shapes[0]

    @property
    def output_shape(self):
        if self._input_shapes is None:
            raise AttributeError(
                f"The layer {self.name!r} has never been called and thus has no defined "
                "output shape."
            )
        return self._output_shape(self._input_shapes)

    # -- weights ---------------------------------------------------------------

    def _specs(self):
        return self._weight_specs(self._input_shapes) if self.built else []

    @property
    def weights(self) -> list:
        """The weight arrays (writable views once in a model), trainable ones first."""
        return self.trainable_weights + self.non_trainable_weights

    @property
    def trainable_weights(self) -> list:
        if not self.built or not self._trainable:
            return []
        return [v for v, spec in zip(self._variables, self._specs()) if spec[3]]

    @property
    def non_trainable_weights(self) -> list:
        if not self.built:
            return []
        return [
            v for v, spec in zip(self._variables, self._specs())
            if not (spec[3] and self._trainable)
        ]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Replace the weights; every array is checked before any is written."""
        own = self.weights
        try:
            weights = list(weights)
        except TypeError:
            raise TypeError(f"set_weights expects a list of arrays; got {type(weights).__name__}") from None
        if len(weights) != len(own):
            names = [s[0] for s in self._ordered_specs()]
            raise ValueError(
                f"layer {self.name!r} expects {len(own)} weight arrays ({', '.join(names) or 'none'}); "
                f"got {len(weights)}"
            )
        arrays = [check_weight(w, dst.shape, f"layer {self.name!r}: {spec[0]}")
                  for w, dst, spec in zip(weights, own, self._ordered_specs())]
        for dst, src in zip(own, arrays):
            dst[...] = src

    def _ordered_specs(self):
        specs = self._specs()
        first = [s for s in specs if s[3] and self._trainable]
        return first + [s for s in specs if not (s[3] and self._trainable)]

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call `count_params` on layer {self.name}, but the layer isn't "
                "built. You can build it manually via: `layer.build(batch_input_shape)`."
            )
        return int(sum(np.size(w) for w in self.weights))

    def _weight(self, name):
        """One named weight (a view), or None when the layer has no such weight."""
        if not self.built:
            raise AttributeError(
                f"layer {self.name!r} has no weights yet: call it on an input (or give the "
                "first layer input_shape=...) first"
            )
        for v, spec in zip(self._variables, self._specs()):
            if spec[0] == name:
                return v
        return None

    # -- config ----------------------------------------------------------------

    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self._trainable, "dtype": "float32"}
        if self._declared_shape is not None:
            config["batch_input_shape"] = (None, *self._declared_shape)
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


class WeightValueError(ValueError, TypeError):
    """A weight array that is not real numbers (a ValueError, as set_weights
    raises, and a TypeError, as a wrong dtype is)."""


def check_weight(value, shape, what: str) -> np.ndarray:
    """``value`` as a float32 array of ``shape``; refuses non-real or misshapen data."""
    try:
        array = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise WeightValueError(f"{what} must be an array of numbers; {e}") from None
    if array.dtype.kind not in "fiub":
        raise WeightValueError(f"{what} must hold real numbers; got dtype {array.dtype}")
    if array.shape != tuple(shape):
        raise ValueError(f"{what} must have shape {tuple(shape)}; got {array.shape}")
    return array.astype(np.float32, copy=False)


def initializer_name(initializer, default: str) -> str:
    """The name saved in a config (a custom function is saved as the default)."""
    return initializer if isinstance(initializer, str) else default


def node_kind(name: str) -> int:
    """The core's node code ``NODE_<name>`` (GRAPH_SPEC: Network.from_graph)."""
    from hookfit._native import core

    return getattr(core, f"NODE_{name}")


def trainable_flag(value) -> bool:
    """A ``trainable`` setting, checked (Keras takes only a bool)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"trainable must be True or False; got {value!r}")
    return bool(value)
