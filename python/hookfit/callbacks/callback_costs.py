"""``CallbackCosts``: what each callback's hooks cost during one fit/evaluate/predict.

The loop's ``CallbackList`` counts, for every (callback, hook) it actually
dispatches, the calls and the total time; this table presents those figures
against the time spent in the steps themselves, so a slow callback is named
instead of guessed (Keras 2 only says that *some* callback is slow).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CallbackCost:
    """One row: ``callback`` spent ``seconds`` over ``calls`` calls of ``hook``."""

    callback: str
    hook: str
    calls: int
    seconds: float

    @property
    def mean_seconds(self) -> float:
        return self.seconds / self.calls if self.calls else 0.0


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

    def __init__(self, rows=(), step_seconds: float = 0.0):
        self.rows = [self._row(r) for r in rows]
        self.rows.sort(key=lambda r: (-r.seconds, r.callback, r.hook))
        self.step_seconds = float(step_seconds)

    @staticmethod
    def _row(row) -> CallbackCost:
        if isinstance(row, CallbackCost):
            return row
        if isinstance(row, dict):
            return CallbackCost(row["callback"], row["hook"], int(row["calls"]), float(row["seconds"]))
        return CallbackCost(*row)

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
        return self.rows[0] if self.rows else None

    def as_dict(self) -> dict:
        """``{(callback, hook): (calls, seconds)}``."""
        return {(r.callback, r.hook): (r.calls, r.seconds) for r in self.rows}

    def __str__(self):
        header = ("callback", "hook", "calls", "total s", "mean us", "% of step time")
        lines = [
            (
                r.callback,
                r.hook,
                str(r.calls),
                f"{r.seconds:.6f}",
                f"{r.mean_seconds * 1e6:.2f}",
                f"{100 * r.seconds / self.step_seconds:.2f}" if self.step_seconds > 0 else "-",
            )
            for r in self.rows
        ]
        widths = [max(len(h), *(len(line[i]) for line in lines)) if lines else len(h)
                  for i, h in enumerate(header)]

        def fmt(cells):
            return "  ".join(
                c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))
            )

        out = [fmt(header), fmt(["-" * w for w in widths])]
        out += [fmt(line) for line in lines]
        out.append(f"step time: {self.step_seconds:.6f} s; hooks: {self.total_seconds():.6f} s")
        return "\n".join(out)

    def __repr__(self):
        return f"<CallbackCosts: {len(self.rows)} rows, step time {self.step_seconds:.6f} s>"
