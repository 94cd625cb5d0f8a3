"""``CallbackCosts``: what each callback's hooks cost during one fit/evaluate/predict.

One class serves both sides. A ``CallbackList`` owns a live one: its
dispatch adds nanoseconds per (callback, hook) into small per-hook lists
(the per-batch loops time one dispatch in ``SAMPLE_EVERY`` and count the
others at the fastest timed one; slow hooks are timed at every call), and
the loop adds the time spent in the steps. ``History.callback_costs`` hands
out a snapshot: a table of rows against the step time, so a slow callback is
named instead of guessed (Keras 2 only says that *some* callback is slow).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass

from hookfit.callbacks.cost_details import PathNote, Samples

_clock = time.perf_counter_ns
SAMPLE_EVERY = 8  # per-batch closures time one dispatch in this many
_NO_NS: list = []  # shared by hooks without members (never written)


@dataclass(frozen=True)
class CallbackCost:
    """One row: ``callback`` spent ``seconds`` over ``calls`` calls of ``hook``."""

    callback: str
    hook: str
    calls: int
    seconds: float
    p50_seconds: float | None = None  # of the sampled calls
    p99_seconds: float | None = None

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


def _row(row) -> CallbackCost:
    if isinstance(row, CallbackCost):
        return row
    if isinstance(row, dict):
        return CallbackCost(row["callback"], row["hook"], int(row["calls"]), float(row["seconds"]),
                            row.get("p50_seconds"), row.get("p99_seconds"))
    return CallbackCost(*row)


class CallbackCosts:
    """A table of callback x hook -> calls, total seconds and share of step time.

    Args:
        rows: ``(callback name, hook name, calls, total seconds)`` tuples,
            or dicts with those keys (``callback``, ``hook``, ``calls``, ``seconds``).
        step_seconds: total time spent in the training/eval/predict steps.

    >>> costs = CallbackCosts([("Slow", "on_train_batch_end", 10, 0.5)], step_seconds=0.25)
    >>> costs.share("Slow")
    2.0
    >>> costs.slowest().callback
    'Slow'
    """

    def __init__(self, rows=(), step_seconds: float = 0.0, paths=()):
        self._given = [_row(r) for r in rows]
        self._given_step_seconds = float(step_seconds)
        self.paths: dict[str, PathNote] = {p.mode: p for p in paths}  # mode -> how its batches ran
        self._samples: dict = {}  # (callback index, hook name) -> Samples
        # Live counting (a CallbackList's): per (callback index, hook) totals.
        self.names: list[str] = []
        self._totals: dict = {}  # (callback index, hook name) -> [calls, ns]
        self._hooks: tuple = ()  # hook names, by index
        self._members: list = []  # callback indices in each hook's table
        self._samples_by_hook: list = []  # per hook: samples_of(h), once asked
        self._ns: list = []  # per hook: ns per member since the last fold
        self._dispatches: list = []  # per hook: dispatches since the last fold
        self._sources: list = []  # (hook index, drain) of per-batch closures
        self._loop_ns = 0  # time in the batch loops, batch hooks included
        self._native_ns = 0  # time inside the core's run calls (a part of _loop_ns)
        self._hook_ns = 0  # all hook time counted so far (folded or not)

    # -- live counting (CallbackList) ---------------------------------------------

    def set_names(self, callbacks) -> None:
        """Row names: the class name, ``#k`` for the k-th of one class."""
        seen: dict = {}
        names = []
        for cb in callbacks:
            base = type(cb).__name__
            seen[base] = seen.get(base, 0) + 1
            names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
        self.names = names

    def install(self, hooks, members_per_hook) -> None:
        """New dispatch tables (after folding what was counted under the old ones)."""
        self._fold()
        self._hooks = tuple(hooks)
        self._sources = []
        self._members = members = [tuple(m) for m in members_per_hook]
        self._ns = ns = [_NO_NS] * len(members)
        for h, m in enumerate(members):
            if m:
                ns[h] = [0] * len(m)
        self._dispatches = [0] * len(members)
        self._samples_by_hook = [None] * len(members)

    def add_source(self, h: int, drain) -> None:
        """A per-batch closure for hook ``h``; ``drain()`` returns and clears
        its ``(ns per member, calls)``."""
        self._sources.append((h, drain))

    def add(self, callback_index: int, hook: str, ns: int, calls: int = 1, sample: bool = True) -> None:
        """Time spent outside the per-hook tables (scheduled dispatch).
        ``sample``: ``ns`` is one call's time (when ``calls`` is 1)."""
        self._record(callback_index, hook, ns, calls, sample)
        self._hook_ns += ns

    def recorder(self, callback_index: int, hook: str):
        """``record(ns)``: what ``add(callback_index, hook, ns)`` does, with
        the lookups done once (for a loop recording one pair many times)."""
        entry = self._totals.setdefault((callback_index, hook), [0, 0])
        sample = self._sample(callback_index, hook).add

        def record(ns):
            entry[0] += 1
            entry[1] += ns
            sample(ns)
            self._hook_ns += ns

        return record

    def _record(self, callback_index, hook, ns, calls, sample=True):
        entry = self._totals.setdefault((callback_index, hook), [0, 0])
        entry[0] += calls
        entry[1] += ns
        if calls == 1 and sample:
            self._sample(callback_index, hook).add(ns)

    def _sample(self, callback_index: int, hook: str) -> Samples:
        found = self._samples.get((callback_index, hook))
        if found is None:
            found = self._samples[(callback_index, hook)] = Samples()
        return found

    def samples_of(self, h: int) -> list[Samples]:
        """The ``Samples`` of each member of hook ``h``'s table, in order
        (made once per table: the epoch hooks ask at every epoch)."""
        found = self._samples_by_hook[h]
        if found is None:
            found = self._samples_by_hook[h] = [self._sample(i, self._hooks[h]) for i in self._members[h]]
        return found

    def note_path(self, note: PathNote) -> None:
        """How a mode's batches run now (kept, with its step count, while unchanged)."""
        old = self.paths.get(note.mode)
        if old is not None and (old.path, old.reasons) == (note.path, note.reasons):
            return
        if old is not None and old.path != "native" and note.path == "native":
            return  # a later epoch's answer does not hide why earlier ones were slower
        if old is not None:  # the slow-down covers every step of the mode, on any path
            note.steps += old.steps
            note.wall_ns += old.wall_ns
            note.native_ns += old.native_ns
            note.native_calls += old.native_calls
        self.paths[note.mode] = note

    def count_steps(self, mode: str, n: int) -> None:
        note = self.paths.get(mode)
        if note is not None:
            note.steps += n

    def _drain_sources(self) -> None:
        for h, drain in self._sources:
            ns, calls = drain()
            if not calls:
                continue
            acc = self._ns[h]
            for k, v in enumerate(ns):
                acc[k] += v
            self._hook_ns += sum(ns)
            self._dispatches[h] += calls

    def _fold(self) -> None:
        self._drain_sources()
        for h, calls in enumerate(self._dispatches):
            if not calls:  # nothing was timed for this hook since the last fold
                continue
            ns = self._ns[h]
            for k, cb_index in enumerate(self._members[h]):
                self._record(cb_index, self._hooks[h], ns[k], calls)
                ns[k] = 0
            self._dispatches[h] = 0

    def total_ns(self) -> int:
        """All hook time so far."""
        self._drain_sources()
        return self._hook_ns

    def start_steps(self):
        """Token for ``stop_steps`` (a clock reading)."""
        return _clock()

    def stop_steps(self, token, mode: str | None = None) -> None:
        """Add the loop's time since ``token``; the batch hooks' share of it
        is taken out when the step time is read. With ``mode``, the time is
        also the wall time of that mode's path (for its slow-down)."""
        self.add_steps_time(_clock() - token, mode)

    def add_steps_time(self, ns: int, mode: str | None = None) -> None:
        """``ns`` of the loop's time, measured by the caller (as ``stop_steps``)."""
        self._loop_ns += ns
        note = self.paths.get(mode) if mode is not None else None
        if note is not None:
            note.wall_ns += ns

    def add_native(self, mode: str, ns: int, calls: int = 1) -> None:
        """``ns`` spent inside ``calls`` of the core's run calls for ``mode``."""
        self._native_ns += ns
        note = self.paths.get(mode)
        if note is not None:
            note.native_ns += ns
            note.native_calls += calls

    def timed(self, mode: str, run):
        """``run`` (a callable starting a native run of batches), timed into
        ``mode``'s native time: two clock reads per native call."""
        def timed_run(*args):
            start = _clock()
            try:
                return run(*args)
            finally:
                self.add_native(mode, _clock() - start)

        return timed_run

    def timed_hooked(self, mode: str, run):
        """``run`` (a native run with the batch hooks inside, returning
        ``(ran, ns in its steps)``), its step time added to ``mode``'s
        native time; returns ``ran``."""
        def timed_run(*args):
            ran, ns = run(*args)
            self.add_native(mode, ns, calls=ran)
            return ran

        return timed_run

    def seconds(self, callback_index: int, hook: str) -> float:
        self._fold()
        return self._totals.get((callback_index, hook), [0, 0])[1] * 1e-9

    def snapshot(self) -> "CallbackCosts":
        """A frozen copy of the table as it stands."""
        return CallbackCosts(
            self.rows, step_seconds=self.step_seconds,
            paths=[dataclasses.replace(p, reasons=list(p.reasons)) for p in self.paths.values()],
        )

    # -- the table ------------------------------------------------------------------

    @property
    def rows(self) -> list[CallbackCost]:
        """One row per (callback, hook) that was called, most expensive first."""
        self._fold()
        rows = list(self._given) + [
            CallbackCost(self.names[i], hook, calls, ns * 1e-9, *self._percentiles(i, hook))
            for (i, hook), (calls, ns) in self._totals.items()
        ]
        rows.sort(key=lambda r: (-r.seconds, r.callback, r.hook))
        return rows

    def _percentiles(self, i, hook):
        found = self._samples.get((i, hook))
        return (None, None) if found is None else found.percentiles()

    def why(self) -> str:
        """One line per mode: which path its batches took, because of which
        callback or setting, and what the batch hooks cost per step."""
        lines = []
        rows = self.rows
        for mode, note in self.paths.items():
            by_callback: dict = {}
            for r in rows:
                if r.hook.startswith(f"on_{mode}_batch_"):
                    by_callback[r.callback] = by_callback.get(r.callback, 0.0) + r.seconds
            lines.append(note.describe(by_callback))
        return "\n".join(lines)

    @property
    def step_ns(self) -> int:
        """Time in the batch loops outside the batch hooks (which run inside
        them; every other hook runs outside the loops).

        Never less than the time measured inside the core's run calls: the
        hook time of per-batch dispatch is partly extrapolated from sampled
        calls (one in ``SAMPLE_EVERY``), and on a loaded machine that
        estimate can exceed what the loop really spent outside the core; the
        measured native time is the floor the step time cannot go under."""
        self._fold()
        hooks = sum(ns for (_, hook), (_, ns) in self._totals.items() if "_batch_" in hook)
        return max(self._native_ns, self._loop_ns - hooks, 0)

    @property
    def step_seconds(self) -> float:
        return self._given_step_seconds + self.step_ns * 1e-9

    def __iter__(self):
        return iter(self.rows)

    def __len__(self):
        return len(self.rows)

    def total_seconds(self, callback: str | None = None) -> float:
        """Time spent in hooks, of one callback or of all."""
        return sum(r.seconds for r in self.rows if callback is None or r.callback == callback)

    def share(self, callback: str | None = None) -> float:
        """Hook time of ``callback`` (or all) as a fraction of step time."""
        if self.step_seconds <= 0:
            return float("inf") if self.total_seconds(callback) > 0 else 0.0
        return self.total_seconds(callback) / self.step_seconds

    def slowest(self) -> CallbackCost | None:
        """The (callback, hook) row with the largest total time."""
        rows = self.rows
        return rows[0] if rows else None

    def as_dict(self) -> dict:
        """``{(callback, hook): (calls, seconds)}``."""
        return {(r.callback, r.hook): (r.calls, r.seconds) for r in self.rows}

    def __str__(self):
        rows, step = self.rows, self.step_seconds
        header = ("callback", "hook", "calls", "total s", "mean us", "p50 us", "p99 us", "% of step time")
        lines = [
            (
                r.callback,
                r.hook,
                str(r.calls),
                f"{r.seconds:.6f}",
                f"{r.mean_seconds * 1e6:.2f}",
                "-" if r.p50_seconds is None else f"{r.p50_seconds * 1e6:.2f}",
                "-" if r.p99_seconds is None else f"{r.p99_seconds * 1e6:.2f}",
                f"{100 * r.seconds / step:.2f}" if step > 0 else "-",
            )
            for r in rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
                  for i, h in enumerate(header)]

        def fmt(cells):
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )

        out = [fmt(header), fmt(["-" * w for w in widths])]
        out += [fmt(line) for line in lines]
        out.append(f"step time: {step:.6f} s; hooks: {self.total_seconds():.6f} s")
        why = self.why()
        if why:
            out.append(why)
        return "\n".join(out)

    def __repr__(self):
        return f"<CallbackCosts: {len(self)} rows, step time {self.step_seconds:.6f} s>"
