# Included by _core.pyx: Keras 2's progress bar drawn by the core
# (csrc/hf_progbar.h), for fit's epochs run back to back.

import math
import os


cdef int _bar_give_way(hf_progbar *bar) except -1 nogil:
    """A signal ended a blocked write of the bar: let Python run its
    handler now (Ctrl-C raises); the kept text is written later."""
    if bar.interrupted:
        bar.interrupted = 0
        with gil:
            PyErr_CheckSignals()
    return 0


cdef int _bar_raise_if_failed(hf_progbar *bar) except -1:
    """OSError (the errno of the bar's failed write), if any."""
    _bar_give_way(bar)
    cdef int err = bar.error
    if err:
        raise OSError(err, f"writing the progress bar: {os.strerror(err)}")
    return 0


cdef class NativeProgbar:
    """fit's progress bar (``ProgbarLogger``, steps mode) drawn by the core:
    the header and the final line of each epoch come from ``start`` and
    ``finish`` (one call each), the draws in between from inside
    ``Network.train_batches`` (or ``test_batches``, ``predict_batches``)
    ``(..., bar=self)``, with no Python call. The text
    is written to the file descriptor ``fd`` in one ``write`` once it has
    waited ``interval`` seconds (at once when batches take that long, and
    after a run that took that long), and at ``flush``; the bytes are those
    of ``hookfit.utils.progbar.Progbar`` (the twin).

    ``keys``: the names shown (ASCII), the first ``n_train`` being a run's
    values (loss, then the metrics; none for predict) and the rest the
    validation's;
    ``epochs``: fit's, for the ``Epoch k/N`` header (none when 1);
    ``out_bytes``: the kept-text buffer's size, at least room for two
    draws (a draw never needs a write of its own).
    A failed write raises ``OSError`` (its errno) at the next call, and
    nothing more is written."""

    cdef hf_progbar bar
    cdef tuple _keys
    cdef const char **_key_ptrs
    cdef double *_values
    cdef Py_ssize_t _n_train
    cdef Py_ssize_t _epochs

    def __cinit__(self, int fd, int verbose, Py_ssize_t target, tuple keys, Py_ssize_t n_train,
                  Py_ssize_t epochs, bint dynamic=True, int width=30, double interval=0.05,
                  Py_ssize_t out_bytes=65536):
        if verbose not in (1, 2):
            raise ValueError(f"verbose must be 1 or 2; got {verbose}")
        if fd < 0:
            raise ValueError(f"fd must be an open file descriptor; got {fd}")
        if target < 1:
            raise ValueError(f"target must be at least 1 step; got {target}")
        if not 0 <= n_train <= len(keys):
            raise ValueError(f"n_train must be in [0, {len(keys)}] (the keys); got {n_train}")
        if epochs < 1 or not 0 <= width <= 1000000 or not interval >= 0 or out_bytes < 1:
            raise ValueError(
                "epochs must be >= 1, width in [0, 1000000], interval >= 0 and out_bytes >= 1"
            )
        encoded = []
        for key in keys:
            if not isinstance(key, str) or not key.isascii() or "\0" in key:
                raise ValueError(f"keys must be ASCII strings without NUL; got {key!r}")
            encoded.append(key.encode("ascii"))
        self._keys = tuple(encoded)
        self._n_train = n_train
        self._epochs = epochs
        self.bar.verbose = verbose
        self.bar.dynamic = dynamic
        self.bar.fd = fd
        self.bar.target = target
        self.bar.digits = int(math.log10(target)) + 1  # the twin's rule
        self.bar.width = width
        self.bar.interval = interval
        self.bar.n_keys = len(keys)
        self._key_ptrs = <const char **>PyMem_Malloc(max(1, len(keys)) * sizeof(char *))
        self._values = <double *>PyMem_Malloc(max(1, len(keys)) * sizeof(double))
        if self._key_ptrs == NULL or self._values == NULL:
            raise MemoryError()
        for i, key in enumerate(self._keys):
            self._key_ptrs[i] = <const char *>key
        self.bar.keys = self._key_ptrs
        self.bar.line_cap = hf_progbar_line_room(&self.bar)
        self.bar.line = <char *>PyMem_Malloc(self.bar.line_cap)
        # Room for two draws at least: a draw never needs its own write.
        self.bar.out_cap = max(<size_t>out_bytes, 2 * self.bar.line_cap)
        self.bar.out = <char *>PyMem_Malloc(self.bar.out_cap)
        if self.bar.line == NULL or self.bar.out == NULL:
            raise MemoryError()

    def __dealloc__(self):
        PyMem_Free(self._key_ptrs)
        PyMem_Free(self._values)
        PyMem_Free(self.bar.line)
        PyMem_Free(self.bar.out)

    cdef hf_progbar *_checked(self, Py_ssize_t n_values) except NULL:
        """The bar for a run whose values are the first n_values keys'."""
        self._raise_if_failed()
        if n_values != self._n_train:
            raise ValueError(
                f"this bar shows {self._n_train} values (loss and metrics); the run has {n_values}"
            )
        return &self.bar

    cdef int _raise_if_failed(self) except -1:
        return _bar_raise_if_failed(&self.bar)

    def start(self, Py_ssize_t epoch):
        """A new bar for epoch ``epoch`` (0-based), after its header."""
        self._start(hf_progbar_clock(), epoch)

    def _start_at(self, double now, Py_ssize_t epoch):
        self._start(now, epoch)

    cdef int _start(self, double now, Py_ssize_t epoch) except -1:
        hf_progbar_start(&self.bar, now, epoch + 1, self._epochs)
        hf_progbar_write_if_due(&self.bar, now)
        return self._raise_if_failed()

    def finish(self, list train_values, list val_values=None):
        """The epoch's final update: ``train_values`` (loss, metrics) and the
        validation's (or None), shown as given."""
        self._finish(hf_progbar_clock(), train_values, val_values)

    def _finish_at(self, double now, list train_values, list val_values=None):
        self._finish(now, train_values, val_values)

    cdef int _finish(self, double now, list train_values, list val_values) except -1:
        cdef Py_ssize_t n = len(train_values), i
        if n != self._n_train or (val_values is not None and n + len(val_values) != self.bar.n_keys):
            raise ValueError(
                f"finish needs {self._n_train} train values and {self.bar.n_keys - self._n_train} "
                "validation values (or none)"
            )
        for i in range(n):
            self._values[i] = train_values[i]
        if val_values is not None:
            for i in range(len(val_values)):
                self._values[n + i] = val_values[i]
            n += len(val_values)
        hf_progbar_update(&self.bar, self.bar.target, now, self._values, <size_t>n, 1)
        hf_progbar_write_if_due(&self.bar, now)
        return self._raise_if_failed()

    def batch_end(self, Py_ssize_t current, list values):
        """What a run does after batch ``current`` (1-based count in the
        epoch), for a batch where the run stopped so that Python hooks
        could go first (the ``ProgbarLogger`` comes after the other
        callbacks): the draw if one is due, with ``values`` (the running
        loss and metrics)."""
        cdef double now = hf_progbar_clock()
        cdef Py_ssize_t i
        if len(values) != self._n_train:
            raise ValueError(f"batch_end needs {self._n_train} values; got {len(values)}")
        if hf_progbar_due(&self.bar, now):
            for i in range(len(values)):
                self._values[i] = values[i]
            hf_progbar_update(&self.bar, current, now, self._values, <size_t>len(values), 0)
        hf_progbar_batch_done(&self.bar, now)
        return self._raise_if_failed()

    def _update_at(self, Py_ssize_t current, double now, list values, bint finalize=False):
        """Progbar.update at a given time (the twin's tests)."""
        cdef Py_ssize_t i
        if len(values) > self.bar.n_keys:
            raise ValueError(f"at most {self.bar.n_keys} values")
        for i in range(len(values)):
            self._values[i] = values[i]
        hf_progbar_update(&self.bar, current, now, self._values, <size_t>len(values), finalize)
        self._raise_if_failed()

    def _run_at(self, double begin, list batch_ends, double end):
        """What a run does to the output: it begins, batches end, it ends
        (the twin's tests; no update)."""
        hf_progbar_run_begin(&self.bar, begin)
        for t in batch_ends:
            hf_progbar_batch_done(&self.bar, t)
        hf_progbar_run_end(&self.bar, end)
        self._raise_if_failed()

    def flush(self, bint after_error=False):
        """Write whatever text is kept; raise OSError if any write failed.
        A signal during a blocked write runs its handler (Ctrl-C raises),
        then the write goes on. ``after_error``: the call is ending with
        an error; if a write has already given way to a signal, the kept
        text is dropped rather than waited on (as Python's own output is
        lost when Ctrl-C interrupts it)."""
        if after_error and self.bar.gave_way:
            self.bar.out_len = 0
            return
        while True:
            with nogil:
                hf_progbar_flush(&self.bar)
            if not self.bar.interrupted:
                break
            self._raise_if_failed()  # runs the handler, which may raise
        self._raise_if_failed()

    @property
    def pending_bytes(self):
        """The bytes made and not written yet."""
        return self.bar.out_len
