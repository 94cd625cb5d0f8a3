"""``NetworkOwner``: the layer side of a model (the Model base mixes it in).

It turns the model's graph of layers into one compiled network (see
``layer_graph``), keeps the layers' weights as views into it, converts the
arrays given to fit/evaluate/predict into the one x matrix the network reads
(several inputs hstacked in ``model.inputs`` order, each flattened), and
implements freezing as Keras does: ``trainable`` flags take effect at the
next ``compile``.

Subclasses provide ``_graph()`` -> (input tensors, output tensor) or None
while the input shape is unknown, and ``layers``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hookfit.layers.keras_tensor import KerasTensor
from hookfit.layers.layer import check_weight, trainable_flag
from hookfit.models import layer_graph
from hookfit.unsupported import NotSupportedError


class NetworkOwner:
    """Layers, weights, inputs and freezing of a model."""

    _network: Any = None  # the compiled core Network (Trainer declares it Any too)
    _calls: Sequence[layer_graph.Call] = ()
    _trainable = True
    _built_trainable = None  # the layers' trainable flags the network was built with
    _compiled_trainable = None  # ... and the ones the last compile saw
    _warned_trainable = False
    _plain_x: tuple | None = None  # (network, d): x taken as it is (see _build_network)

    if TYPE_CHECKING:
        # Provided by the classes this is mixed into: Model sets ``name``,
        # Trainer guards fits and configures, Sequential/Functional list layers.
        name: str

        @property
        def layers(self) -> list: ...

        def _refuse_while_fitting(self, what: str, *, same_thread_ok: bool = False) -> None: ...

        def _configure(self) -> None: ...

    # -- structure (subclasses) ----------------------------------------------------

    def _graph(self):
        raise NotImplementedError

    def _build_from_shape(self, shape) -> None:
        raise ValueError(
            f"model {self.name!r} has a fixed input shape {self.inputs[0].shape}; got {shape}"
        )

    @property
    def built(self) -> bool:
        """True once every layer knows its input shape (the weights exist)."""
        graph = self._graph()
        return graph is not None and graph[1] is not None

    def _ensure_network(self) -> None:
        """Compile the network on first need (fit/evaluate/predict/compile)."""
        if self._network is None:
            self._build_network()

    @property
    def inputs(self) -> list:
        graph = self._graph()
        return [] if graph is None else list(graph[0])

    @property
    def outputs(self) -> list:
        graph = self._graph()
        return [] if graph is None else [graph[1]]

    @property
    def input(self):
        inputs = self.inputs
        if not inputs:
            raise AttributeError(f"model {self.name!r} has no input yet (it is not built)")
        return inputs[0] if len(inputs) == 1 else inputs

    @property
    def output(self):
        outputs = self.outputs
        if not outputs:
            raise AttributeError(f"model {self.name!r} has no output yet (it is not built)")
        return outputs[0]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self.inputs]
        if not shapes:
            raise AttributeError(f"model {self.name!r} is not built: its input shape is unknown")
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        return self.output.shape

    @property
    def input_dim(self):
        """The width of the x matrix the network reads (the inputs' flat widths
        summed), or None while the input shape is unknown."""
        graph = self._graph()
        return None if graph is None else sum(t.width for t in graph[0])

    def get_layer(self, name=None, index=None):
        """A layer by name or by position in ``model.layers``."""
        layers = self.layers
        if index is not None and name is not None:
            raise ValueError("Provide only a layer name or a layer index, not both")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(
                    f"Was asked to retrieve layer at index {index} but model only has "
                    f"{len(layers)} layers."
                )
            return layers[index]
        if name is None:
            raise ValueError("Provide either a layer name or layer index")
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name}. Existing layers are: {[l.name for l in layers]}."
        )

    # -- the compiled network ------------------------------------------------------

    def build(self, input_shape=None):
        """Create the weights for ``input_shape`` (with the batch axis), as Keras."""
        if self._graph() is None:
            if input_shape is None:
                raise ValueError(
                    "the model's input size is unknown: pass input_shape=(None, features), "
                    "give the first layer input_shape=..., or start with keras.Input(shape=...)"
                )
            shape = tuple(input_shape)
            self._build_from_shape(shape[1:] if len(shape) > 1 else shape)
        elif input_shape is not None:
            shape = tuple(input_shape)
            self._build_from_shape(shape[1:] if len(shape) > 1 else shape)  # checks it agrees

    def _weighted_calls(self) -> list:
        return [c for c in self._calls if c.layer._variables]

    def _trainable_state(self) -> tuple:
        return tuple(layer.trainable for layer in self.layers)

    def _build_network(self) -> None:
        """(Re)create the compiled network; every layer keeps its current weights."""
        self._refuse_while_fitting("change the model's layers")
        graph = self._graph()
        if graph is None or graph[1] is None:
            raise ValueError(
                f"model {self.name!r} has no weights yet: its input shape is unknown (give the "
                "first layer input_shape=..., start with keras.Input, or call build()/fit())"
            )
        inputs, output = graph
        calls = layer_graph.trace(inputs, output)
        if all(c.output is t for c, t in zip(calls, inputs)) and len(calls) == len(inputs):
            raise ValueError(f"model {self.name!r} has no layers; add at least one layer")
        for call in calls:
            owner = call.layer._model
            if call.layer._variables and owner is not None and owner is not self:
                raise ValueError(
                    f"layer {call.layer.name!r} already belongs to model {owner.name!r}; "
                    "hookfit does not share layers between models: create new layers"
                )
        x_width, nodes, out, layer_node = layer_graph.node_list(inputs, calls, output)
        network, views = layer_graph.make_network(x_width, nodes, out)
        for call in calls:
            layer = call.layer
            if id(layer) not in layer_node or not layer._variables:
                continue
            new = views(layer_node[id(layer)])
            for dst, src in zip(new, layer._variables):
                dst[...] = src
            layer._variables = new
            layer._model = self
        self._network = network
        self._calls = calls
        # The usual x (one 2-D array for a single input of shape (None, d)) is
        # taken as it is by _prepare_x while this network stands.
        shape = tuple(inputs[0].shape) if len(inputs) == 1 else ()
        self._plain_x = (network, shape[1]) if len(shape) == 2 and shape[1] else None
        self._built_trainable = self._trainable_state()
        if getattr(self, "_compiled", False):
            if self._compiled_trainable is None:  # compiled before the input shape was known
                self._compiled_trainable = self._built_trainable
            self._configure()

    def _apply_trainable(self) -> None:
        """At compile: rebuild the network when a trainable flag changed."""
        if not self.built:
            return
        if self._network is None or self._trainable_state() != self._built_trainable:
            self._build_network()
        self._compiled_trainable = self._trainable_state()
        self._warned_trainable = False

    def _check_trainable_consistency(self) -> None:
        """Keras warns when trainable changed since compile (it has no effect yet)."""
        if (self._compiled_trainable is not None and not self._warned_trainable
                and self._trainable_state() != self._compiled_trainable):
            self._warned_trainable = True
            warnings.warn(
                "Discrepancy between trainable weights and collected trainable weights, did "
                "you set `model.trainable` without calling `model.compile` after ?",
                UserWarning, stacklevel=3,
            )

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value) -> None:
        self._trainable = trainable_flag(value)
        for layer in self.layers:  # as Keras: the flag is set on every layer
            layer.trainable = self._trainable

    # -- data -------------------------------------------------------------------------

    def _input_arrays(self, x, argument: str) -> list:
        """``x`` as one array per model input (an array, a list or a dict by name)."""
        inputs = self.inputs
        names = [t.name for t in inputs]
        if isinstance(x, dict):
            missing = [n for n in names if n not in x]
            if missing:
                raise ValueError(
                    f"{argument}: no data for the model input(s) {missing}; the dict keys must be "
                    f"the input names {names} (got {sorted(map(str, x))})"
                )
            extra = sorted(str(k) for k in x if k not in names)
            if extra:
                warnings.warn(
                    f"Input dict contained keys {extra} which did not match any model input. "
                    "They will be ignored by the model.", UserWarning, stacklevel=4,
                )
            return [x[n] for n in names]
        if isinstance(x, (list, tuple)) and len(inputs) > 1:
            if len(x) != len(inputs):
                raise ValueError(
                    f"{argument}: the model has {len(inputs)} inputs {names} but {len(x)} arrays "
                    "were given; pass one array per input, in that order"
                )
            return list(x)
        if len(inputs) > 1:
            raise ValueError(
                f"{argument}: the model has {len(inputs)} inputs {names}; pass a list of "
                f"{len(inputs)} arrays (in that order) or a dict keyed by input name"
            )
        if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
            return [x[0]]
        return [x]

    def _prepare_x(self, x, argument: str = "x") -> np.ndarray:
        """The one 2-D x matrix the network reads (built on first data if needed)."""
        plain = self._plain_x
        if (
            plain is not None and plain[0] is self._network and type(x) is np.ndarray
            and x.ndim == 2 and x.shape[1] == plain[1] and x.shape[0] and x.dtype.kind in "fiub"
        ):
            return x  # what every check below would accept unchanged
        from hookfit.trainers import data_adapter as da

        if self._graph() is None:  # a Sequential learning its input shape from data
            if isinstance(x, (list, tuple, dict)) and not isinstance(x, np.ndarray):
                single = x[0] if isinstance(x, (list, tuple)) and len(x) == 1 else None
                if single is None:
                    raise ValueError(f"{argument}: a Sequential model takes one array")
                x = single
            array = da.as_array(x, argument)
            if array.ndim < 2:
                da.check_features(array, None, argument)
            if array.shape[0] == 0:
                raise ValueError(f"{argument} is empty (shape {array.shape}); pass at least one sample")
            self._build_from_shape(array.shape[1:])
        self._ensure_network()
        return self._input_matrix(x, argument)

    def _input_matrix(self, x, argument: str) -> np.ndarray:
        """Each input checked against its shape, flattened, and hstacked."""
        from hookfit.trainers import data_adapter as da

        arrays = []
        n = None
        for t, value in zip(self.inputs, self._input_arrays(x, argument)):
            label = argument if len(self.inputs) == 1 else f"{argument}[{t.name!r}]"
            a = da.as_array(value, label)
            expected = tuple(t.shape[1:])
            if a.ndim == 1 and len(expected) != 1:
                da.check_features(a, None, label)
            if a.ndim < 2 or tuple(a.shape[1:]) != expected:
                if a.ndim == 2 and len(expected) == 1:
                    da.check_features(a, expected[0], label)
                if a.ndim < 2:
                    da.check_features(a, None, label)
                raise ValueError(
                    f"{label}: the model input {t.name!r} expects shape (samples, "
                    f"{', '.join(map(str, expected))}); got {a.shape}"
                )
            if a.shape[0] == 0:
                raise ValueError(f"{label} is empty (shape {a.shape}); pass at least one sample")
            if n is not None and a.shape[0] != n:
                raise ValueError(
                    f"{argument}: all inputs must have the same number of samples; got "
                    f"{n} and {a.shape[0]}"
                )
            n = a.shape[0]
            arrays.append(a.reshape(n, -1))
        if len(arrays) == 1:
            return arrays[0]
        return np.hstack([a.astype(np.float32, copy=False) for a in arrays])

    # -- calls on data -------------------------------------------------------------

    def __call__(self, inputs, training=None, **kwargs):
        """The outputs for ``inputs`` as one batch (NumPy in, NumPy out)."""
        if kwargs:
            raise NotSupportedError(
                f"hookfit does not support the call argument(s) {sorted(kwargs)}; supported "
                "call arguments: inputs, training"
            )
        flat = inputs.values() if isinstance(inputs, dict) else (
            inputs if isinstance(inputs, (list, tuple)) else [inputs])
        if any(isinstance(t, KerasTensor) for t in flat):
            raise NotSupportedError(
                "hookfit does not support calling a model on symbolic tensors (nested models); "
                "supported: calling layers on keras.Input tensors, then keras.Model(inputs, "
                "outputs) over all of them"
            )
        if not training:
            return self.predict_on_batch(inputs)
        x = self._prepare_x(inputs, "inputs")
        # Training mode in C: fresh dropout masks, batch statistics (which also
        # move BatchNormalization's moving statistics, as Keras's call does).
        return self._network.forward(np.ascontiguousarray(x, dtype=np.float32), training=True)

    # -- weights ---------------------------------------------------------------------

    @property
    def weights(self) -> list:
        """Every layer's weights (writable views), layer by layer, as Keras orders them."""
        return [w for layer in self.layers for w in layer.weights] if self.built else []

    @property
    def trainable_weights(self) -> list:
        if not self.built or not self._trainable:
            return []
        return [w for layer in self.layers for w in layer.trainable_weights]

    @property
    def non_trainable_weights(self) -> list:
        if not self.built:
            return []
        if not self._trainable:
            return self.weights
        return [w for layer in self.layers for w in layer.non_trainable_weights]

    variables = weights
    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    def get_weights(self) -> list:
        """Copies of every layer's weights, in ``model.weights`` order."""
        return [np.array(w, copy=True) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Set all weights from a list shaped like ``get_weights()``; all are
        checked before any is written."""
        self._refuse_while_fitting("set the weights", same_thread_ok=True)
        if not self.built:
            raise ValueError(
                "the model has no weights yet: give the first layer input_shape=..., "
                "or call build()/fit() first"
            )
        weights = list(weights)
        own = self.weights
        if len(weights) != len(own):
            raise ValueError(
                f"set_weights expects {len(own)} arrays (as get_weights() returns); "
                f"got {len(weights)}"
            )
        groups, k = [], 0
        for layer in self.layers:
            m = len(layer.weights)
            group = weights[k : k + m]
            names = [spec[0] for spec in layer._ordered_specs()] + ["count"]
            for name, dst, src in zip(names, layer.weights, group):
                check_weight(src, np.shape(dst), f"layer {layer.name!r}: {name}")
            groups.append((layer, group))
            k += m
        for layer, group in groups:
            if group:
                layer.set_weights(group)

    def count_params(self) -> int:
        return int(sum(np.size(w) for w in self.weights))

    def summary(self, line_length=None, positions=None, print_fn=None, expand_nested=False,
                show_trainable=False, layer_range=None):
        """Print the layer table, in Keras 2's format."""
        from hookfit.models.summary import print_summary

        print_summary(self, line_length, positions, print_fn, show_trainable, layer_range)
