"""``ProgbarLogger``: the progress bar of fit/evaluate/predict (Keras 2).

``fit`` adds it with ``count_mode="steps"`` when ``verbose != 0``. Its batch
hooks are wanted only with ``verbose == 1``; with ``verbose == 2`` it prints
one line per epoch, so training can run a whole epoch per native call.
Validation inside ``fit`` draws no bar of its own: its ``val_`` values go on
the epoch's final line.
"""

from __future__ import annotations

from hookfit.callbacks.callback import Callback, Due, Schedule
from hookfit.utils.progbar import Progbar

_DUE_AT_FIRST_BATCH = Due(0)  # asked once per epoch: made once


class ProgbarLogger(Callback):
    """Prints metrics to stdout with a Keras 2 progress bar.

    Args:
        count_mode: ``"steps"`` or ``"samples"`` (what the bar counts).
        stateful_metrics: keys shown as given rather than averaged; the
            model's loss and metrics are always treated as stateful (they are
            running means already).
    """

    def __init__(self, count_mode="samples", stateful_metrics=None):
        super().__init__()
        if count_mode not in ("samples", "steps"):
            raise ValueError(
                f"Unknown `count_mode`: {count_mode!r}. Expected values are ['samples', 'steps']"
            )
        self.use_steps = count_mode == "steps"
        self.stateful_metrics = set(stateful_metrics or ())
        self.seen = 0
        self.steps_done = 0
        self.progbar = None
        self.target = None
        self.verbose = 1
        self.epochs = 1
        self._call_batch_hooks = True
        self._called_in_fit = False
        self._stateful = None  # the keys shown as given, read at each run's start

    def set_params(self, params):
        super().set_params(params)
        verbose = params.get("verbose", 1)
        self.verbose = 1 if verbose == "auto" else verbose
        self.epochs = params.get("epochs", 1)
        key = "steps" if self.use_steps else "samples"
        self.target = params.get(key)
        self._call_batch_hooks = self.verbose == 1

    def _implements_train_batch_hooks(self):
        return self._call_batch_hooks

    def _implements_test_batch_hooks(self):
        return self._call_batch_hooks

    def _implements_predict_batch_hooks(self):
        return self._call_batch_hooks

    def _batch_schedule(self, mode):
        """A boundary only when the next redraw is due (Keras's time interval:
        the first batch of a bar, then ``interval`` seconds after the last
        draw); in samples mode every batch, since it counts each one."""
        if mode == "test" and self._called_in_fit:
            return Schedule()  # validation inside fit draws no bar
        if not self.use_steps:
            return None
        return Schedule(due=self._next_redraw)

    def _next_redraw(self, batch, last):
        bar = self.progbar
        if bar is None or bar._last_update == 0:
            return _DUE_AT_FIRST_BATCH if batch == 0 else Due(batch)
        return Due(None, bar._last_update + bar.interval)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True
        self._read_stateful()

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._read_stateful()
            self._start_progbar()

    def on_predict_begin(self, logs=None):
        self._read_stateful()
        self._start_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        bar = self._start_progbar()
        if self.verbose and self.epochs > 1:
            bar._write(f"Epoch {epoch + 1}/{self.epochs}\n")

    def on_train_batch_end(self, batch, logs=None):
        self._batch_update_progbar(batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        if not self._called_in_fit:
            self._batch_update_progbar(batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._batch_update_progbar(batch, None)  # never the predictions

    def on_epoch_end(self, epoch, logs=None):
        self._finalize_progbar(logs)

    def on_test_end(self, logs=None):
        if not self._called_in_fit:
            self._finalize_progbar(logs)

    def on_predict_end(self, logs=None):
        self._finalize_progbar(logs)

    def _read_stateful(self) -> set:
        """The keys shown as given: the user's plus the model's loss and
        metrics (running means already). Read once per fit/evaluate/predict
        (Keras 2 rereads them at each update because its model builds its
        metrics in the first step; hookfit's are known from compile)."""
        names = getattr(self.model, "metrics_names", None) or ()
        self._stateful = set(self.stateful_metrics).union(names)
        return self._stateful

    def _start_progbar(self) -> Progbar:
        """A new bar (one per epoch, evaluate or predict, as in Keras)."""
        self.seen = 0
        self.steps_done = 0
        stateful = self._stateful
        bar = self.progbar = Progbar(
            target=self.target,
            verbose=self.verbose,
            stateful_metrics=stateful if stateful is not None else self._read_stateful(),
            unit_name="step" if self.use_steps else "sample",
        )
        return bar

    def _batch_update_progbar(self, batch, logs):
        bar = self.progbar
        if bar is None:  # batch hooks called without their begin hook
            bar = self._start_progbar()
        self.steps_done = batch + 1
        if self.use_steps:
            self.seen = batch + 1
        else:
            logs = logs or {}
            self.seen += logs.get("size", 0) * logs.get("num_steps", 1)
            logs = {k: v for k, v in logs.items() if k not in ("size", "num_steps")}
        if self.verbose == 1:
            bar.update(self.seen, logs.items() if logs else (), finalize=False)

    def _finalize_progbar(self, logs):
        bar = self.progbar
        if bar is None:
            bar = self._start_progbar()
        if self.target is None:
            # Unknown up front (e.g. samples mode): what was counted.
            self.target = self.seen or self.steps_done or None
            bar.target = self.target
        current = self.target if self.target is not None else self.steps_done
        bar.update(current, logs.items() if logs else (), finalize=True)
