"""How every number in the suite is measured (standard library only).

Peers import this file too, from their own interpreters, so it must not
import numpy or hookfit.

A *workload* is ``fn(scale)``: it does ``scale × units`` units of work (steps
or calls) in as few Python calls as the thing measured allows, e.g. one
``fit(epochs=scale)``. A *sample* is the wall time of one ``fn(scale)`` call
divided by ``scale × units``, in microseconds. ``scale`` is calibrated once so
that a sample lasts about ``target_s``.

``run_round_robin`` takes one sample of every workload per round, so slow
drift of the (shared, noisy) machine hits all of them alike and ratios
between workloads of one round stay meaningful.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

# What a sample's time is read from: wall time (the default), or the CPU
# time of this thread (``run.py --clock cpu``: on a loaded, shared machine it
# leaves out the time the process waits for a core; it counts the native
# calls too, which run in this thread with the GIL released).
CLOCK: Callable[[], float] = time.perf_counter

# Doubling stops here even if the target time is not reached (a broken or
# instant workload must not hang the suite).
MAX_SCALE = 1 << 20


@dataclass
class Workload:
    name: str
    fn: Callable[[int], object]
    units: int  # units of work (steps or calls) per unit of scale
    unit: str = "µs/step"
    # True when a bigger scale spreads a per-call fixed cost thinner (one
    # fit call with more epochs); False for loops of whole calls.
    amortizes: bool = False
    scale: int = 1
    samples: list[float] = field(default_factory=list)


def _elapsed(fn: Callable[[int], object], scale: int) -> float:
    # Like timeit: the collector is off while timing, so a collection
    # triggered by earlier garbage does not land in one sample. (A full
    # collect is done once per round, not here: it costs milliseconds.)
    gc.disable()
    try:
        t0 = CLOCK()
        fn(scale)
        return CLOCK() - t0
    finally:
        gc.enable()


def calibrate(w: Workload, target_s: float, min_scale: int = 1) -> None:
    """Warm up, then pick the scale whose call lasts about ``target_s``
    (at least ``min_scale``, so a per-call fixed cost is spread thin)."""
    _elapsed(w.fn, 1)  # warm-up: first-call costs (imports, tracing, caches)
    scale = max(1, min_scale)
    while True:
        t = _elapsed(w.fn, scale)
        if t >= target_s or scale >= MAX_SCALE:
            break
        # Jump close to the target, but at most 16x at once (the first
        # calls can be unusually fast or slow).
        guess = int(scale * target_s / max(t, 1e-9)) + 1
        scale = min(max(2 * scale, min(guess, 16 * scale)), MAX_SCALE)
    w.scale = scale


def sample(w: Workload) -> float:
    t = _elapsed(w.fn, w.scale)
    value = t * 1e6 / (w.scale * w.units)
    w.samples.append(value)
    return value


def run_round_robin(
    workloads: list[Workload],
    repeats: int,
    target_s: float,
    min_scale: int = 1,
    log: Callable[[str], None] = lambda s: None,
    min_calls: int = 1,
) -> dict[str, str]:
    """Calibrate each workload, then take ``repeats`` rounds of samples.

    ``min_scale``: fewest epochs of a fit sample (spreads its fixed cost);
    ``min_calls``: fewest calls in a sample of whole calls (averages the
    call-to-call noise of slow peers).

    A workload that raises is dropped (its samples cleared) and reported in
    the returned {name: error} map; the others go on.
    """
    failed: dict[str, str] = {}

    def guarded(w, action):
        try:
            action(w)
        except Exception as exc:  # noqa: BLE001 - a broken case must not sink the suite
            failed[w.name] = f"{type(exc).__name__}: {exc}"
            w.samples.clear()
            log(f"  {w.name} failed: {failed[w.name]}")

    for w in workloads:
        guarded(w, lambda w: calibrate(w, target_s, min_scale if w.amortizes else min_calls))
        if w.name not in failed:
            log(f"  calibrated {w.name}: scale {w.scale}")
    for r in range(repeats):
        gc.collect()
        for w in workloads:
            if w.name not in failed:
                guarded(w, sample)
        log(f"  round {r + 1}/{repeats} done")
    return failed


@dataclass(frozen=True)
class Stat:
    median: float
    min: float
    max: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        if not values:
            raise ValueError("no samples to summarise")
        return cls(statistics.median(values), min(values), max(values), len(values))

    def as_dict(self) -> dict:
        return {"median": self.median, "min": self.min, "max": self.max, "n": self.n}


def paired(a: list[float], b: list[float], op: Callable[[float, float], float]) -> list[float]:
    """Per-round combination of two workloads sampled in the same rounds."""
    if len(a) != len(b):
        raise ValueError(f"unpaired samples: {len(a)} vs {len(b)}")
    return [op(x, y) for x, y in zip(a, b)]
