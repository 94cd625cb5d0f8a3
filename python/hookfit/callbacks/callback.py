"""The ``Callback`` base class, as in Keras 2 (tf-keras).

Every hook is a no-op here. The batch hooks are marked with ``_default`` so
that ``CallbackList`` can tell, once per fit/evaluate/predict, which hooks a
callback really overrides, and never call the others.
"""

from __future__ import annotations


def _default(method):
    """Mark a base-class hook as a no-op that dispatch may skip."""
    method._is_default = True
    return method


def is_default(method) -> bool:
    """True if ``method`` is a base-class no-op (not overridden)."""
    return getattr(method, "_is_default", False)


class Callback:
    """Base class for callbacks: override the hooks you need.

    Hooks receive 0-based ``epoch``/``batch`` indices and a ``logs`` dict
    (``{}`` when there is nothing to report, never ``None`` when called by
    the model). ``self.model`` is the model being trained, ``self.params``
    holds ``verbose``, ``epochs`` and ``steps``.

    Example:

    >>> class PrintLoss(Callback):
    ...     def on_epoch_end(self, epoch, logs=None):
    ...         print(epoch, logs["loss"])
    """

    def __init__(self):
        self.validation_data = None
        self.model = None
        # Keras 2 keeps these for multi-worker plumbing and tensor logs.
        self._chief_worker_only = None
        self._supports_tf_logs = False

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    # Batch hooks (skippable when not overridden).
    @_default
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` (train batches only)."""

    @_default
    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` (train batches only)."""

    @_default
    def on_train_batch_begin(self, batch, logs=None):
        # The base forwards to the legacy alias, as Keras 2 does.
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch, logs=None):
        pass

    @_default
    def on_test_batch_end(self, batch, logs=None):
        pass

    @_default
    def on_predict_batch_begin(self, batch, logs=None):
        pass

    @_default
    def on_predict_batch_end(self, batch, logs=None):
        pass

    # Epoch and run hooks.
    @_default
    def on_epoch_begin(self, epoch, logs=None):
        pass

    @_default
    def on_epoch_end(self, epoch, logs=None):
        pass

    @_default
    def on_train_begin(self, logs=None):
        pass

    @_default
    def on_train_end(self, logs=None):
        pass

    @_default
    def on_test_begin(self, logs=None):
        pass

    @_default
    def on_test_end(self, logs=None):
        pass

    @_default
    def on_predict_begin(self, logs=None):
        pass

    @_default
    def on_predict_end(self, logs=None):
        pass

    # Which batch hooks this callback needs; built-ins may override these
    # predicates (ProgbarLogger: verbose == 1), as in Keras 2.
    def _implements_train_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_batch_begin)
            and is_default(self.on_batch_end)
            and is_default(self.on_train_batch_begin)
            and is_default(self.on_train_batch_end)
        )

    def _implements_test_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_test_batch_begin) and is_default(self.on_test_batch_end)
        )

    def _implements_predict_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_predict_batch_begin)
            and is_default(self.on_predict_batch_end)
        )

    # Stateful-callback protocol (beyond Keras): a callback whose decisions
    # depend on past epochs returns its state here so that a backup can
    # restore it bit-exactly. ``None`` means "nothing to save".
    def get_state(self):
        return None

    def set_state(self, state):
        pass
