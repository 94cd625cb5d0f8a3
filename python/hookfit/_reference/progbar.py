"""The twin of csrc/hf_progbar.c (``_core.NativeProgbar``): fit's progress
bar for epochs run back to back, drawn by ``hookfit.utils.progbar.Progbar``
itself, with the core's output rule (text kept until it has waited
``interval`` seconds, then one ``os.write``)."""

from __future__ import annotations

import os
import time

from hookfit.utils.progbar import Progbar

__all__ = ["NativeProgbar"]


class _Sink:
    """Progbar's stream: hands each text to the bar's output rule."""

    def __init__(self, owner):
        self._owner = owner

    def write(self, text):
        self._owner._emit(text.encode("ascii"))

    def flush(self):
        pass


class NativeProgbar:
    """See ``_core.pyi``."""

    def __init__(self, fd, verbose, target, keys, n_train, epochs, dynamic=True, width=30,
                 interval=0.05, out_bytes=65536):
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 or 2; got {verbose}")
        if fd < 0:
            raise ValueError(f"fd must be an open file descriptor; got {fd}")
        if target < 1:
            raise ValueError(f"target must be at least 1 step; got {target}")
        keys = tuple(keys)
        if not 0 <= n_train <= len(keys):
            raise ValueError(f"n_train must be in [0, {len(keys)}] (the keys); got {n_train}")
        if epochs < 1 or not 0 <= width <= 1000000 or not interval >= 0 or out_bytes < 1:
            raise ValueError(
                "epochs must be >= 1, width in [0, 1000000], interval >= 0 and out_bytes >= 1"
            )
        for key in keys:
            if not isinstance(key, str) or not key.isascii() or "\0" in key:
                raise ValueError(f"keys must be ASCII strings without NUL; got {key!r}")
        self._fd, self._verbose, self._target = fd, verbose, target
        self._keys, self._n_train, self._epochs = keys, n_train, epochs
        self._dynamic, self._width, self._interval = dynamic, width, interval
        self._out_cap = out_bytes
        self._out = bytearray()
        self._since = 0.0
        self._now = 0.0
        self._run_started = self._last_check = self._gap = 0.0
        self._gave_way = False
        self._error = 0
        self._bar = self._new_bar(0.0)

    def _new_bar(self, now):
        bar = Progbar(self._target, width=self._width, verbose=self._verbose,
                      interval=self._interval, stateful_metrics=self._keys, stream=_Sink(self))
        bar._dynamic = self._dynamic
        bar._start = bar._time_at_epoch_start = now
        return bar

    # -- output: the core's rule ------------------------------------------------

    def _write_all(self, data):
        try:
            while data and not self._error:
                k = os.write(self._fd, data)
                if k == 0:
                    self._error = 5  # EIO
                data = data[k:]
        except OSError as e:
            self._error = e.errno or 5
        except BaseException:  # a signal handler raised during a blocked write
            self._gave_way = True
            raise

    def _emit(self, data):
        if self._error or not data:
            return
        if len(self._out) + len(data) > self._out_cap:
            self._flush()
            if len(data) > self._out_cap:
                self._write_all(data)
                return
        if not self._out:
            self._since = self._now
        self._out += data

    def _flush(self):
        if self._out:
            self._write_all(bytes(self._out))
        self._out.clear()

    def _write_if_due(self, now):
        if self._out and (now - self._since >= self._interval or self._gap >= self._interval
                          or len(self._out) > self._out_cap // 2):
            self._flush()

    def _run_begin(self, now=None):
        self._run_started = self._last_check = time.time() if now is None else now

    def _batch_done(self, now):
        self._gap = now - self._last_check
        self._last_check = now
        self._write_if_due(now)

    def _run_end(self, now):
        if now - self._run_started >= self._interval:
            self._flush()

    def _run_done(self):
        """What the core does as a run with this bar ends (then raises a
        failed write's error)."""
        if not self._error:
            self._run_end(time.time())
        self._raise_if_failed()

    def _run_at(self, begin, batch_ends, end):
        self._run_begin(begin)
        for t in batch_ends:
            self._batch_done(t)
        self._run_end(end)
        self._raise_if_failed()

    def _raise_if_failed(self):
        if self._error:
            raise OSError(self._error, f"writing the progress bar: {os.strerror(self._error)}")

    # -- the API ------------------------------------------------------------------

    def start(self, epoch):
        self._start_at(time.time(), epoch)

    def _start_at(self, now, epoch):
        self._now = now
        self._bar = self._new_bar(now)
        if self._epochs > 1:
            self._emit(f"Epoch {epoch + 1}/{self._epochs}\n".encode("ascii"))
        self._write_if_due(now)
        self._raise_if_failed()

    def finish(self, train_values, val_values=None):
        self._finish_at(time.time(), train_values, val_values)

    def _finish_at(self, now, train_values, val_values=None):
        n = len(train_values)
        if n != self._n_train or (val_values is not None and n + len(val_values) != len(self._keys)):
            raise ValueError(
                f"finish needs {self._n_train} train values and {len(self._keys) - self._n_train} "
                "validation values (or none)"
            )
        values = list(train_values) + list(val_values or ())
        self._update(self._target, now, values, True)
        self._write_if_due(now)
        self._raise_if_failed()

    def batch_end(self, current, values):
        if len(values) != self._n_train:
            raise ValueError(f"batch_end needs {self._n_train} values; got {len(values)}")
        self._after_batch(current, lambda: list(values))
        self._raise_if_failed()

    def _update_at(self, current, now, values, finalize=False):
        if len(values) > len(self._keys):
            raise ValueError(f"at most {len(self._keys)} values")
        self._update(current, now, list(values), finalize)
        self._raise_if_failed()

    def _update(self, current, now, values, finalize):
        self._now = now
        self._bar.update(current, list(zip(self._keys, values)), finalize=finalize, now=now)

    def _due(self, now):
        return self._verbose == 1 and not now - self._bar._last_update < self._interval

    def _after_batch(self, current, results):
        """What the core does after each batch of a run with this bar;
        ``results``: a callable giving the running values. False: stop."""
        now = time.time()
        if self._due(now):
            self._update(current, now, results(), False)
        self._now = now
        self._batch_done(now)
        return not self._error

    def _check_run(self, n_values):
        """What the core checks before a run with this bar."""
        self._raise_if_failed()
        if self._n_train != n_values:
            raise ValueError(
                f"this bar shows {self._n_train} values (loss and metrics); the run has {n_values}"
            )

    def flush(self, after_error=False):
        # os.write retries after a signal whose handler does not raise (PEP 475).
        if after_error and self._gave_way:
            self._out.clear()
            return
        self._flush()
        self._raise_if_failed()

    @property
    def pending_bytes(self):
        return len(self._out)
