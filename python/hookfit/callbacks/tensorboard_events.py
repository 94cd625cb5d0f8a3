"""A small writer of TensorBoard event files.

tensorboardX hands every scalar to a background process queue whose writer
computes the record checksums in Python under the GIL: on a fit pinned to one
core that is ~100 us per scalar, paid by the training loop. Scalars are a few
bytes each, so they are encoded here directly and kept in a buffer that goes
to the file every ``flush_secs`` seconds (as TensorFlow's summary writers do,
120 s), when it grows past ``max_buffer`` bytes, and at ``flush``/``close``.
The file is complete when the TensorBoard callback closes its writers, at
``on_train_end`` (or ``on_exception``); a crash loses at most the buffered
records, and TensorBoard's reader skips a torn last record.

Format: TFRecord framing (little-endian uint64 length, masked CRC-32C of the
length, the bytes, masked CRC-32C of the bytes) around ``tensorflow.Event``
protobufs: ``wall_time`` (1, double), ``step`` (2, int64), ``file_version``
(3, string) for the first record, ``summary`` (5) holding ``Summary.Value``
entries of ``tag`` (1, string) and ``simple_value`` (2, float).
"""

from __future__ import annotations

import io
import itertools
import os
import socket
import struct
import time


def _crc32c_table() -> tuple:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_CRC_TABLE = _crc32c_table()
_SEQUENCE = itertools.count()


def crc32c(data: bytes) -> int:
    """CRC-32C (Castagnoli) of ``data``: a few microseconds for a record of
    tens of bytes, which is all the scalars need."""
    crc = 0xFFFFFFFF
    table = _CRC_TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # int64 fields are encoded as their two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _field_bytes(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def scalar_value(tag: str, value: float) -> bytes:
    """One encoded ``Summary.Value{tag, simple_value}``."""
    return _field_bytes(1, tag.encode("utf-8")) + b"\x15" + struct.pack("<f", value)


def event(step: int, *, wall_time: float, summary: bytes = b"", file_version: str | None = None) -> bytes:
    """One encoded ``Event``; ``summary`` is an encoded ``Summary``."""
    out = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + _varint(step)
    if file_version is not None:
        out += _field_bytes(3, file_version.encode("ascii"))
    if summary:
        out += _field_bytes(5, summary)
    return out


def summary(values) -> bytes:
    """An encoded ``Summary`` of encoded ``Summary.Value``s."""
    return b"".join(_field_bytes(1, v) for v in values)


def record(data: bytes) -> bytes:
    """``data`` in TFRecord framing."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class ScalarEventWriter:
    """Scalars of one run directory, in a new ``events.out.tfevents.*`` file.

    Args:
        logdir: the run directory (created if missing).
        flush_secs: write the buffered records at most this many seconds apart.
        max_buffer: also write them once this many bytes are buffered.
    """

    def __init__(self, logdir, *, flush_secs: float = 120.0, max_buffer: int = 1 << 16):
        os.makedirs(logdir, exist_ok=True)
        now = time.time()
        # Several writers may open the same run in one second (a callback
        # reused across fits): the process's sequence number keeps each file
        # new; "x" never appends to somebody else's file.
        while True:
            name = (
                f"events.out.tfevents.{int(now)}.{socket.gethostname()}"
                f".{os.getpid()}.{next(_SEQUENCE)}.hookfit"
            )
            self.path = os.path.join(logdir, name)
            try:
                self._file: io.BufferedWriter | None = open(self.path, "xb")
                break
            except FileExistsError:
                continue
        self._flush_secs = flush_secs
        self._max_buffer = max_buffer
        self._buffer = bytearray(record(event(0, wall_time=now, file_version="brain.Event:2")))
        self._next_flush = time.monotonic() + flush_secs

    def add_scalars(self, values: dict, step: int) -> None:
        """One event holding every ``tag -> float`` of ``values`` at ``step``."""
        if not values:
            return
        self.add_summary(summary([scalar_value(tag, value) for tag, value in values.items()]), step)

    def add_summary(self, encoded_summary: bytes, step: int) -> None:
        """One event holding an encoded ``Summary`` (histograms come this way)."""
        self._buffer += record(event(int(step), wall_time=time.time(), summary=encoded_summary))
        if len(self._buffer) >= self._max_buffer or time.monotonic() >= self._next_flush:
            self.flush()

    def add_scalar(self, tag: str, value: float, step: int) -> None:
        self.add_scalars({tag: value}, step)

    def flush(self) -> None:
        if self._file is None:
            return
        if self._buffer:
            self._file.write(self._buffer)
            self._buffer.clear()
        self._file.flush()
        self._next_flush = time.monotonic() + self._flush_secs

    def close(self) -> None:
        if self._file is None:
            return
        try:
            self.flush()
        finally:
            self._file.close()
            self._file = None
