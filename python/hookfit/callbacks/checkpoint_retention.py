"""Which checkpoint files a ``ModelCheckpoint`` keeps, and its manifest.

Order of work after each save, so that a kill at any moment loses nothing:
the new file is already complete in place (atomic write); then the manifest
listing the files now kept is replaced atomically; only then are the files
that left the list removed. A kill before the removal leaves extra files,
never a missing one, and the manifest never names a file that is not there.
Only files this callback wrote are ever removed.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os

from hookfit.utils.atomic import atomic_write_text

MANIFEST = "checkpoints.json"
MANIFEST_FORMAT = "hookfit.checkpoints"


def check_keep(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"ModelCheckpoint: {name} must be None or an integer >= 1; got {value!r}.")
    return int(value)


class CheckpointRetention:
    """Keeps the newest ``keep_last`` files and the ``keep_best`` best ones by
    the monitored value (the union of both; everything when both are None).

    Args:
        directory: where the manifest is written.
        keep_last, keep_best: counts, or None.
        lower_is_better: the monitor's direction.
        monitor: the logs key the values come from (recorded in the manifest).
    """

    def __init__(self, directory, keep_last=None, keep_best=None, *, lower_is_better=True, monitor=None):
        self.directory = directory
        self.keep_last = keep_last
        self.keep_best = keep_best
        self.lower_is_better = lower_is_better
        self.monitor = monitor
        self.files: list[dict] = []  # in the order they were written
        self.last: str | None = None

    @property
    def manifest_path(self) -> str:
        return os.path.join(self.directory, MANIFEST)

    def _rank(self, entry):
        value = entry["value"]
        if value is None or not math.isfinite(value):
            return math.inf
        return value if self.lower_is_better else -value

    def _kept(self) -> list[dict]:
        if self.keep_last is None and self.keep_best is None:
            return list(self.files)
        keep: set[int] = set()
        if self.keep_last is not None:
            keep.update(id(e) for e in self.files[-self.keep_last:])
        if self.keep_best is not None:
            ranked = sorted(self.files, key=self._rank)
            keep.update(id(e) for e in ranked[: self.keep_best] if self._rank(e) != math.inf)
        return [e for e in self.files if id(e) in keep]

    def saved(self, path, *, epoch, batch, value) -> None:
        """Record a file just written in place; drop what is no longer kept."""
        path = os.fspath(path)
        if value is not None:
            value = float(value)
        self.files = [e for e in self.files if e["path"] != path]
        self.files.append({"path": path, "epoch": epoch, "batch": batch, "value": value})
        kept = self._kept()
        dropped = [e for e in self.files if e not in kept]
        self.files = kept
        self.write_manifest()
        for entry in dropped:
            with contextlib.suppress(FileNotFoundError):
                os.remove(entry["path"])

    def saved_last(self, path) -> None:
        self.last = os.fspath(path)
        self.write_manifest()

    def write_manifest(self) -> None:
        manifest = {
            "format": MANIFEST_FORMAT,
            "version": 1,
            "monitor": self.monitor,
            "mode": "min" if self.lower_is_better else "max",
            "keep_last": self.keep_last,
            "keep_best": self.keep_best,
            "files": [
                dict(e, value=None if e["value"] is None or not math.isfinite(e["value"]) else e["value"])
                for e in self.files
            ],
            "last": self.last,
        }
        atomic_write_text(self.manifest_path, json.dumps(manifest, indent=1) + "\n")

    # -- state (for BackupAndRestore) -------------------------------------------

    def get_state(self) -> dict:
        return {"files": [dict(e) for e in self.files], "last": self.last}

    def set_state(self, state) -> None:
        self.files = [dict(e) for e in state.get("files", [])]
        self.last = state.get("last")
