# Included by _core.pyx: the CRC-32C of TensorBoard's event records.

from cpython.buffer cimport PyBUF_SIMPLE, PyBuffer_Release, PyObject_GetBuffer
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE

# Below this many bytes the checksum takes less time than giving the GIL
# away and back; event records are tens of bytes.
cdef enum:
    _CRC32C_NOGIL_BYTES = 1 << 16


def crc32c(data):
    """The CRC-32C (Castagnoli) of ``data``: bytes, or any C-contiguous
    buffer (bytearray, memoryview, array); an int in [0, 2**32)."""
    cdef Py_buffer view
    cdef uint32_t crc
    if type(data) is bytes:  # the writer's case: no buffer protocol round trip
        return hf_crc32c(0, PyBytes_AS_STRING(data), <size_t>PyBytes_GET_SIZE(data))
    try:
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
    except (TypeError, BufferError, ValueError) as e:  # numpy: ValueError
        raise TypeError(
            f"crc32c needs bytes or a C-contiguous buffer (bytearray, memoryview); got "
            f"{type(data).__name__}: {e}") from None
    try:
        if view.len < _CRC32C_NOGIL_BYTES:
            crc = hf_crc32c(0, view.buf, <size_t>view.len)
        else:
            with nogil:
                crc = hf_crc32c(0, view.buf, <size_t>view.len)
    finally:
        PyBuffer_Release(&view)
    return crc
