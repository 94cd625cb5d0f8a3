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
        self._stateful_cache = None  # (metrics names, stateful_metrics, their union)

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
            return Due(batch=batch)
        return Due(time=bar._last_update + bar.interval)

    def on_train_begin(self, logs=None):
        self._called_in_fit = True

    def on_test_begin(self, logs=None):
        if not self._called_in_fit:
            self._reset_progbar()
            self._maybe_init_progbar()

    def on_predict_begin(self, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()

    def on_epoch_begin(self, epoch, logs=None):
        self._reset_progbar()
        self._maybe_init_progbar()
        if self.verbose and self.epochs > 1:
            self.progbar._write(f"Epoch {epoch + 1}/{self.epochs}\n")

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

    def _reset_progbar(self):
        self.seen = 0
        self.steps_done = 0
        self.progbar = None

    def _maybe_init_progbar(self):
        names = tuple(getattr(self.model, "metrics_names", None) or ())
        cached = self._stateful_cache
        if cached is None or cached[0] != names or cached[1] != self.stateful_metrics:
            cached = self._stateful_cache = (names, set(self.stateful_metrics),
                                             self.stateful_metrics | set(names))
        stateful = cached[2]
        if self.progbar is None:
            self.progbar = Progbar(
                target=self.target,
                verbose=self.verbose,
                stateful_metrics=stateful,
                unit_name="step" if self.use_steps else "sample",
            )
        self.progbar.stateful_metrics = stateful

    def _batch_update_progbar(self, batch, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        self.steps_done = batch + 1
        if self.use_steps:
            self.seen = batch + 1
        else:
            self.seen += logs.get("size", 0) * logs.get("num_steps", 1)
            logs = {k: v for k, v in logs.items() if k not in ("size", "num_steps")}
        if self.verbose == 1:
            self.progbar.update(self.seen, list(logs.items()), finalize=False)

    def _finalize_progbar(self, logs):
        logs = logs or {}
        self._maybe_init_progbar()
        if self.target is None:
            # Unknown up front (e.g. samples mode): what was counted.
            self.target = self.seen or self.steps_done or None
            self.progbar.target = self.target
        current = self.target if self.target is not None else self.steps_done
        self.progbar.update(current, list(logs.items()), finalize=True)
