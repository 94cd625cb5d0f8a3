"""``Model``: the layer graph, its weights and save/load; training is the
``Trainer``'s (``hookfit/trainers/trainer.py``, whose design notes hold), the
layers/weights/inputs side is ``NetworkOwner``'s (``models/network_owner.py``).
``keras.Model(inputs, outputs)`` builds a functional model.
"""

from __future__ import annotations

from hookfit.models.network_owner import NetworkOwner
from hookfit.trainers.trainer import (  # noqa: F401 - re-exported names
    FitInProgressError,
    NotCompiledError,
    Trainer,
)
from hookfit.unsupported import NotSupportedError
from hookfit.utils import naming


class Model(NetworkOwner, Trainer):
    """Base of hookfit's models: ``keras.Model(inputs, outputs)`` builds a
    functional model; ``Sequential`` is the other kind."""

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            from hookfit.models.functional import Functional

            return super().__new__(Functional)
        if cls is Model:
            raise NotSupportedError(
                "hookfit does not support subclassing keras.Model (a call() method runs Python "
                "between layers); supported models: keras.Model(inputs=..., outputs=...) and "
                "keras.Sequential([...])"
            )
        return super().__new__(cls)

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string; got {type(name).__name__}")
        self.name = name or naming.unique_name("model")
        self._network = None
        super().__init__()

    # -- files ------------------------------------------------------------------

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

