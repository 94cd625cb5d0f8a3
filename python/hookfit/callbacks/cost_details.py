"""Details of ``history.callback_costs`` beyond the totals: per-call samples
(for each hook's p50 and p99) and which path each mode's batches took.

The fastest fit is one native call per epoch: no Python between batches.
A callback that needs its batch hooks at every batch (Keras's default for
any override), a schedule (``batch_every``, ``save_freq=N``, a progress bar
redraw) or ``steps_per_execution`` takes the loop off that path. ``PathNote``
records which, and the table reports what it cost per step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SAMPLE_CAP = 4096  # samples kept per (callback, hook): the latest ones


class Samples:
    """A bounded ring of call durations (ns)."""

    __slots__ = ("data", "n")

    def __init__(self):
        self.data: list[int] = []
        self.n = 0

    def add(self, ns: int) -> None:
        if self.n < SAMPLE_CAP:
            self.data.append(ns)
        else:
            self.data[self.n % SAMPLE_CAP] = ns
        self.n += 1

    def percentiles(self) -> tuple[float | None, float | None]:
        """(p50, p99) in seconds, or (None, None) without samples."""
        if not self.data:
            return None, None
        p50, p99 = np.percentile(np.asarray(self.data, dtype=np.float64), [50, 99])
        return float(p50) * 1e-9, float(p99) * 1e-9


PATHS = {
    "native": "one native call per epoch (no Python between batches)",
    "scheduled": "native runs between the batches where a scheduled hook is due",
    "per batch": "one native call per batch, hooks around each (Keras's way)",
}


@dataclass
class PathNote:
    """How one mode's batches ran, why, and over how many batches."""

    mode: str
    path: str  # a key of PATHS
    reasons: list[str] = field(default_factory=list)
    steps: int = 0

    def describe(self, hook_seconds: float) -> str:
        text = f"{self.mode}: {PATHS[self.path]}"
        if self.reasons:
            text += " because of " + "; ".join(self.reasons)
        if self.path != "native" and self.steps:
            text += f"; batch hooks cost {1e6 * hook_seconds / self.steps:.2f} us per step over {self.steps} steps"
        return text


def path_note(mode, dispatcher_kind, callbacks, names, members, schedules, steps_per_execution) -> PathNote:
    """The note for ``CallbackList.batch_dispatcher``'s answer.

    ``members``: indices of callbacks with ``mode`` batch hooks;
    ``schedules``: index -> Schedule or None (needs every batch).
    """
    if dispatcher_kind == "native":
        return PathNote(mode, "native")
    reasons = []
    for i in members:
        schedule = schedules.get(i)
        cb = callbacks[i]
        what = f"{names[i]}"
        if schedule is None:
            hooks = [h for h in (f"on_{mode}_batch_begin", f"on_{mode}_batch_end") if _overrides(cb, h)]
            what += f" ({', '.join(hooks) or 'batch hooks'} at every batch"
            if names[i] == "ProgbarLogger":
                what += f"; verbose={getattr(cb, 'verbose', '?')}"
            what += ")"
        else:
            what += f" ({_describe(schedule)})"
        reasons.append(what)
    if steps_per_execution > 1:
        reasons.append(f"steps_per_execution={steps_per_execution}")
    return PathNote(mode, dispatcher_kind, reasons)


def _describe(schedule) -> str:
    if hasattr(schedule, "n"):
        return f"hooks every {schedule.n} batches"
    if hasattr(schedule, "seconds"):
        return f"hooks every {schedule.seconds} s"
    if schedule.watches_nonfinite:
        return "hook at a non-finite loss"
    return "hooks where its schedule is due"


def _overrides(cb, hook) -> bool:
    from hookfit.callbacks.callback import overrides

    return overrides(cb, hook)
