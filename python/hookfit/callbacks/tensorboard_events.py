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

A fit writes the same tags at every epoch, so each sequence of tags has its
``Event.summary`` field encoded once per writer, and the events are made in
C (``core.scalar_events``, csrc/hf_events.c), many per call: a fit's epoch
records come in runs. The same records encoded from scratch, field by
field, are the test oracle (``hookfit/_reference/event_records.py``).
"""

from __future__ import annotations

import io
import itertools
import os
import socket
import struct
import time

from hookfit._native import core  # scalar_events, crc32c: csrc/ (or their twins)

_SEQUENCE = itertools.count()
_EVENT_START = struct.Struct("<BdB")  # wall_time's key, the double, step's key
_UINT32 = struct.Struct("<I")
_UINT64 = struct.Struct("<Q")
# Keys of the length-delimited fields: Event.file_version (3), Event.summary
# (5), Summary.value (1), Summary.Value.tag (1).
_VERSION_KEY, _SUMMARY_KEY, _VALUE_KEY, _TAG_KEY = b"\x1a", b"\x2a", b"\x0a", b"\x0a"
_SIMPLE_VALUE_KEY = b"\x15"  # Summary.Value.simple_value (2), a 4-byte float


def _masked_crc32c(data: bytes) -> int:
    crc = core.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def _varint(n: int) -> bytes:
    n &= 0xFFFFFFFFFFFFFFFF  # int64 fields are encoded as their two's complement
    out = bytearray()
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


def _length_delimited(key: bytes, payload: bytes) -> bytes:
    return key + _varint(len(payload)) + payload


def _event_start(step: int, wall_time: float) -> bytes:
    """An ``Event``'s ``wall_time`` and ``step`` fields."""
    return _EVENT_START.pack(0x09, wall_time, 0x10) + _varint(step)


class _ScalarsLayout:
    """The ``Event.summary`` field of one sequence of tags, encoded once per
    writer with room for the floats (``value_at``: their byte offsets):
    only the floats change from one event to the next."""

    def __init__(self, tags):
        values = [_length_delimited(_TAG_KEY, tag.encode("utf-8")) + _SIMPLE_VALUE_KEY for tag in tags]
        # Each value's length counts the 4 bytes of its float.
        prefixes = [_VALUE_KEY + _varint(len(v) + 4) + v for v in values]
        summary_size = sum(len(p) + 4 for p in prefixes)
        prefixes[0] = _SUMMARY_KEY + _varint(summary_size) + prefixes[0]
        field = bytearray()
        value_at = []
        for prefix in prefixes:
            field += prefix
            value_at.append(len(field))
            field += bytes(4)
        self.summary, self.value_at = bytes(field), tuple(value_at)


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
        self._buffer = bytearray()
        self._layouts: dict[tuple, _ScalarsLayout] = {}
        self._next_flush = time.monotonic() + flush_secs
        self._append(_event_start(0, now) + _length_delimited(_VERSION_KEY, b"brain.Event:2"))

    def _append(self, data: bytes) -> None:
        """``data`` in TFRecord framing onto the buffer."""
        length = _UINT64.pack(len(data))
        self._buffer += length + _UINT32.pack(_masked_crc32c(length)) + data + _UINT32.pack(_masked_crc32c(data))

    def _flush_if_due(self) -> None:
        if len(self._buffer) >= self._max_buffer or time.monotonic() >= self._next_flush:
            self.flush()

    def add_scalars(self, values: dict, step: int, wall_time: float | None = None) -> None:
        """One event holding every ``tag -> float`` of ``values`` at
        ``step``, stamped ``wall_time`` (``time.time()`` seconds; now if None)."""
        if values:
            self.add_scalar_rows(tuple(values), (values.values(),), (int(step),),
                                 (time.time() if wall_time is None else wall_time,))

    def add_scalar_rows(self, tags: tuple, rows, steps, walls) -> None:
        """One event per row: ``tags[i] -> row[i]`` at ``steps[k]`` (ints),
        stamped ``walls[k]`` (a fit's epoch records, given in a run)."""
        layout = self._layouts.get(tags)
        if layout is None:
            layout = self._layouts[tags] = _ScalarsLayout(tags)
        buffer = self._buffer
        buffer += core.scalar_events(layout.summary, layout.value_at, rows, steps, walls)
        if len(buffer) >= self._max_buffer or time.monotonic() >= self._next_flush:
            self.flush()

    def add_summary(self, encoded_summary: bytes, step: int) -> None:
        """One event holding an encoded ``Summary`` (histograms come this way)."""
        data = _event_start(int(step), time.time())
        if encoded_summary:  # an empty message is no field at all
            data += _length_delimited(_SUMMARY_KEY, encoded_summary)
        self._append(data)
        self._flush_if_due()

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
