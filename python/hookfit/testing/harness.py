"""``CallbackHarness``: drive one callback through a scripted fit, evaluate or
predict, without training anything.

The harness calls the callback's hooks in the order and with the arguments
``Model.fit`` uses (``on_train_begin``, then per epoch ``on_epoch_begin``,
the batch hooks, ``on_epoch_end``; ``stop_training`` honoured after every
batch end and epoch end, as in Keras 2), with logs you choose, and records
every call. A scripted exception is delivered to the callback's
``on_exception`` hook (when it has one) and then raised, as ``fit`` does.
``round_trip`` checks the ``get_state``/``set_state`` protocol that
``BackupAndRestore`` relies on, through the same file encoding.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence, Union

import numpy as np

from hookfit.callbacks.callback import Callback

Logs = Mapping[str, Any]
EpochLogs = Union[Sequence[Logs], Callable[[int], Logs], None]
BatchLogs = Union[Callable[[int, int], Logs], None]


class ScriptedError(RuntimeError):
    """The exception a script raises at its ``raise_at`` point."""


@dataclass
class HarnessRun:
    """What happened: ``calls`` as ``(hook, index or None)`` in order, the
    epoch logs as the callback left them, whether it stopped the run, and
    the exception that ended it (if any)."""

    calls: list[tuple[str, int | None]] = field(default_factory=list)
    epoch_logs: list[dict] = field(default_factory=list)
    stopped: bool = False
    exception: BaseException | None = None

    def hooks(self) -> list[str]:
        return [hook for hook, _ in self.calls]


def _default_model():
    from hookfit.layers import Dense
    from hookfit.models import Sequential

    model = Sequential([Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    return model


def _same(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, (np.ndarray, np.generic)) or isinstance(b, (np.ndarray, np.generic)):
        a, b = np.asarray(a), np.asarray(b)
        return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=a.dtype.kind == "f")
    if isinstance(a, float) and isinstance(b, float) and a != a and b != b:
        return True  # NaN
    return type(a) is type(b) and a == b


class CallbackHarness:
    """Drive ``callback`` through scripted runs.

    Args:
        callback: the callback under test.
        model: the model it sees (default: a small compiled hookfit model
            that is never trained; pass yours if the callback needs more).
        verbose: the ``verbose`` in ``callback.params``.

    >>> from hookfit.testing import CallbackHarness
    >>> from hookfit.callbacks import EarlyStopping
    >>> stopper = EarlyStopping(monitor="loss", patience=1)
    >>> run = CallbackHarness(stopper).fit(epochs=5, epoch_logs=[{"loss": v} for v in (3, 2, 2, 2, 2)])
    >>> run.stopped, len(run.epoch_logs)
    (True, 3)
    """

    def __init__(self, callback: Callback, model=None, verbose: int = 0):
        if not isinstance(callback, Callback):
            raise TypeError(f"CallbackHarness drives a hookfit Callback; got {type(callback).__name__}.")
        self.callback = callback
        self.model = model if model is not None else _default_model()
        self.verbose = verbose

    # -- scripted runs ------------------------------------------------------------

    def _call(self, run: HarnessRun, hook: str, index: int | None, *args) -> None:
        run.calls.append((hook, index))
        getattr(self.callback, hook)(*args)

    def _fail(self, run: HarnessRun, exc: BaseException, logs) -> None:
        run.exception = exc
        on_exception = getattr(self.callback, "on_exception", None)
        if on_exception is not None:
            run.calls.append(("on_exception", None))
            on_exception(exc, dict(logs or {}))
        raise exc

    def fit(
        self,
        epochs: int = 1,
        steps: int = 1,
        epoch_logs: EpochLogs = None,
        batch_logs: BatchLogs = None,
        initial_epoch: int = 0,
        raise_at: tuple[str, int] | tuple[str, int, int] | None = None,
    ) -> HarnessRun:
        """Run the fit hooks for ``initial_epoch .. epochs - 1`` with ``steps``
        batches each.

        Args:
            epoch_logs: one dict per epoch (indexed by epoch) or a function of
                the epoch; default ``{"loss": 0.0}``.
            batch_logs: a function ``(epoch, batch) -> dict``; default: that
                epoch's logs.
            raise_at: ``("on_epoch_end", epoch)`` or ``("on_train_batch_end",
                epoch, batch)`` (any hook name): raise ``ScriptedError`` right
                after the callback's hook there. The error is also recorded in
                the returned run, which is attached to it as ``.run``.
        """
        run = HarnessRun()
        model, cb = self.model, self.callback

        def logs_of(epoch):
            if epoch_logs is None:
                return {"loss": 0.0}
            source = epoch_logs(epoch) if callable(epoch_logs) else epoch_logs[epoch]
            return dict(source)

        def point(hook, *where):
            if raise_at is not None and (raise_at[0], *raise_at[1:]) == (hook, *where):
                error = ScriptedError(f"scripted exception after {hook} {where}")
                error.run = run
                self._fail(run, error, {})

        cb.set_model(model)
        cb.set_params({"verbose": self.verbose, "epochs": epochs, "steps": steps})
        model.stop_training = False
        self._call(run, "on_train_begin", None, {})
        point("on_train_begin")
        last: dict = {}
        for epoch in range(initial_epoch, epochs):
            one_batch = model.stop_training
            self._call(run, "on_epoch_begin", epoch, epoch, {})
            point("on_epoch_begin", epoch)
            for batch in range(steps):
                self._call(run, "on_train_batch_begin", batch, batch, {})
                point("on_train_batch_begin", epoch, batch)
                logs = dict(batch_logs(epoch, batch)) if batch_logs is not None else logs_of(epoch)
                self._call(run, "on_train_batch_end", batch, batch, logs)
                point("on_train_batch_end", epoch, batch)
                if model.stop_training or one_batch:
                    break
            last = logs_of(epoch)
            self._call(run, "on_epoch_end", epoch, epoch, last)
            run.epoch_logs.append(last)
            point("on_epoch_end", epoch)
            if model.stop_training:
                run.stopped = True
                break
        self._call(run, "on_train_end", None, dict(last))
        return run

    def evaluate(self, steps: int = 1, batch_logs: Callable[[int], Logs] | None = None) -> HarnessRun:
        """The test hooks for ``steps`` batches."""
        return self._loop("test", steps, batch_logs or (lambda b: {"loss": 0.0}))

    def predict(self, steps: int = 1, outputs: Callable[[int], Any] | None = None) -> HarnessRun:
        """The predict hooks; each batch end gets ``{"outputs": outputs(batch)}``."""
        make = outputs or (lambda b: np.zeros((1, 1), dtype=np.float32))
        return self._loop("predict", steps, lambda b: {"outputs": make(b)})

    def _loop(self, mode, steps, logs_of) -> HarnessRun:
        run = HarnessRun()
        self.callback.set_model(self.model)
        self.callback.set_params({"verbose": self.verbose, "epochs": 1, "steps": steps})
        self._call(run, f"on_{mode}_begin", None, {})
        logs: dict = {}
        for batch in range(steps):
            self._call(run, f"on_{mode}_batch_begin", batch, batch, {})
            logs = dict(logs_of(batch))
            self._call(run, f"on_{mode}_batch_end", batch, batch, logs)
        self._call(run, f"on_{mode}_end", None, {} if mode == "predict" else logs)
        return run

    # -- state --------------------------------------------------------------------

    def round_trip(self, fresh: Callback | None = None) -> Callback:
        """Check ``get_state``/``set_state``: the state goes through the backup
        file encoding and into ``fresh`` (default: a copy of the callback made
        before any state is set), whose ``get_state`` must then be equal.
        Returns the restored callback (drive it on to test a resume).
        """
        from hookfit.saving.state_codec import decode_state, encode_state

        state = self.callback.get_state()
        if state is None:
            raise AssertionError(
                f"{type(self.callback).__name__}.get_state() returned None: it keeps no state to back up."
            )
        decoded = decode_state(encode_state(state))  # raises if a value cannot be stored
        if fresh is None:
            model, self.callback.model = self.callback.model, None
            try:
                fresh = copy.deepcopy(self.callback)
            finally:
                self.callback.model = model
        fresh.set_model(self.model)
        fresh.set_state(decoded)
        again = fresh.get_state()
        if not _same(again, state):
            raise AssertionError(
                f"{type(self.callback).__name__}: get_state() after set_state() differs from the "
                f"saved state:\n saved    {state!r}\n restored {again!r}"
            )
        return fresh
