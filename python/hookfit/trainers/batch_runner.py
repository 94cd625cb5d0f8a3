"""The one batch runner shared by train, test and predict.

It runs a range of batches given as ``(first, count)`` pieces of native
batch indices (train: one piece per pass of the data; test and predict: one
piece), with whatever the callbacks need around them:

- no dispatcher: each piece is one native call;
- ``PerBatch``: one native call per batch with the hooks around it (Keras);
- ``Scheduled``: native chunks up to the next batch where some callback is
  due, then that batch's hooks with its exact logs.

``stop_training`` (train only) is checked after every batch whose hooks ran
and before every chunk: set before a chunk, exactly one batch still runs, as
Keras runs one batch before it looks.
"""

from __future__ import annotations

import functools

from hookfit.callbacks.callback_costs import SAMPLE_EVERY
from hookfit.trainers.graceful_interrupt import Interrupted


class Steps:
    """How one mode runs batches natively (built by the trainer).

    Attributes (callables):
        many(j, k, stop_on_nonfinite) -> batches ran: ``k`` batches from
            native batch ``j`` in one call.
        one(j): batch ``j`` alone (and its position advanced).
        logs(j) -> dict: the logs at the end of native batch ``j``.
        advance(n): ``n`` batches were run by ``many`` (the trainer's
            position; None when nothing tracks it).
        metric_logs: ``(make_logs, results)`` when the logs are
            ``make_logs(results())`` whatever the batch (train, test): the
            per-batch loop calls them directly, one call less per batch.
        hooked(j, k, batch, phase, begin, end, model) -> ran (the trainer
            wraps the core's (ran, ns) with its cost accounting): ``k``
            batches from native batch ``j``, hook indices from ``batch``,
            with the ``LeanHook`` tables ``begin``/``end`` (or None) called
            and sampled around each batch, in one native call (train on the
            compiled network; None where the loop must stay in Python).
        stopped() -> bool: right after ``many(..., True)``, whether it
            stopped on a NaN/inf loss, its last batch included (None: only
            a run shorter than asked tells).
        whole_pass(begin, end, model) -> run: ``run()`` is ``hooked(0,
            every batch of a pass, 0, 0, begin, end, model)`` with its
            arguments bound once, returning the ns in the steps (the
            batches run: the network's ``last_run_batches``); None where
            ``hooked`` is.
    """

    __slots__ = ("many", "one", "logs", "advance", "metric_logs", "hooked", "stopped", "whole_pass")

    def __init__(self, many, one, logs, advance=None, metric_logs=None, hooked=None, stopped=None,
                 whole_pass=None):
        self.many = many
        self.one = one
        self.logs = logs
        self.advance = advance
        self.metric_logs = metric_logs
        self.hooked = hooked
        self.stopped = stopped
        self.whole_pass = whole_pass


def core_hooked(network, native, data, n_rows, batch_size, before=(), after=(), reads_model=False):
    """A ``Steps.hooked`` over ``native``, one of the network's
    ``*_batches_hooked``: its batches from native batch ``j`` (rows of
    ``data``, ``n_rows`` in all), with ``before`` and ``after`` its own
    arguments around the hook ones, then the model whose stop flag it reads
    when ``reads_model`` (train). Returns (batches ran, ns in the steps)."""

    def hooked(j, k, batch, phase, begin, end, model):
        start = j * batch_size
        rows = min(n_rows, start + k * batch_size) - start
        ns = native(data, start, rows, batch_size, *before, batch, phase, SAMPLE_EVERY - 1, begin, end, *after,
                    *((model,) if reads_model else ()))
        return network.last_run_batches, ns

    return hooked


def core_whole_pass(native, data, n_rows, batch_size, before=(), after=(), reads_model=False):
    """A ``Steps.whole_pass`` over ``native``, as ``core_hooked``: a whole
    pass of ``data`` is its rows from 0, in one native call whose arguments
    are bound when the hook tables are known (back_to_back's live epochs:
    no Python frame per pass)."""

    def whole_pass(begin, end, model):
        return functools.partial(native, data, 0, n_rows, batch_size, *before, 0, 0, SAMPLE_EVERY - 1,
                                 begin, end, *after, *((model,) if reads_model else ()))

    return whole_pass


def run_batches(steps: Steps, dispatch, pieces, batch: int, last: int, model=None) -> int:
    """Run the batches of ``pieces``; their hook indices count from ``batch``
    up to ``last``. ``model`` (train only) is where ``stop_training`` is read.
    Returns the number of batches run."""
    if dispatch is None:
        return _native_only(steps, pieces, model)
    if dispatch.per_batch:
        return _per_batch(steps, dispatch, pieces, batch, model)
    return _scheduled(steps, dispatch, pieces, batch, last, model)


def _native_only(steps, pieces, model):
    many, advance = steps.many, steps.advance
    total = 0
    for first, count in pieces:
        if model is not None and model.stop_training:
            count = 1  # set before the run: one batch, then stop
        ran = many(first, count, False)
        total += ran
        if advance is not None:
            advance(ran)
        if model is not None and model.stop_training:
            break
    return total


def _per_batch(steps, dispatch, pieces, batch, model):
    one, logs = steps.one, steps.logs
    make_logs, results = steps.metric_logs or (None, None)
    start = batch
    begin, end, timed = dispatch.hooks()
    hooked = steps.hooked
    if timed or hooked is None:  # (else every batch runs in the core's hooked loop)
        begin_raw, begin_timed, begin_slow = _parts(None if timed else begin)
        end_raw, end_timed, end_slow = _parts(None if timed else end)
    mask = SAMPLE_EVERY - 1
    untimed = 0  # dispatches of the lean tables made without timing
    try:
        for first, count in pieces:  # lazily: the train pieces follow the position
            j, end_j = first, first + count
            while j < end_j:
                if not timed and hooked is not None:
                    # The rest of the piece in one native call, hooks included
                    # (their timings recorded into the tables by the core).
                    ran = hooked(j, end_j - j, batch, start, begin, end, model)
                    batch += ran
                    j += ran
                    if model is not None and model.stop_training:
                        return batch - start
                    continue
                if timed:  # Keras's slow-callback check is armed: its timed hooks
                    b, e = begin, end
                elif (batch - start) & mask and not (begin_slow[0] or end_slow[0]):
                    b, e = begin_raw, end_raw
                    untimed += 1
                else:
                    b, e = begin_timed, end_timed
                if b is not None:
                    b(batch, {})
                one(j)
                if e is not None:
                    e(batch, make_logs(results()) if make_logs is not None else logs(j))
                batch += 1
                j += 1
                if model is not None and model.stop_training:
                    return batch - start
                if timed and not dispatch.armed:
                    begin, end, timed = dispatch.hooks()
                    begin_raw, begin_timed, begin_slow = _parts(begin)
                    end_raw, end_timed, end_slow = _parts(end)
    finally:
        if untimed:
            if begin is not None:
                begin.add_untimed(untimed)
            if end is not None:
                end.add_untimed(untimed)
    return batch - start


_NOT_SLOW = [False]


def _parts(lean):
    """(raw, timed, slow flag) of a ``LeanHook``, or Nones."""
    if lean is None:
        return None, None, _NOT_SLOW
    return lean.raw, lean.timed, lean.slow


def _scheduled(steps, dispatch, pieces, batch, last, model):
    many, logs, advance = steps.many, steps.logs, steps.advance
    nonfinite = dispatch.stop_on_nonfinite
    start = batch
    dispatch.start_epoch(batch, last)
    offset = 0  # native index - hook index, per piece
    try:
        for first, count in pieces:
            offset = first - batch
            end = batch + count
            while batch < end:
                k = min(dispatch.chunk(batch), end - batch)
                dispatch.before(batch)
                if model is not None and model.stop_training:
                    k = 1
                try:
                    ran = many(batch + offset, k, nonfinite)
                except Interrupted as stop:
                    # A graceful stop inside the run: the batches it finished
                    # (already counted in the position) get the end hooks due
                    # for them, with their logs, before the backup is written.
                    if stop.ran:
                        batch += stop.ran
                        dispatch.after(batch - 1, stop.ran, lambda b: logs(b + offset))
                    raise
                if advance is not None:
                    advance(ran)
                batch += ran
                hit = nonfinite and (ran < k or (steps.stopped is not None and steps.stopped()))
                dispatch.after(batch - 1, ran, lambda b: logs(b + offset), hit)
                if model is not None and model.stop_training:
                    return batch - start
    finally:
        if batch > start:
            dispatch.end_epoch(batch - 1)
    return batch - start
