"""``Model``: the layer graph, its weights and save/load; training is the
``Trainer``'s (``hookfit/trainers/trainer.py``, whose design notes hold).
"""

from __future__ import annotations

import numpy as np

from hookfit._native import core
from hookfit.trainers import data_adapter as da
from hookfit.trainers.trainer import (  # noqa: F401 - re-exported names
    FitInProgressError,
    NotCompiledError,
    Trainer,
)
from hookfit.utils import naming


class Model(Trainer):
    """Base of hookfit's models (``Sequential`` is the one to use).

    Subclasses provide the layer stack: ``_weighted_layers()`` and
    ``_declared_input_dim()``.
    """

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string; got {type(name).__name__}")
        self.name = name or naming.unique_name("model")
        self._network = None
        super().__init__()

    # -- structure (provided by subclasses) ------------------------------------

    def _weighted_layers(self) -> list:
        raise NotImplementedError

    def _declared_input_dim(self):
        raise NotImplementedError

    @property
    def built(self) -> bool:
        return self._network is not None

    @property
    def input_dim(self):
        return self._network.input_dim if self._network is not None else self._declared_input_dim()

    def build(self, input_shape=None):
        """Create the weights for ``input_shape=(None, features)`` (or the
        shape declared by the first layer)."""
        if input_shape is None:
            input_dim = self._declared_input_dim()
            if input_dim is None:
                raise ValueError(
                    "the model's input size is unknown: pass input_shape=(None, features), "
                    "give the first layer input_dim=..., or start with keras.Input(shape=...)"
                )
        else:
            shape = tuple(input_shape)
            if len(shape) == 2:
                shape = shape[1:]
            from hookfit.layers.input_layer import feature_count

            input_dim = feature_count(shape, "input_shape")
        self._build_network(input_dim)

    def _build_network(self, input_dim: int) -> None:
        """(Re)create the compiled network; layers keep weights they had."""
        self._refuse_while_fitting("change the model's layers")
        layers = self._weighted_layers()
        if not layers:
            raise ValueError(
                f"model {self.name!r} has no layers; add at least one Dense layer"
            )
        old = self._network
        old_weights = {}
        if old is not None:
            old_weights = {
                id(layer): layer.get_weights()
                for layer in layers
                if layer._model is self and layer._index is not None and layer._index < old.n_layers
            }
        network = core.Network(
            input_dim,
            [l.units for l in layers],
            [l._activation_code for l in layers],
            [l.use_bias for l in layers],
        )
        fan_in = input_dim
        initial = []
        for layer in layers:
            weights = old_weights.get(id(layer))
            if weights is None or weights[0].shape[0] != fan_in:
                weights = [w for w in layer._initial_weights(fan_in) if w is not None]
            initial.append(weights)
            fan_in = layer.units
        self._network = network
        for i, (layer, weights) in enumerate(zip(layers, initial)):
            layer._attach(self, i)
            layer._fan_in = network.layer_weights(i)[0].shape[0]
            layer.set_weights(weights)
        if self._compiled:
            self._configure()

    def _ensure_built(self, x: np.ndarray) -> None:
        if self._network is None:
            da.check_features(x, self._declared_input_dim())
            self._build_network(x.shape[1])

    # -- weights ------------------------------------------------------------------

    def get_weights(self) -> list:
        """Copies of every layer's weights: [kernel, bias, kernel, bias, ...]."""
        return [w for layer in self._weighted_layers() for w in layer.get_weights()] if self.built else []

    def set_weights(self, weights) -> None:
        """Set all weights from a list shaped like ``get_weights()``.

        Every array is checked (a real numeric dtype, the expected shape)
        before any weight changes, so a rejected call changes nothing.
        """
        self._refuse_while_fitting("set the weights", same_thread_ok=True)
        if not self.built:
            raise ValueError(
                "the model has no weights yet: give the first layer input_dim=..., "
                "or call build()/fit() first"
            )
        weights = list(weights)
        layers = self._weighted_layers()
        expected = sum(2 if l.use_bias else 1 for l in layers)
        if len(weights) != expected:
            raise ValueError(
                f"set_weights expects {expected} arrays (kernel and bias per layer, as "
                f"get_weights() returns); got {len(weights)}"
            )
        groups, k = [], 0
        for layer in layers:
            m = 2 if layer.use_bias else 1
            groups.append([_checked_weight(layer, what, dst, src, k + i)
                           for i, (what, dst, src) in enumerate(zip(("kernel", "bias"), layer.weights, weights[k : k + m]))])
            k += m
        for layer, group in zip(layers, groups):
            layer.set_weights(group)

    @property
    def weights(self) -> list:
        """Views of every layer's weights (writable; ``get_weights`` copies)."""
        return [w for layer in self._weighted_layers() for w in layer.weights] if self.built else []

    trainable_weights = weights

    def __call__(self, x):
        """The outputs for ``x`` as one batch (NumPy in, NumPy out)."""
        return self.predict_on_batch(x)

    def count_params(self) -> int:
        return self._network.n_params if self.built else 0

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        """Write the weights: ``.weights.h5`` (Keras 3), ``.h5`` (Keras 2) or ``.npz``.
        ``overwrite=False`` refuses an existing file (Keras would prompt)."""
        from hookfit import saving

        return saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, options=None):
        """Read weights written by ``save_weights`` or by Keras (shapes are checked;
        ``by_name`` for Keras 2 ``.h5`` files; ``skip_mismatch`` skips layers that do not fit)."""
        from hookfit import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Architecture, weights and optimizer state in one file: ``.keras``
        (Keras 3), ``.h5`` (Keras 2) or ``.npz`` (hookfit)."""
        from hookfit import saving

        kwargs.pop("save_format", None)  # the suffix decides, as in Keras 3
        # TensorFlow SavedModel settings: accepted at their defaults only.
        for key, default in (("signatures", None), ("options", None), ("save_traces", True)):
            if kwargs.pop(key, default) != default:
                raise ValueError(f"save(): {key} applies to TensorFlow SavedModel files, which hookfit does not write")
        if kwargs:
            raise TypeError(f"save() got unexpected argument(s) {sorted(kwargs)}")
        return saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)


def _checked_weight(layer, what, dst, src, position):
    """``src`` as a float32 array for ``dst``, or a ValueError naming it."""
    where = f"set_weights: array {position} (layer {layer.name!r} {what})"
    if isinstance(src, np.ndarray):
        array = src
    else:
        try:
            array = np.asarray(src)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{where} is not an array of numbers: {e}") from None
    if array.dtype.kind not in "biuf":
        raise ValueError(
            f"{where} has dtype {array.dtype}; weights must be real numbers (float, int or bool)"
        )
    if array.shape != dst.shape:
        raise ValueError(f"layer {layer.name!r}: {what} must have shape {dst.shape}; got {array.shape}")
    return array
