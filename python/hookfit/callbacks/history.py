"""``History``: records the epoch logs; ``fit`` returns it."""

from __future__ import annotations

from hookfit.callbacks.callback import Callback, has_epoch_hooks_of


class History(Callback):
    """Records every epoch's logs into ``history`` (key -> list of values).

    Added to every ``fit`` (after the user's callbacks), and returned by it.
    ``epoch`` lists the epoch indices seen by the latest ``fit``; ``history``
    keeps accumulating if the same instance is passed to several fits, as in
    Keras 2.

    >>> history = model.fit(x, y, epochs=3, verbose=0)  # doctest: +SKIP
    >>> history.history["loss"]                          # doctest: +SKIP
    [0.53, 0.31, 0.27]
    """

    def __init__(self):
        super().__init__()
        self.history = {}
        self.epoch = []
        self._costs = None  # CallbackCosts of the CallbackList that used it last

    def on_train_begin(self, logs=None):
        self.epoch = []

    def _epoch_hooks_can_wait(self):
        return has_epoch_hooks_of(self, History)

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, []).append(value)
        if self.model is not None:
            # Keras 2: the model's history is whichever History last recorded.
            self.model.history = self

    def _late_epochs(self, run):
        # on_epoch_end for each epoch of the run, a column at a time.
        self.epoch.extend(run.epochs)
        history = self.history
        for key, column in zip(run.keys, zip(*run.rows)):
            history.setdefault(key, []).extend(column)
        if self.model is not None:
            self.model.history = self

    @property
    def callback_costs(self):
        """A ``CallbackCosts`` table of the latest fit/evaluate/predict this
        History took part in: per (callback, hook) the calls and total
        seconds, most expensive first, and the time spent in the steps. (An
        evaluate or predict with no callback and ``verbose=0`` runs without
        a callback list, and its History's table is empty.)

        >>> print(model.fit(x, y, verbose=0).callback_costs)  # doctest: +SKIP
        """
        from hookfit.callbacks.callback_costs import CallbackCosts

        return CallbackCosts() if self._costs is None else self._costs.snapshot()

    def get_state(self):
        """The recorded epochs (for a bit-exact resume by BackupAndRestore)."""
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def set_state(self, state):
        self.epoch = list(state["epoch"])
        self.history = {k: list(v) for k, v in state["history"].items()}

    def plot(self, path=None):
        """Plot each metric per epoch with its ``val_`` twin (needs matplotlib)."""
        from hookfit.utils.plotting import plot_history

        return plot_history(self, path=path)
