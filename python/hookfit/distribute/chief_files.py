"""File-writing callbacks in a data-parallel fit: state on every rank,
files from rank 0 only.

Every rank runs every callback with the same logs, so every rank's
``ModelCheckpoint``, ``CSVLogger``, ``TensorBoard`` and ``BackupAndRestore``
decide the same things (best value so far, rows, counters); only rank 0's
reach the user's paths. For the fit's duration, on the other ranks:

- ``ModelCheckpoint`` saves nothing and prints nothing;
- ``TensorBoard`` gets a writer that discards its events;
- ``CSVLogger`` (small, and re-read by its own ``append`` logic) and the
  directory checks these callbacks make at train begin point to a private
  temporary directory, removed at the end of the fit (the user's directory
  may not exist on another host);
- ``BackupAndRestore``: rank 0 reads the backup and broadcasts its bytes;
  the other ranks keep them in their private directory, so every rank
  restores the same state (no shared file system is needed); their own
  backups stay there and are removed with it.

Everything is undone when the fit ends, so the same callback objects behave
as before in a later one-process fit.
"""

from __future__ import annotations

import os
import shutil
import tempfile


class _NullWriter:
    """A TensorBoard summary writer that keeps nothing."""

    def __init__(self, *args, **kwargs):
        pass

    def __getattr__(self, name):
        return lambda *args, **kwargs: None


class ChiefFiles:
    """Adapts the file-writing callbacks of one fit (``apply``/``undo``)."""

    def __init__(self, comm):
        self.comm = comm
        self._undo = []
        self._scratch = None

    def _set(self, obj, name, value):
        had = name in vars(obj)
        old = vars(obj).get(name)
        setattr(obj, name, value)
        self._undo.append((obj, name, had, old))

    def _scratch_dir(self) -> str:
        if self._scratch is None:
            self._scratch = tempfile.mkdtemp(prefix=f"hookfit-rank{self.comm.rank}-")
        return self._scratch

    def apply(self, callbacks) -> None:
        from hookfit.callbacks.backup_and_restore import BackupAndRestore
        from hookfit.callbacks.csv_logger import CSVLogger
        from hookfit.callbacks.model_checkpoint import ModelCheckpoint
        from hookfit.callbacks.tensorboard import TensorBoard

        chief = self.comm.is_chief
        for cb in callbacks:
            if isinstance(cb, BackupAndRestore):
                self._backup(cb, chief)
            elif chief:
                continue
            elif isinstance(cb, ModelCheckpoint):
                self._set(cb, "_write", lambda filepath: None)
                self._set(cb, "verbose", 0)
                self._set(cb, "filepath", os.path.join(self._scratch_dir(), os.path.basename(cb.filepath)))
            elif isinstance(cb, CSVLogger):
                self._set(cb, "filename", os.path.join(self._scratch_dir(), "log.csv"))
            elif isinstance(cb, TensorBoard):
                self._set(cb, "_writer_class", _NullWriter)
                self._set(cb, "log_dir", self._scratch_dir())

    def _backup(self, cb, chief: bool) -> None:
        """Rank 0 reads the backup (if any) and broadcasts its bytes; the other
        ranks keep them as the backup of a private directory, so every rank's
        callback restores the same state through its own unchanged code."""
        data = b""
        if chief and os.path.exists(cb.backup_path):
            with open(cb.backup_path, "rb") as f:
                data = b"\x01" + f.read()
        data = self.comm.bcast_bytes(data if chief else None)
        if chief:
            return
        self._set(cb, "backup_dir", os.path.join(self._scratch_dir(), f"backup-{id(cb)}"))
        if data:
            os.makedirs(cb.backup_dir, exist_ok=True)
            with open(cb.backup_path, "wb") as f:
                f.write(data[1:])

    def undo(self) -> None:
        for obj, name, had, old in reversed(self._undo):
            if had:
                setattr(obj, name, old)
            else:
                vars(obj).pop(name, None)
        self._undo = []
        if self._scratch is not None:
            shutil.rmtree(self._scratch, ignore_errors=True)
            self._scratch = None
