"""``BackupAndRestore``: resume an interrupted ``fit`` bit-exactly.

Design
------
a) One backup file, ``<backup_dir>/backup.npz``, written atomically
   (``hookfit.saving.state_codec``): a kill at any moment leaves the
   previous complete backup.
b) It holds everything the rest of the run depends on: the weights, the
   optimizer's slots, iteration count and learning rate, the epoch
   iterator's position (epoch, step in the batch stream, the installed
   shuffle permutation, hookfit's random generator state), the metric
   accumulators (a mid-epoch backup resumes the running means), and the
   ``get_state()`` of every callback that has one (History, EarlyStopping,
   ReduceLROnPlateau, ModelCheckpoint, CSVLogger, user callbacks that opt in).
c) Saving and restoring happen after a whole hook dispatch, not inside
   this callback's own hook: the ``CallbackList`` calls
   ``_after_train_begin`` (every callback has reset itself, so restoring
   cannot be undone), ``_after_epoch_end`` (every callback, History
   included, has seen the epoch) and ``_after_train_batch_end``.
d) Unlike Keras 2, a resumed run is the uninterrupted run: same batches in
   the same order, same weights bit for bit, same History.
"""

from __future__ import annotations

import contextlib
import os

from hookfit.callbacks.callback import Callback, Due, Schedule
from hookfit.utils.atomic import check_can_write
from hookfit.saving.state_codec import load_state, save_state

FORMAT = "hookfit.backup"
VERSION = 1
BACKUP_FILE = "backup.npz"


class BackupAndRestore(Callback):
    """Back up the training state so that an interrupted ``fit`` (an
    exception, a kill, a preemption) continues exactly where the last backup
    was taken when ``fit`` is called again with the same arguments.

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
        self._restored = False

    @property
    def backup_path(self) -> str:
        return os.path.join(self.backup_dir, BACKUP_FILE)

    def _implements_train_batch_hooks(self):
        return self.save_freq != "epoch"

    def _batch_schedule(self, mode):
        # Only the batches where a backup is due need this callback.
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
        self._restored = False

    def _after_train_begin(self, callbacks):
        if os.path.exists(self.backup_path):
            self._restore(load_state(self.backup_path), callbacks)
            self._restored = True

    def _after_epoch_end(self, epoch, callbacks):
        if self.save_freq == "epoch":
            self._save(callbacks)

    def _after_train_batch_end(self, batch, callbacks):
        if self.save_freq == "epoch":
            return
        self._batches_since_save += 1
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(callbacks)

    def on_train_end(self, logs=None):
        if self.delete_checkpoint:
            with contextlib.suppress(FileNotFoundError):
                os.remove(self.backup_path)
            with contextlib.suppress(OSError):
                os.rmdir(self.backup_dir)  # only if nothing else is in it

    # -- backup content -------------------------------------------------------------

    def _fit_parts(self):
        model = self.model
        iterator = getattr(model, "_epoch_iterator", None)
        network = getattr(model, "_network", None)
        if iterator is None or network is None:
            raise RuntimeError(
                "BackupAndRestore works inside model.fit only (no running fit was found)."
            )
        return model, iterator, network

    @staticmethod
    def _callback_states(callbacks):
        """The state of every other callback that has one, with its position."""
        entries = []
        for i, c in enumerate(callbacks):
            if isinstance(c, BackupAndRestore):
                continue
            state = c.get_state()
            if state is not None:
                entries.append({"index": i, "class": type(c).__name__, "state": state})
        return entries

    def _save(self, callbacks):
        model, iterator, network = self._fit_parts()
        state = {
            "format": FORMAT,
            "version": VERSION,
            "data": {"n_rows": iterator.n_rows, "batch_size": iterator.batch_size},
            "weights": model.get_weights(),
            "optimizer": model.optimizer.get_state(),
            "iterator": iterator.get_state(),
            "metric_state": network.metric_state(),
            "callbacks": self._callback_states(callbacks),
        }
        save_state(self.backup_path, state)

    def _restore(self, state, callbacks):
        where = self.backup_path
        if not isinstance(state, dict) or state.get("format") != FORMAT:
            raise ValueError(f"{where!r} is not a hookfit backup; remove it or use another backup_dir.")
        if state["version"] > VERSION:
            raise ValueError(f"{where!r} was written by a newer hookfit; upgrade to resume from it.")
        model, iterator, network = self._fit_parts()
        saved = state["data"]
        if (saved["n_rows"], saved["batch_size"]) != (iterator.n_rows, iterator.batch_size):
            raise ValueError(
                f"The backup in {self.backup_dir!r} was made by a fit over {saved['n_rows']} "
                f"training rows with batch_size={saved['batch_size']}; this fit has "
                f"{iterator.n_rows} rows and batch_size={iterator.batch_size}. Resume with the "
                "same data and arguments, or delete the backup directory to start afresh."
            )
        entries = state["callbacks"]
        stateful = {i: c for i, c in enumerate(callbacks) if not isinstance(c, BackupAndRestore)}
        for entry in entries:
            target = stateful.get(entry["index"])
            if target is None or type(target).__name__ != entry["class"]:
                raise ValueError(
                    f"The backup in {self.backup_dir!r} has the state of a {entry['class']} at "
                    f"position {entry['index']} of the callbacks, which this fit does not have "
                    "there. Resume with the same callbacks, in the same order."
                )
        # Everything is checked: now restore.
        model.set_weights(state["weights"])
        model.optimizer.set_state(state["optimizer"])
        iterator.set_state(state["iterator"])
        network.set_metric_state(state["metric_state"])
        for entry in entries:
            stateful[entry["index"]].set_state(entry["state"])
