"""The ``Callback`` base class, as in Keras 2 (tf-keras), and the hook table.

Every hook is a no-op here. The hooks are marked with ``_default`` so that
``CallbackList`` can tell, once per fit/evaluate/predict, which hooks a
callback really overrides, and never call the others.

Batch hooks on a schedule (beyond Keras): a callback that overrides batch
hooks gets them at every batch, as in Keras, unless it declares that fewer
are enough, with ``batch_every = N`` or ``batch_every_seconds = T`` (class
attributes, or the ``batch_schedule`` decorator). Then the batches in
between run in one native call and the hooks see exactly the logs of the
batch they are called at. Built-ins declare their needs through
``_batch_schedule(mode)``.
"""

from __future__ import annotations

import math
import time
from typing import NamedTuple, Sequence

# The hook table: every hook a CallbackList dispatches, in a fixed order.
HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
HOOK_INDEX = {h: i for i, h in enumerate(HOOKS)}
MODES = ("train", "test", "predict")
# (begin, end) hook indices of each mode's batch hooks.
BATCH_HOOKS = {
    mode: (HOOK_INDEX[f"on_{mode}_batch_begin"], HOOK_INDEX[f"on_{mode}_batch_end"]) for mode in MODES
}
# The mode of each hook (None for the run and epoch hooks).
HOOK_MODES = tuple(next((m for m in MODES if h.startswith(f"on_{m}_batch_")), None) for h in HOOKS)
# Overriding a Keras 2 alias makes the base's on_train_batch_* hook do work.
ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}


def _default(method):
    """Mark a base-class hook as a no-op that dispatch may skip."""
    method._is_default = True
    return method


def is_default(method) -> bool:
    """True if ``method`` is a base-class no-op (not overridden)."""
    return getattr(method, "_is_default", False)


def overrides(callback, hook: str) -> bool:
    """True if ``callback`` does real work in ``hook``."""
    if not is_default(getattr(callback, hook)):
        return True
    alias = ALIASES.get(hook)
    return alias is not None and not is_default(getattr(callback, alias))


# -- batch schedules ------------------------------------------------------------


class Due(NamedTuple):
    """When a scheduled callback next needs its batch-end hook: at ``batch``
    (an index in the epoch), or at the first batch ending after ``time``
    (``time.time()`` seconds), or (both None) not before the epoch ends."""

    batch: int | None = None
    time: float | None = None


NOT_DUE = Due()


def _never():
    return math.inf


class Schedule:
    """How a callback's batch hooks are spaced out (one per callback and mode).

    ``due(batch, last)``: the callback's hooks ran (or were skipped) up to
    ``batch - 1``; ``last`` is the epoch's last batch. Returns a ``Due``.
    ``skip(batch, count)`` (optional): ``count`` batches from ``batch`` ran
    without its end hook (a counter-keeping callback catches up).
    ``passes(count, per_pass)`` (optional, with ``skip``): ``count`` whole
    epochs of ``per_pass`` batches ran without it; what ``skip(0,
    per_pass)`` would do for each, in one call.
    ``fired(batch)``: its end hook was just called at ``batch``.
    ``watches_nonfinite``: the native run stops after the first batch whose
    running loss is NaN/inf, and this callback's end hook is called there.
    """

    watches_nonfinite = False

    def __init__(self, due=None, skip=None, *, watches_nonfinite=False, steps=None, period=None, passes=None):
        if due is not None:
            self.due = due
        elif steps is None and type(self).due is Schedule.due:
            steps = _never  # never due
        self.skip = skip
        self.passes = passes
        self.watches_nonfinite = watches_nonfinite
        self._steps = steps
        self.period = period  # train steps from one due batch to the next (None: not fixed)

    def due(self, batch, last):
        return NOT_DUE

    def steps_to_due(self):
        """When every epoch from here on is one whole pass of the data: how
        many train steps until the end hook is due (1: at the next batch;
        ``math.inf``: never), or None when the schedule cannot tell before
        the epoch (then ``fit`` goes epoch by epoch). Asked only while the
        callback's counters are up to date (``skip`` included)."""
        return None if self._steps is None else self._steps()

    def fired(self, batch):
        pass


class EveryNBatches(Schedule):
    """Hooks for chunks of ``n`` batches from each epoch's start (the last
    chunk may be shorter): begin at a chunk's first batch, end at its last.
    This is also what ``compile(steps_per_execution=n)`` gives every callback
    that overrides batch hooks (Keras 3)."""

    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def due(self, batch, last):
        return Due(batch=min(last, batch + self.n - 1 - batch % self.n))


class EverySeconds(Schedule):
    """The end hook at each epoch's first batch, then at the first batch that
    ends at least ``seconds`` after the previous call (the begin hook at the
    batch after each call)."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = seconds
        self._last = None

    def due(self, batch, last):
        if self._last is None or batch == 0:
            return Due(batch=batch)
        return Due(time=self._last + self.seconds)

    def fired(self, batch):
        self._last = time.time()


def check_schedule(every, seconds) -> None:
    """A clear error for a bad ``batch_every``/``batch_every_seconds``."""
    if every is not None and seconds is not None:
        raise ValueError("give batch_every or batch_every_seconds, not both")
    if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
        raise ValueError(f"batch_every must be a positive integer (batches); got {every!r}")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))
                                or not seconds > 0 or seconds == float("inf")):
        raise ValueError(f"batch_every_seconds must be a positive number of seconds; got {seconds!r}")


def batch_schedule(every: int | None = None, seconds: float | None = None):
    """Class decorator: call this callback's batch hooks every ``every``
    batches, or every ``seconds`` seconds, instead of at every batch.

    >>> @batch_schedule(every=100)
    ... class LogLoss(Callback):
    ...     def on_train_batch_end(self, batch, logs=None):
    ...         print(batch, logs["loss"])
    """
    check_schedule(every, seconds)

    def decorate(cls):
        cls.batch_every = every
        cls.batch_every_seconds = seconds
        return cls

    return decorate


class EpochTimes(NamedTuple):
    """When an epoch ran, for epoch hooks called after it (``Callback._late_epoch``)."""

    began: float  # time.perf_counter() at its start
    ended: float  # time.perf_counter() at its end
    wall: float  # time.time() at its end


class LateEpochs(NamedTuple):
    """A run of epochs whose hooks waited, given to a callback in one call
    (``Callback._late_epochs``): what its epoch hooks would have seen, epoch
    by epoch, had they run then."""

    epochs: Sequence  # the epoch indices, in order
    keys: tuple  # the epoch logs' keys (the same for every epoch of the run)
    rows: Sequence  # per epoch, the logs' values in ``keys`` order
    # When some callback reads the times (else None): per epoch, the clock
    # (time.perf_counter_ns) at its start and end; and (time.time(), the
    # clock) read together since.
    clock: Sequence | None = None
    wall_at: tuple | None = None

    def walls(self) -> list:
        """Per epoch, the time.time() at its end (now, without the clock)."""
        if self.clock is None or self.wall_at is None:
            return [time.time()] * len(self.rows)
        wall, now = self.wall_at
        walls = []  # (a loop: no comprehension's frame, at every run given)
        for _, ended in self.clock:
            walls.append(wall - (now - ended) / 1e9)
        return walls

    def seconds(self) -> list | None:
        """Per epoch, how long it ran (None without the clock)."""
        return None if self.clock is None else [(ended - began) / 1e9 for began, ended in self.clock]


def has_epoch_hooks_of(callback, cls) -> bool:
    """True if ``callback``'s epoch hooks are ``cls``'s own (a subclass
    overriding them may do anything in them)."""
    kind = type(callback)
    return kind.on_epoch_begin is cls.on_epoch_begin and kind.on_epoch_end is cls.on_epoch_end


class Callback:
    """Base class for callbacks: override the hooks you need.

    Hooks receive 0-based ``epoch``/``batch`` indices and a ``logs`` dict
    (``{}`` when there is nothing to report, never ``None`` when called by
    the model). ``self.model`` is the model being trained, ``self.params``
    holds ``verbose``, ``epochs`` and ``steps``.

    Batch hooks are called at every batch (Keras) unless the class (or the
    instance) sets ``batch_every = N`` (hooks for chunks of N batches from
    each epoch's start: ``on_*_batch_begin`` at a chunk's first batch,
    ``on_*_batch_end`` with that batch's logs at its last, as Keras 3 does
    with ``steps_per_execution``) or ``batch_every_seconds = T`` (the end
    hook at each epoch's first batch, then at the first batch ending T
    seconds after the previous call). The
    batches in between run in one native call, so such a callback costs
    almost nothing per batch.

    Example:

    >>> class PrintLoss(Callback):
    ...     batch_every = 100
    ...     def on_train_batch_end(self, batch, logs=None):
    ...         print(batch, logs["loss"])
    """

    batch_every: int | None = None
    batch_every_seconds: float | None = None
    # Set while fit calls this callback's epoch hooks after the epoch ran
    # (``_epoch_hooks_can_wait``): the times to use instead of the clock's;
    # and while it calls a batch-end hook later (``_batch_end_can_wait``),
    # when ``_batch_end_wants_weights``: the model's weights after that
    # batch (a list as ``model.get_weights()`` gives).
    _late_epoch: EpochTimes | None = None
    _late_epoch_reads_times = False  # (else fit need not take them)
    _late_weights: list | None = None
    _batch_end_wants_weights = False
    # Set by fit for the callbacks whose waiting batch hook takes the
    # weights: whether this is the only one (then what its hooks write may
    # wait for ``_waiting_given``; two could write one file out of order).
    _late_alone = False

    def __init__(self):
        self.validation_data = None
        self.model = None
        # Keras 2 keeps these for multi-worker plumbing and tensor logs.
        self._chief_worker_only = None
        self._supports_tf_logs = False

    def set_params(self, params):
        self.params = params

    def set_model(self, model):
        self.model = model

    # Batch hooks (skippable when not overridden).
    @_default
    def on_batch_begin(self, batch, logs=None):
        """Alias of ``on_train_batch_begin`` (train batches only)."""

    @_default
    def on_batch_end(self, batch, logs=None):
        """Alias of ``on_train_batch_end`` (train batches only)."""

    @_default
    def on_train_batch_begin(self, batch, logs=None):
        # The base forwards to the legacy alias, as Keras 2 does.
        self.on_batch_begin(batch, logs=logs)

    @_default
    def on_train_batch_end(self, batch, logs=None):
        self.on_batch_end(batch, logs=logs)

    @_default
    def on_test_batch_begin(self, batch, logs=None):
        pass

    @_default
    def on_test_batch_end(self, batch, logs=None):
        pass

    @_default
    def on_predict_batch_begin(self, batch, logs=None):
        pass

    @_default
    def on_predict_batch_end(self, batch, logs=None):
        pass

    # Epoch and run hooks.
    @_default
    def on_epoch_begin(self, epoch, logs=None):
        pass

    @_default
    def on_epoch_end(self, epoch, logs=None):
        pass

    @_default
    def on_train_begin(self, logs=None):
        pass

    @_default
    def on_train_end(self, logs=None):
        pass

    @_default
    def on_test_begin(self, logs=None):
        pass

    @_default
    def on_test_end(self, logs=None):
        pass

    @_default
    def on_predict_begin(self, logs=None):
        pass

    @_default
    def on_predict_end(self, logs=None):
        pass

    @_default
    def on_exception(self, exception, logs=None):
        """Beyond Keras: ``fit``/``evaluate``/``predict`` is about to raise
        ``exception`` (a KeyboardInterrupt too); flush what must not be lost.
        ``logs`` holds the running metrics. The exception is raised after
        every callback has been told; an error here is logged, not raised."""

    # Which batch hooks this callback needs; built-ins may override these
    # predicates (ProgbarLogger: verbose == 1), as in Keras 2.
    def _implements_train_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_batch_begin)
            and is_default(self.on_batch_end)
            and is_default(self.on_train_batch_begin)
            and is_default(self.on_train_batch_end)
        )

    def _implements_test_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_test_batch_begin) and is_default(self.on_test_batch_end)
        )

    def _implements_predict_batch_hooks(self) -> bool:
        return not (
            is_default(self.on_predict_batch_begin)
            and is_default(self.on_predict_batch_end)
        )

    def _batch_schedule(self, mode: str) -> Schedule | None:
        """How this callback's ``mode`` batch hooks may be spaced out (a
        ``Schedule``), or None for every batch (Keras's default)."""
        every, seconds = self.batch_every, self.batch_every_seconds
        if every is None and seconds is None:
            return None
        check_schedule(every, seconds)
        if every is not None:
            return EveryNBatches(every)
        assert seconds is not None
        return EverySeconds(seconds)

    def _epoch_hooks_can_wait(self) -> bool:
        """Whether ``fit`` may call this callback's epoch hooks after the
        epochs ran (beyond Keras): in order, with the logs Keras gives,
        before any other hook of this callback and at most a second late.
        True only of callbacks whose epoch hooks just record, reading the
        time from ``_late_epoch`` when set. Then a fit of short epochs runs
        them back to back, with no Python between the native passes."""
        return False

    # Of a callback whose epoch hooks can wait, optionally: a method
    # ``_late_epochs(run)`` doing what those hooks do for each epoch of a
    # ``LateEpochs`` run, in one call (no other callback's hook runs between
    # them: only callbacks that record, and read nothing another one
    # writes). ``fit`` gives a run so when every waiting callback has it.
    _late_epochs = None

    def _batch_end_can_wait(self) -> bool:
        """Whether ``fit`` may call this callback's ``on_train_batch_end``
        after the batch (beyond Keras), within its epoch's waiting hooks,
        with the logs of that batch and, if ``_batch_end_wants_weights``,
        the weights after it in ``_late_weights``. True only of hooks that
        record (TensorBoard's batch scalars, ModelCheckpoint's weights
        files) on a fixed period (``Schedule.period``)."""
        return False

    def _waiting_given(self) -> None:
        """Called after ``fit`` gave a run of this callback's waiting batch
        hooks (and before an error leaves it): the work they could put off
        until then is done (ModelCheckpoint writes the last save to each
        file)."""

    # Stateful-callback protocol (beyond Keras): a callback whose decisions
    # depend on past epochs returns its state here so that a backup can
    # restore it bit-exactly. ``None`` means "nothing to save".
    def get_state(self):
        return None

    def set_state(self, state):
        pass
