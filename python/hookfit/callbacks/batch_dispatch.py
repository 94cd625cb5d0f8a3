"""What the loop does around batches: every batch (Keras), or on a schedule.

``CallbackList.batch_dispatcher(mode)`` hands the loop one of these (or
None when no callback wants the mode's batch hooks):

``PerBatch``: some callback needs every batch; every callback with batch
hooks gets them at every batch, exactly as in Keras.

``Scheduled``: every callback with batch hooks has a ``Schedule``
(``callback.py``); the loop runs native chunks of batches and calls the
hooks only where a schedule says. At such a boundary the due callbacks see
exactly the logs Keras would give at that batch (the running means are read
from the accumulators), and every counter-keeping callback that is not due
is caught up first (``Schedule.skip``), so that a backup taken there holds
the same state as on the per-batch path.
"""

from __future__ import annotations

import math
import time

from hookfit.callbacks.callback import Schedule

_clock = time.perf_counter_ns
_now = time.time


class PerBatch:
    """Hooks at every batch; the callback list owns the timed/lean switch."""

    per_batch = True
    stop_on_nonfinite = False

    def __init__(self, callbacks, mode):
        self._callbacks = callbacks
        self._mode = mode

    def hooks(self):
        """``(begin, end, timed)``. While ``timed``: callables ``f(batch,
        logs)`` (or None); call ``hooks()`` again once ``armed`` is False.
        Then: ``LeanHook`` objects (or None), whose timing the loop samples."""
        return self._callbacks._per_batch_hooks(self._mode)

    @property
    def armed(self) -> bool:
        return self._callbacks._timing


class Entry:
    """One callback's part in a ``Scheduled`` dispatch."""

    __slots__ = ("index", "begin", "end", "after", "schedule", "skip", "passes", "fired", "due", "synced",
                 "window")

    def __init__(self, index, begin, end, after, schedule):
        self.index = index
        self.begin = begin
        self.end = end
        self.after = after
        self.schedule = schedule
        self.skip = getattr(schedule, "skip", None)
        self.passes = getattr(schedule, "passes", None) if self.skip is not None else None
        # (None when it does nothing: most schedules count in ``skip``)
        self.fired = None if type(schedule).fired is Schedule.fired else schedule.fired
        self.due = None  # the schedule's answer for the current window
        self.synced = 0  # first batch not yet seen or skipped
        self.window = 0  # first batch of the current window


class Scheduled:
    """Hooks only at the batches the schedules name."""

    per_batch = False

    def __init__(self, entries, mode, costs):
        self._entries = entries
        self._begins = [e for e in entries if e.begin is not None]
        self.stop_on_nonfinite = any(e.schedule.watches_nonfinite for e in entries)
        self._costs = costs
        self._end_records: dict = {}  # entry index -> costs.recorder of its end hook
        self._mode = mode
        self._begin_hook = f"on_{mode}_batch_begin"
        self._end_hook = f"on_{mode}_batch_end"
        self._last = 0
        self._batch_seconds = None  # estimated from the chunks run so far
        self._t0 = 0.0

    @property
    def entries(self) -> list:
        """The scheduled callbacks' ``Entry`` objects, in callback order."""
        return self._entries

    def steps_to_due(self):
        """For epochs that are whole passes run back to back: the fewest
        train steps until some callback's end hook is due (``math.inf``:
        never), or None when that cannot be told ahead (a time schedule, a
        begin hook, a hook that must follow the others)."""
        fewest = math.inf
        for e in self._entries:
            if e.begin is not None or e.after is not None:
                return None
            steps = e.schedule.steps_to_due()
            if steps is None:
                return None
            fewest = min(fewest, steps)
        return fewest

    def reset(self) -> None:
        """Reused for a new run of batches (the batch time estimate stays)."""
        for e in self._entries:
            e.due = None

    def start_epoch(self, first: int, last: int) -> None:
        """This epoch runs batches ``first..last`` (first > 0 on a resume)."""
        self._last = last
        for e in self._entries:
            e.synced = e.window = first
            e.due = None

    def chunk(self, batch: int) -> int:
        """How many batches to run natively from ``batch``: up to the first
        batch where some callback is due (at least 1)."""
        target = self._last
        now = None
        for e in self._entries:
            due = e.due
            if due is None:
                due = e.due = e.schedule.due(batch, self._last)
            if due.batch is not None:
                at = due.batch
            elif due.time is not None:
                if self._batch_seconds is None:
                    at = batch  # one batch first, to learn the batch time
                else:
                    if now is None:
                        now = _now()
                    at = batch + max(0, int((due.time - now) / self._batch_seconds))
            else:
                continue
            if at < target:
                target = at
        return max(1, target - batch + 1)

    def before(self, batch: int) -> None:
        """Begin hooks of the callbacks whose window starts at ``batch``."""
        for e in self._begins:
            if e.window == batch:
                t = _clock()
                e.begin(batch, {})
                self._costs.add(e.index, self._begin_hook, _clock() - t)
        self._t0 = time.perf_counter()

    def after(self, last: int, ran: int, logs, nonfinite: bool = False) -> None:
        """``ran`` batches ended at ``last``: call the due callbacks' end hooks
        with ``logs(last)``. ``nonfinite``: the native run stopped there on a
        NaN/inf loss."""
        if ran:
            seconds = (time.perf_counter() - self._t0) / ran
            prev = self._batch_seconds
            self._batch_seconds = seconds if prev is None else 0.5 * (prev + seconds)
        due_now = []
        now = None
        for e in self._entries:
            due = e.due
            hit = due is not None and (
                (due.batch is not None and due.batch <= last)
                or (nonfinite and e.schedule.watches_nonfinite)
            )
            if not hit and due is not None and due.time is not None:
                if now is None:
                    now = _now()
                hit = now >= due.time
            if hit:
                due_now.append(e)
        self.fire(last, due_now, logs)

    def fire(self, last: int, due_now: list, logs, batch_logs=None) -> None:
        """Batches ran up to ``last``, where the callbacks of ``due_now``
        (entries, in order) are due: every other counter catches up to
        ``last`` (these to ``last - 1``), then their end hooks get
        ``logs(last)`` (or ``batch_logs``, when given)."""
        for e in self._entries:
            if e.skip is not None:
                upto = last if e in due_now else last + 1
                if upto > e.synced:
                    e.skip(e.synced, upto - e.synced)
            e.synced = last + 1
        if not due_now:
            return
        if batch_logs is None:
            batch_logs = logs(last)
        costs = self._costs
        for e in due_now:
            if e.end is not None:
                t = _clock()
                e.end(last, batch_logs)
                ns = _clock() - t
                record = self._end_records.get(e.index)
                if record is None:
                    record = self._end_records[e.index] = costs.recorder(e.index, self._end_hook)
                record(ns)
        for e in due_now:
            if e.after is not None:
                t = _clock()
                e.after(last, batch_logs)
                costs.add(e.index, self._end_hook, _clock() - t, calls=0)
            if e.fired is not None:
                e.fired(last)
            e.window = last + 1
            e.due = None

    def skip_passes(self, count: int, per_pass: int) -> None:
        """``count`` epochs of ``per_pass`` batches ran with no hook due:
        what ``start_epoch`` and ``end_epoch`` do for each."""
        self._last = per_pass - 1
        for e in self._entries:
            if e.passes is not None:
                e.passes(count, per_pass)
            elif e.skip is not None:
                for _ in range(count):
                    e.skip(0, per_pass)
            e.synced, e.window, e.due = per_pass, 0, None

    def end_epoch(self, last: int) -> None:
        """The epoch's batches ended at ``last``: catch every counter up."""
        for e in self._entries:
            if e.skip is not None and last >= e.synced:
                e.skip(e.synced, last + 1 - e.synced)
            e.synced = last + 1
