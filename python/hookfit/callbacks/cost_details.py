"""Details of ``history.callback_costs`` beyond the totals: per-call samples
(for each hook's p50 and p99) and which path each mode's batches took.

The fastest fit is one native call per epoch: no Python between batches.
A callback that needs its batch hooks at every batch (Keras's default for
any override), a schedule (``batch_every``, ``save_freq=N``, a progress bar
redraw) or ``steps_per_execution`` takes the loop off that path. ``PathNote``
records which, and the table reports what it cost per step.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

SAMPLE_CAP = 4096  # samples kept per (callback, hook): the latest ones


class Samples:
    """A bounded ring of call durations (ns): the latest ``SAMPLE_CAP``."""

    __slots__ = ("data", "add")

    def __init__(self):
        self.data: collections.deque[int] = collections.deque(maxlen=SAMPLE_CAP)
        self.add = self.data.append  # (a C method: no Python frame per sample)

    def __copy__(self) -> "Samples":
        # (``add`` is bound to this ring: a copy gets its own)
        new = Samples()
        new.data.extend(self.data)
        return new

    def __deepcopy__(self, memo) -> "Samples":
        return self.__copy__()

    def percentiles(self) -> tuple[float | None, float | None]:
        """(p50, p99) in seconds, or (None, None) without samples."""
        if not self.data:
            return None, None
        p50, p99 = np.percentile(np.fromiter(self.data, dtype=np.float64, count=len(self.data)), [50, 99])
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
    wall_ns: int = 0  # wall time of the mode's batch loops (hooks and boundaries included)
    native_ns: int = 0  # of which inside the core's run calls
    native_calls: int = 0

    def slowdown_seconds(self) -> float | None:
        """How much longer each step took than its native compute: the wall
        time per step minus the core's time per step (never negative: the
        core's calls run inside the loop), or None when not measured."""
        if not self.steps or not self.native_calls:
            return None
        return max(0, self.wall_ns - self.native_ns) * 1e-9 / self.steps

    def describe(self, hook_seconds_by_callback: dict) -> str:
        """``hook_seconds_by_callback``: batch-hook seconds of this mode per callback."""
        text = f"{self.mode}: {PATHS[self.path]}"
        if self.reasons:
            text += " because of " + "; ".join(self.reasons)
        slowdown = self.slowdown_seconds()
        if slowdown is not None:
            per_step = 1e6 / self.steps
            native = self.native_ns * 1e-9 * per_step
            text += (f"; each step {1e6 * slowdown:.2f} us slower than its native compute "
                     f"({native:.2f} us) over {self.steps} steps")
            hooks = sorted(hook_seconds_by_callback.items(), key=lambda kv: -kv[1])
            parts = [f"{name} hooks {s * per_step:.2f} us" for name, s in hooks if s > 0]
            boundary = 1e6 * slowdown - sum(s * per_step for _, s in hooks)
            parts.append(f"boundaries and loop {max(0.0, boundary):.2f} us "
                         f"({self.native_calls} native calls)")
            text += ": " + ", ".join(parts)
        elif self.path != "native" and self.steps:
            seconds = sum(hook_seconds_by_callback.values())
            text += f"; batch hooks cost {1e6 * seconds / self.steps:.2f} us per step over {self.steps} steps"
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
