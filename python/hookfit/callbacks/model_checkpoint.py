"""``ModelCheckpoint``: save the model or its weights during training.

Keras 2 (tf-keras 2.21) semantics. Files are written atomically by
``hookfit.saving``, so a checkpoint on disk is always a complete one.
"""

from __future__ import annotations

import logging
import os
import re
import string
import weakref

import numpy as np

from hookfit.utils.arguments import check_number
from hookfit.callbacks.callback import Due, Schedule, has_epoch_hooks_of
from hookfit.callbacks.checkpoint_retention import CheckpointRetention, check_keep
from hookfit.callbacks.monitor_callback import MonitorCallback
from hookfit.utils.atomic import check_can_write

logger = logging.getLogger("hookfit")


class FilepathTemplateError(KeyError, ValueError):
    """The ``filepath`` template names a value the logs do not have."""

    def __str__(self):  # KeyError would show the message's repr
        return str(self.args[0])


def newest_matching(template: str) -> str | None:
    """The most recently modified file whose name the ``filepath`` template
    could have produced (ties: the last name in sorted order), or None."""
    directory = os.path.dirname(template) or "."
    pattern = "".join(
        re.escape(literal) + (".*" if field is not None else "")
        for literal, field, _, _ in string.Formatter().parse(os.path.basename(template))
    )
    if "{" in directory or not os.path.isdir(directory):
        return None
    matcher = re.compile(pattern + r"\Z")
    found = [
        os.path.join(directory, name)
        for name in sorted(os.listdir(directory))
        if matcher.match(name) and os.path.isfile(os.path.join(directory, name))
    ]
    if not found:
        return None
    return max(found, key=lambda p: (os.path.getmtime(p), p))


def _template_fields(template: str) -> list[str]:
    """The top-level field names used by a ``str.format`` template."""
    names = []
    for _, field, _, _ in string.Formatter().parse(template):
        if field:
            names.append(field.split(".")[0].split("[")[0])
    return names


def _saves_weights_as_hookfit(model) -> bool:
    """True if ``model.save_weights`` is hookfit's own (not a subclass's)."""
    from hookfit.models.model import Model

    return isinstance(model, Model) and type(model).save_weights is Model.save_weights


class ModelCheckpoint(MonitorCallback):
    """Save the model (``model.save``) or its weights (``model.save_weights``)
    at the end of every epoch or every ``save_freq`` batches.

    Args:
        filepath: a path or a ``str.format`` template filled from ``epoch``
            (1-based), ``batch`` (1-based, batch-level saves) and every logs
            key, e.g. ``"weights.{epoch:02d}-{val_loss:.2f}.npz"``.
            With ``save_weights_only`` it must end in ``.npz`` or
            ``.weights.h5``.
        monitor: the logs key for ``save_best_only``.
        verbose: 1 prints a line per save (or per non-improvement).
        save_best_only: save only when ``monitor`` improves on the best so far.
        save_weights_only: save weights instead of the whole model.
        mode: ``"min"``, ``"max"`` or ``"auto"`` (max if ``"acc"`` is a
            substring of ``monitor`` or it starts with ``"fmeasure"``).
        save_freq: ``"epoch"`` or a number of batches (counted across epochs).
        options: accepted for compatibility (TensorFlow save options); unused.
        initial_value_threshold: the best value to beat at the start.
        keep_last: keep only the newest k files this callback wrote (beyond
            Keras; default: keep every file).
        keep_best: keep only the k files with the best ``monitor`` values
            (with ``keep_last`` too, the union of both sets is kept).
        save_last: also write ``last`` + the template's suffix (``last.npz``) next to
            the files at every save point, best or not.
        load_weights_on_restart: (deprecated in Keras 2, still honoured) load
            the newest file matching ``filepath`` before training.

    With ``keep_last``, ``keep_best`` or ``save_last`` the callback keeps a
    manifest, ``checkpoints.json`` in the files' directory, listing the files
    kept (epoch, batch, monitored value) and the last one; it is replaced
    atomically after each new file is in place, and only then are dropped
    files removed. Give each such ModelCheckpoint its own directory.

    >>> checkpoint = ModelCheckpoint("ckpt/weights.{epoch:02d}-{loss:.2f}.npz",
    ...                              save_weights_only=True, monitor="loss")
    """

    def __init__(
        self,
        filepath,
        monitor="val_loss",
        verbose=0,
        save_best_only=False,
        save_weights_only=False,
        mode="auto",
        save_freq="epoch",
        options=None,
        initial_value_threshold=None,
        keep_last=None,
        keep_best=None,
        save_last=False,
        **kwargs,
    ):
        super().__init__()
        check_number("ModelCheckpoint", "initial_value_threshold", initial_value_threshold, optional=True)
        keep_last = check_keep(keep_last, "keep_last")
        keep_best = check_keep(keep_best, "keep_best")
        if not isinstance(save_last, (bool, np.bool_)):
            raise TypeError(f"ModelCheckpoint: save_last must be True or False; got {save_last!r}.")
        self._supports_tf_logs = True
        self.verbose = verbose
        self.filepath = os.fspath(filepath)
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.epochs_since_last_save = 0
        self._batches_seen_since_last_saving = 0
        self._last_batch_seen = 0
        self._current_epoch = 0
        self.best = initial_value_threshold
        self._options = options
        self._saver = None  # a WeightsSaver during a fit
        self._learned = (None, None)  # (a weak reference to the model, what its saver learned)
        self._pending = None  # (path, weights): a waiting save not written yet

        self.load_weights_on_restart = bool(kwargs.pop("load_weights_on_restart", False))
        if self.load_weights_on_restart:
            logger.warning(
                "`load_weights_on_restart` argument is deprecated. Please use "
                "`model.load_weights()` for loading weights before the start of `model.fit()`."
            )
        if "period" in kwargs:
            self.period = kwargs.pop("period")
            logger.warning(
                "`period` argument is deprecated. Please use `save_freq` to specify the "
                "frequency in number of batches seen."
            )
        else:
            self.period = 1
        if kwargs:
            raise TypeError(f"ModelCheckpoint got unexpected argument(s) {sorted(kwargs)}.")

        self._set_monitor(monitor, mode)
        if self.best is None:
            self.best = self._worst()
        self.keep_last, self.keep_best, self.save_last = keep_last, keep_best, bool(save_last)
        self._retention = None
        if keep_last is not None or keep_best is not None or save_last:
            self._retention = CheckpointRetention(
                os.path.dirname(self.filepath.split("{", 1)[0]) or ".",
                keep_last,
                keep_best,
                lower_is_better=not self._monitor_max,
                monitor=self.monitor,
            )

        if self.save_freq != "epoch" and (
            isinstance(self.save_freq, bool) or not isinstance(self.save_freq, int)
        ):
            raise ValueError(
                f"Unrecognized save_freq: {self.save_freq}. Expected save_freq are 'epoch' or integer"
            )
        if isinstance(self.save_freq, int) and self.save_freq <= 0:
            raise ValueError(f"save_freq must be 'epoch' or a positive number of batches; got {save_freq}.")
        from hookfit.saving.paths import check_checkpoint_path

        check_checkpoint_path(self.filepath, save_weights_only=self.save_weights_only)
        self._chief_worker_only = False

    # -- hooks -------------------------------------------------------------------

    def _implements_train_batch_hooks(self):
        return self.save_freq != "epoch"

    def on_train_begin(self, logs=None):
        # Fail before training, not after the first (maybe long) epoch.
        static_dir = self.filepath.split("{", 1)[0]
        if "{" in self.filepath:
            check_can_write(
                os.path.dirname(static_dir) or ".", what="checkpoint directory", directory=True
            )
        else:
            check_can_write(self.filepath, what="checkpoint file")
        if self.load_weights_on_restart:
            self._load_newest()
        # Weights files are written without describing the model anew each
        # time (the saver checks the layers' names and shapes; it serves the
        # same model's next fits too), unless the model has a save_weights
        # of its own.
        self._saver = None
        if self.save_weights_only and _saves_weights_as_hookfit(self.model):
            from hookfit.saving.weights_saver import WeightsSaver

            model, learned = self._learned
            self._saver = WeightsSaver(self.model, learned if model is not None and model() is self.model else None)

    def _drop_saver(self):
        saver, self._saver = self._saver, None
        if saver is not None and saver.learned is not None:  # (for the model's next fit)
            self._learned = (weakref.ref(saver.model), saver.learned)

    def on_train_end(self, logs=None):
        self._waiting_given()  # (fit has written it already)
        self._drop_saver()

    def on_exception(self, exception, logs=None):
        try:
            self._waiting_given()  # (fit has written it already)
        except Exception as e:  # the fit's own error goes on
            logger.warning("ModelCheckpoint: a checkpoint could not be written: %s", e)
        self._drop_saver()

    def _load_newest(self):
        """tf-keras 2's restart: the newest file matching the template, if any."""
        path = newest_matching(self.filepath)
        if path is None:
            return
        try:
            if self.save_weights_only:
                self.model.load_weights(path)
            else:
                from hookfit.saving.state_codec import load_state

                self.model.set_weights(load_state(path)["weights"])
        except Exception as e:
            raise OSError(f"Error loading file from {path}. Reason: {e}") from e

    def on_train_batch_end(self, batch, logs=None):
        if self._should_save_on_batch(batch):
            self._save_model(epoch=self._current_epoch, batch=batch, logs=logs)

    def _epoch_hooks_can_wait(self):
        # Saving every N batches, its epoch hooks only count (and name the
        # epoch for the file name, which a batch save reads only after them).
        return self.save_freq != "epoch" and has_epoch_hooks_of(self, ModelCheckpoint)

    def on_epoch_begin(self, epoch, logs=None):
        self._current_epoch = epoch

    def on_epoch_end(self, epoch, logs=None):
        self.epochs_since_last_save += 1
        if self.save_freq == "epoch":
            self._save_model(epoch=epoch, batch=None, logs=logs)

    def _late_epochs(self, run):
        # Its epoch hooks for each epoch of the run (saving every N batches,
        # an epoch's end saves nothing).
        self._current_epoch = run.epochs[-1]
        self.epochs_since_last_save += len(run.epochs)

    _missing_message = "Can save best model only with {monitor} available, skipping."
    _unknown_mode_message = "ModelCheckpoint mode {mode} is unknown, fallback to auto mode."

    def _auto_is_max(self, monitor):
        return "acc" in monitor or monitor.startswith("fmeasure")

    def _batch_schedule(self, mode):
        # Only the batches where a save is due need this callback's hook.
        if self.save_freq == "epoch":
            return Schedule()  # never due: its batch hook would do nothing
        return Schedule(due=self._next_save_batch, skip=self._skip_batches, steps=self._steps_to_save,
                        period=self.save_freq, passes=self._skip_passes)

    _batch_end_wants_weights = True

    def _batch_end_can_wait(self):
        # A weights file can be written from the weights taken at its batch
        # (within a second: trainers/back_to_back.py) by hookfit's writer; a
        # model's own save_weights reads the weights of the moment, a
        # whole-model file would need the optimizer's state too, and a
        # printed line must come at its batch.
        return (self.save_weights_only and not self.verbose and _saves_weights_as_hookfit(self.model)
                and type(self).on_train_batch_end is ModelCheckpoint.on_train_batch_end
                and self._epoch_hooks_can_wait())

    def _steps_to_save(self):
        # On whole epochs Keras 2's index-difference count is a step count.
        return self.save_freq - self._batches_seen_since_last_saving

    def _next_save_batch(self, batch, last):
        """The first batch >= ``batch`` where ``_should_save_on_batch`` says yes."""
        to_go = self.save_freq - self._batches_seen_since_last_saving
        if batch <= self._last_batch_seen:  # counted as a new epoch: adds batch + 1
            return Due(batch=max(batch, to_go - 1))
        return Due(batch=self._last_batch_seen + to_go)

    def _skip_batches(self, batch, count):
        """Batches ``batch..batch+count-1`` ran without a save due: count them
        as ``_should_save_on_batch`` would have."""
        last = batch + count - 1
        if batch <= self._last_batch_seen:
            self._batches_seen_since_last_saving += last + 1
        else:
            self._batches_seen_since_last_saving += last - self._last_batch_seen
        self._last_batch_seen = last

    def _skip_passes(self, count, per_pass):
        # After the first, each pass counts as a new epoch's batches 0..per_pass-1.
        self._skip_batches(0, per_pass)
        self._batches_seen_since_last_saving += (count - 1) * per_pass

    def _should_save_on_batch(self, batch):
        """Count batches across epochs by index differences, as Keras 2 does."""
        if self.save_freq == "epoch":
            return False
        if batch <= self._last_batch_seen:  # a new epoch began
            add_batches = batch + 1
        else:
            add_batches = batch - self._last_batch_seen
        self._batches_seen_since_last_saving += add_batches
        self._last_batch_seen = batch
        if self._batches_seen_since_last_saving >= self.save_freq:
            self._batches_seen_since_last_saving = 0
            return True
        return False

    def _save_model(self, epoch, batch, logs):
        logs = logs or {}
        if not (isinstance(self.save_freq, int) or self.epochs_since_last_save >= self.period):
            return
        self.epochs_since_last_save = 0
        self._save_file(epoch, batch, logs)
        if self.save_last:
            last = os.path.join(self._retention.directory, "last" + self._suffix())
            self._write(last)
            self._retention.saved_last(last)

    def _suffix(self):
        """The template's file suffix (``.weights.h5`` counts as one)."""
        if self.filepath.endswith(".weights.h5"):
            return ".weights.h5"
        return os.path.splitext(self.filepath)[1] or ".npz"

    def _save_file(self, epoch, batch, logs):
        filepath = self._get_file_path(epoch, batch, logs)
        pending = self._pending  # (a waiting save to this path was checked already)
        if (pending is None or pending[0] != filepath) and os.path.isdir(filepath):
            raise IsADirectoryError(
                "Please specify a non-directory filepath for ModelCheckpoint. "
                f"Filepath used is an existing directory: {filepath}"
            )
        if self.save_best_only:
            current = self.get_monitor_value(logs)
            if current is None:
                return
            if self._is_improvement(current, self.best):
                if self.verbose > 0:
                    print(
                        f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} "
                        f"to {current:.5f}, saving model to {filepath}",
                        flush=True,
                    )
                self.best = current
                self._write(filepath)
                self._kept(filepath, epoch, batch, current)
            elif self.verbose > 0:
                print(
                    f"\nEpoch {epoch + 1}: {self.monitor} did not improve from {self.best:.5f}",
                    flush=True,
                )
        else:
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: saving model to {filepath}", flush=True)
            self._write(filepath)
            self._kept(filepath, epoch, batch, logs.get(self.monitor))

    def _kept(self, filepath, epoch, batch, value):
        if self._retention is not None:
            try:
                value = None if value is None else float(value)
            except (TypeError, ValueError):
                value = None
            self._retention.saved(filepath, epoch=epoch, batch=batch, value=value)

    def _write(self, filepath):
        saver = self._saver
        if saver is not None and self._late_weights is not None and self._late_alone and self._retention is None:
            # A waiting save, given with others in a run: the next one to
            # the same file in this run replaces it before anything can
            # read it, so of consecutive saves to a file only the last is
            # written (at the next file, or when the run ends).
            pending = self._pending
            if pending is not None and pending[0] != filepath:
                self._pending = None
                saver.save(*pending)
            self._pending = (filepath, self._late_weights)
            return None
        if saver is not None:  # (also the writer of weights taken earlier: _late_weights)
            return saver.save(filepath, self._late_weights)
        if self.save_weights_only:
            save = getattr(self.model, "save_weights", None)
            if save is None:
                from hookfit.saving import save_weights

                return save_weights(self.model, filepath, overwrite=True)
        else:
            save = getattr(self.model, "save", None)
            if save is None:
                from hookfit.saving import save_model

                return save_model(self.model, filepath, overwrite=True)
        save(filepath, overwrite=True)

    def _waiting_given(self):
        pending, self._pending = self._pending, None
        if pending is not None:
            self._saver.save(*pending)

    def _get_file_path(self, epoch, batch, logs):
        try:
            if batch is None or "batch" in logs:
                return self.filepath.format(epoch=epoch + 1, **logs)
            return self.filepath.format(epoch=epoch + 1, batch=batch + 1, **logs)
        except KeyError as e:
            available = ["epoch"] + ([] if batch is None else ["batch"]) + list(logs)
            missing = [f for f in _template_fields(self.filepath) if f not in available]
            raise FilepathTemplateError(
                f'Failed to format this callback filepath: "{self.filepath}". Reason: {e}. '
                f"The template needs {', '.join(map(repr, missing)) or repr(e.args[0])}, but the "
                f"values available are: {', '.join(available)}."
            ) from None
        except (ValueError, IndexError) as e:
            raise ValueError(
                f'Failed to format this callback filepath: "{self.filepath}" with epoch={epoch + 1} '
                f"and logs {sorted(logs)}: {e}. Use named fields such as {{epoch:02d}} or "
                "{val_loss:.2f}."
            ) from None

    # -- stateful-callback protocol ---------------------------------------------

    def get_state(self):
        return {
            "best": self.best,
            "epochs_since_last_save": self.epochs_since_last_save,
            "batches_seen_since_last_saving": self._batches_seen_since_last_saving,
            "last_batch_seen": self._last_batch_seen,
            "current_epoch": self._current_epoch,
            "kept": None if self._retention is None else self._retention.get_state(),
        }

    def set_state(self, state):
        self.best = state["best"]
        self.epochs_since_last_save = state["epochs_since_last_save"]
        self._batches_seen_since_last_saving = state["batches_seen_since_last_saving"]
        self._last_batch_seen = state["last_batch_seen"]
        self._current_epoch = state["current_epoch"]
        if self._retention is not None and state.get("kept") is not None:
            self._retention.set_state(state["kept"])
