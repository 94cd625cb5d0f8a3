# Included by _core.pyx: TensorBoard's scalar event records, many per call.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize
from libc.math cimport fabs

# The smallest double that float32 rounds to infinity (2**128 - 2**103):
# struct's "f" refuses finite values from here on, and so does this.
cdef double _FLOAT32_OVERFLOW = 3.4028235677973366e38


def scalar_events(bytes summary, tuple value_at, rows, steps, walls):
    """TFRecord-framed ``tensorflow.Event`` records as one bytes, one per
    row: ``wall_time`` ``walls[k]``, ``step`` ``steps[k]`` (int64), and
    ``summary`` (an encoded ``Event.summary`` field) with the row's values
    stored as float32 at the byte offsets ``value_at``. ValueError for
    lengths that do not match, OverflowError for a finite value beyond
    float32 (as struct's "f"); then nothing is made."""
    cdef Py_ssize_t n = len(value_at), events = len(rows), k, i
    cdef size_t size = <size_t>len(summary), total = 0
    cdef Py_ssize_t at
    cdef size_t *offsets = NULL
    cdef float *values = NULL
    cdef int64_t *steps_c = NULL
    cdef double *walls_c = NULL
    cdef double v
    cdef unsigned char *p
    if len(steps) != events or len(walls) != events:
        raise ValueError(f"scalar_events: {events} rows, {len(steps)} steps and {len(walls)} walls; "
                         "one of each per event.")
    try:
        offsets = <size_t *>PyMem_Malloc((n + 1) * sizeof(size_t))
        values = <float *>PyMem_Malloc((events * n + 1) * sizeof(float))
        steps_c = <int64_t *>PyMem_Malloc((events + 1) * sizeof(int64_t))
        walls_c = <double *>PyMem_Malloc((events + 1) * sizeof(double))
        if offsets == NULL or values == NULL or steps_c == NULL or walls_c == NULL:
            raise MemoryError()
        for i in range(n):
            at = value_at[i]
            if at < 0 or size < 4 or <size_t>at > size - 4:
                raise ValueError(f"scalar_events: a value at byte {at} of a {size}-byte summary.")
            offsets[i] = <size_t>at
        for k in range(events):
            row = list(rows[k])  # (any iterable, as the twin takes it)
            if len(row) != n:
                raise ValueError(f"scalar_events: event {k} has {len(row)} values for {n} tags.")
            for i in range(n):
                v = row[i]
                if isfinite(v) and fabs(v) >= _FLOAT32_OVERFLOW:
                    raise OverflowError(f"float {v!r} too large for a float32 scalar")
                values[k * n + i] = <float>v
            steps_c[k] = steps[k]
            walls_c[k] = walls[k]
            total += hf_scalar_event_size(steps_c[k], size)
        out = PyBytes_FromStringAndSize(NULL, <Py_ssize_t>total)
        p = <unsigned char *>PyBytes_AS_STRING(out)
        for k in range(events):
            hf_scalar_event(p, walls_c[k], steps_c[k], <const unsigned char *>PyBytes_AS_STRING(summary), size,
                            offsets, values + k * n, <size_t>n)
            p += hf_scalar_event_size(steps_c[k], size)
        return out
    finally:
        PyMem_Free(offsets)
        PyMem_Free(values)
        PyMem_Free(steps_c)
        PyMem_Free(walls_c)
