"""``BackupAndRestore``: resume an interrupted ``fit`` bit-exactly.

Design
------
a) One backup file, ``<backup_dir>/backup.npz``, written atomically
   (``hookfit.saving.state_codec``): a kill at any moment leaves the
   previous complete backup. What it holds is described in
   ``backup_contents``; the whole file is checked before anything is
   restored.
b) As in Keras, the restore happens in this callback's own
   ``on_train_begin`` (callbacks after it see the restored weights), and
   the backup is written in its own ``on_epoch_end`` (or
   ``on_train_batch_end`` every ``save_freq`` batches): an exception
   raised later in that hook's dispatch resumes after that point instead
   of replaying it forever.
c) Other callbacks' states are keyed (``state_keys``: class and order among
   its class, or a ``name``), so a resumed fit may have other callbacks:
   what matches is restored, what is missing is skipped, and a stateful
   callback with no saved state gets one warning.
d) Exactness for the callbacks after it in the list (History always is):
   their state is saved as it was before the hook, with that hook's logs;
   on resume, once every callback has run ``on_train_begin`` (the list's
   ``_after_train_begin`` call), their states are set and the hook is
   replayed to them. Stateless callbacks after it are not replayed (as in
   Keras, they miss that one hook).
e) ``fit(on_interrupt="backup")`` calls ``_save_interrupted`` at the batch
   boundary where it stopped (phase "interrupted": nothing to replay) and
   the backup is kept when that fit ends.
f) A fresh fit keeps its starting state in memory (taken right after every
   ``on_train_begin``) and writes it in ``on_exception`` if the fit fails
   before its first backup, so a Ctrl-C in the first epoch followed by a
   new fit in the same process (which has moved the weights and the random
   stream) still resumes bit-exactly, at no disk cost for fits that do not
   fail.
g) ``stop_training`` is saved: a resumed run that had stopped trains no
   more batches. A run that ended on a NaN loss keeps its backup (with
   ``TerminateOnNaN(raise_error=True)`` the one before the NaN epoch, as
   ``on_train_end`` is never reached).
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
from typing import Any

import numpy as np

from hookfit.callbacks import backup_contents as contents
from hookfit.callbacks.callback import Callback, Due, Schedule
from hookfit.callbacks.state_keys import callback_keys
from hookfit.utils.atomic import check_can_write
from hookfit.saving.state_codec import load_state, save_state

logger = logging.getLogger("hookfit")

BACKUP_FILE = "backup.npz"
FORMAT, VERSION = contents.FORMAT, contents.VERSION


def _finite_loss(logs) -> bool:
    loss = (logs or {}).get("loss")
    try:
        return loss is None or math.isfinite(float(loss))
    except (TypeError, ValueError):
        return True


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted ``fit`` (an
    exception, a kill, a preemption) continues exactly where the last backup
    was taken when ``fit`` is called again.

    Args:
        backup_dir: a directory used only for this run's backup.
        save_freq: ``"epoch"`` (after every epoch) or N (every N training
            batches, counted across epochs).
        delete_checkpoint: delete the backup when training ends normally.
        save_before_preemption: not supported (must be False).

    >>> backup = BackupAndRestore(backup_dir="/tmp/backup")
    >>> model.fit(x, y, epochs=10, callbacks=[backup])  # doctest: +SKIP
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint=True, save_before_preemption=False):
        super().__init__()
        if not backup_dir:
            raise ValueError("Empty `backup_dir` argument passed; give a directory for the backup.")
        if save_freq != "epoch" and (
            isinstance(save_freq, bool) or not isinstance(save_freq, int) or save_freq < 1
        ):
            raise ValueError(
                f"Invalid value for argument `save_freq`. Received: save_freq={save_freq!r}. "
                "Expected 'epoch' or a positive integer (a number of batches)."
            )
        if save_before_preemption:
            raise ValueError(
                "save_before_preemption=True is not supported: hookfit has no preemption "
                "signal; use save_freq (backups are atomic, so any kill keeps the last one)."
            )
        self.backup_dir = os.fspath(backup_dir)
        self.save_freq = save_freq
        self.delete_checkpoint = delete_checkpoint
        self._batches_since_save = 0
        self._callbacks: list = []
        self._pending: dict | None = None  # a read backup, until every callback began
        self._undo: dict | None = None  # the fit's own state, if the restore must be undone
        self._keep = False  # an interrupted fit keeps its backup
        self._initial: dict | None = None  # the fit's start, until a backup is written

    @property
    def backup_path(self) -> str:
        return os.path.join(self.backup_dir, BACKUP_FILE)

    def _implements_train_batch_hooks(self):
        return self.save_freq != "epoch"

    def _batch_schedule(self, mode):
        # Only the batches where a backup is due need this callback (none
        # with save_freq="epoch").
        if self.save_freq == "epoch":
            return Schedule()
        return Schedule(due=self._next_backup_batch, skip=self._skip_batches)

    def _next_backup_batch(self, batch, last):
        return Due(batch=batch + self.save_freq - self._batches_since_save - 1)

    def _skip_batches(self, batch, count):
        self._batches_since_save += count

    # -- hooks -------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        check_can_write(self.backup_dir, what="backup directory", directory=True)
        self._batches_since_save = 0
        self._pending = None
        if os.path.exists(self.backup_path):
            self._pending = self._read_checked()
            self._restore_model(self._pending)
            self._batches_since_save = _saved_count(self._pending, self.save_freq)

    def _after_train_begin(self, callbacks):
        self._callbacks = list(callbacks)
        state, self._pending = self._pending, None
        try:
            callback_keys(self._callbacks, skip=BackupAndRestore)  # two callbacks, one name: refuse now
            if state is None:
                self._initial = self._state("train_begin", 0, {})  # see design f)
            else:
                self._restore_callbacks(state)
        except BaseException:
            self._undo_model()
            raise

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save("batch", batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch" or self.model.stop_training:
            self._save("epoch_end", epoch, logs)

    def _save_interrupted(self, logs) -> None:
        """``fit(on_interrupt="backup")``: back up this batch boundary and
        keep the file when the fit then ends."""
        self._save("interrupted", self.model._epoch_iterator.batch_in_epoch, logs)
        self._keep = True

    def on_exception(self, exception, logs=None):
        initial, self._initial = self._initial, None
        if initial is not None:  # failed before the first backup: keep the start (f)
            save_state(self.backup_path, initial)

    def on_train_end(self, logs=None):
        self._callbacks = []
        self._initial = None
        keep, self._keep = self._keep, False
        if keep or not _finite_loss(logs):
            return  # a run that ended on NaN keeps its backup (Keras PR 21841)
        if self.delete_checkpoint:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.backup_path)
            with contextlib.suppress(OSError):
                os.rmdir(self.backup_dir)  # only if nothing else is in it

    # -- saving ---------------------------------------------------------------------

    def _fit_parts(self):
        model = self.model
        iterator = getattr(model, "_epoch_iterator", None)
        network = getattr(model, "_network", None)
        if iterator is None or network is None:
            raise RuntimeError(
                "BackupAndRestore works inside model.fit only (no running fit was found)."
            )
        return model, iterator, network

    def _callback_entries(self) -> list[dict[str, Any]]:
        callbacks = self._callbacks
        keys = callback_keys(callbacks, skip=BackupAndRestore)
        mine = next(i for i, c in enumerate(callbacks) if c is self)
        entries = []
        for i, (cb, key) in enumerate(zip(callbacks, keys)):
            if key is None:
                continue
            state = cb.get_state()
            if state is not None:
                entries.append({"key": key, "class": type(cb).__qualname__, "after": i > mine, "state": state})
        return entries

    def _save(self, phase: str, position: int, logs) -> None:
        save_state(self.backup_path, self._state(phase, position, logs))
        self._initial = None

    def _state(self, phase: str, position: int, logs) -> dict:
        model, iterator, network = self._fit_parts()
        optimizer = model.optimizer
        state = {
            "format": FORMAT,
            "version": VERSION,
            "data": {"n_rows": iterator.n_rows, "batch_size": iterator.batch_size},
            "phase": phase,
            "position": int(position),
            "logs": dict(logs or {}),
            "stop_training": bool(model.stop_training),
            "weights": model.get_weights(),
            "optimizer": {"class": type(optimizer).__name__, "state": optimizer.get_state()},
            "iterator": iterator.get_state(),
            "metric_state": network.metric_state(),
            "callbacks": self._callback_entries(),
            # The save_freq count since the last batch backup: a resumed run
            # keeps the uninterrupted run's cadence (0 right after one).
            "batches_since_save": int(self._batches_since_save),
        }
        return state

    # -- restoring ------------------------------------------------------------------

    def _read_checked(self) -> dict:
        where = repr(self.backup_path)
        try:
            state = load_state(self.backup_path)
        except (OSError, ValueError, KeyError, EOFError) as e:
            raise contents.BackupError(
                f"The backup {where} cannot be read ({type(e).__name__}: {e}); delete it to "
                "start afresh."
            ) from None
        except Exception as e:  # zipfile and json errors of a corrupted archive
            raise contents.BackupError(
                f"The backup {where} is damaged ({type(e).__name__}: {e}); delete it to start afresh."
            ) from None
        model, iterator, network = self._fit_parts()
        # fit binds a replaced (fresh) optimizer before on_train_begin, so its
        # slots are the network's: the backup's slots go into it.
        contents.check_backup(
            state, where, model=model, iterator=iterator, network=network,
            slots_needed=network.optimizer_slots(),
        )
        return state

    def _restore_model(self, state) -> None:
        model, iterator, network = self._fit_parts()
        self._undo = {
            "weights": model.get_weights(),
            "optimizer": model.optimizer.get_state(),
            "iterator": iterator.get_state(),
            "metric_state": network.metric_state(),
        }
        model.set_weights(state["weights"])
        model.optimizer.set_state(state["optimizer"]["state"])
        iterator.set_state(state["iterator"])
        network.set_metric_state(state["metric_state"])
        model.stop_training = bool(state["stop_training"])

    def _undo_model(self) -> None:
        model, iterator, network = self._fit_parts()
        undo, self._undo = self._undo, None
        if undo is None:
            return
        model.set_weights(undo["weights"])
        model.optimizer.set_state(undo["optimizer"])
        iterator.set_state(undo["iterator"])
        network.set_metric_state(undo["metric_state"])
        model.stop_training = False

    def _restore_callbacks(self, state) -> None:
        callbacks = self._callbacks
        keys = callback_keys(callbacks, skip=BackupAndRestore)
        saved = {e["key"]: e for e in state["callbacks"]}
        matched, unsaved = [], []
        for cb, key in zip(callbacks, keys):
            if key is None:
                continue
            current = cb.get_state()
            entry = saved.get(key)
            if entry is None or entry["class"] != type(cb).__qualname__:
                if current is not None:
                    unsaved.append(key)
                continue
            if not contents.same_shape(entry["state"], current):
                self._undo_model()
                raise contents.BackupError(
                    f"The backup {self.backup_path!r} has a state for {key} that does not fit "
                    f"this {type(cb).__name__} (saved {type(entry['state']).__name__} with entries "
                    f"{sorted(entry['state']) if isinstance(entry['state'], dict) else '?'}). "
                    "Nothing was restored; delete the backup to start afresh."
                )
            matched.append((cb, entry))
        before = [(cb, cb.get_state()) for cb, _ in matched]
        try:
            for cb, entry in matched:
                cb.set_state(entry["state"])
        except Exception:
            for cb, old in before:
                with contextlib.suppress(Exception):
                    cb.set_state(old)
            self._undo_model()
            raise
        self._undo = None
        if unsaved:
            logger.warning(
                "BackupAndRestore: the backup in %r has no saved state for %s; %s from %s own "
                "start.", self.backup_dir, ", ".join(unsaved),
                "it continues" if len(unsaved) == 1 else "they continue",
                "its" if len(unsaved) == 1 else "their",
            )
        self._replay(state, [cb for cb, entry in matched if entry["after"]])
        if self.model.stop_training:
            self.model._epoch_iterator.stopped = True

    def _replay(self, state, later) -> None:
        """Give the callbacks after this one the hook they had not seen (d)."""
        phase, position, logs = state["phase"], state["position"], state["logs"]
        for cb in later:
            if phase == "epoch_end":
                cb.on_epoch_end(position, dict(logs))
            elif phase == "batch":
                cb.on_train_batch_end(position, dict(logs))


def _saved_count(state, save_freq) -> int:
    """The backup's save_freq count, when it fits this callback's
    ``save_freq`` (an older backup, or one written with another save_freq,
    restarts the count at the resume)."""
    count = state.get("batches_since_save", 0)
    if save_freq == "epoch" or not isinstance(count, (int, np.integer)) or not 0 <= count < save_freq:
        return 0
    return int(count)
