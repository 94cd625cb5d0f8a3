"""TensorBoard event records encoded from scratch, field by field: the
oracle of the cached encoder in ``callbacks/tensorboard_events.py``.

Format: TFRecord framing (little-endian uint64 length, masked CRC-32C of the
length, the bytes, masked CRC-32C of the bytes) around ``tensorflow.Event``
protobufs: ``wall_time`` (1, double), ``step`` (2, int64), ``file_version``
(3, string) for the first record, ``summary`` (5) holding ``Summary.Value``
entries of ``tag`` (1, string) and ``simple_value`` (2, float).
"""

from __future__ import annotations

import struct

from hookfit._reference.crc32c import crc32c

# Not the core's API: tests import this module by name.
__all__: list[str] = []


def masked_crc32c(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def varint(n: int) -> bytes:
    """Base-128 digits, least significant first, each but the last with its
    high bit set. (Written unlike the writer's loop, on purpose: an oracle
    sharing the code it checks would check nothing.)"""
    n &= 0xFFFFFFFFFFFFFFFF  # int64 fields are encoded as their two's complement
    digits = [(n >> shift) & 0x7F for shift in range(0, max(n.bit_length(), 1), 7)]
    return bytes([d | 0x80 for d in digits[:-1]] + digits[-1:])


def field_bytes(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def scalar_value(tag: str, value: float) -> bytes:
    """One encoded ``Summary.Value{tag, simple_value}``."""
    return field_bytes(1, tag.encode("utf-8")) + b"\x15" + struct.pack("<f", value)


def summary(values) -> bytes:
    """An encoded ``Summary`` of encoded ``Summary.Value``s."""
    return b"".join(field_bytes(1, v) for v in values)


def event(step: int, *, wall_time: float, summary: bytes = b"", file_version: str | None = None) -> bytes:
    """One encoded ``Event``; ``summary`` is an encoded ``Summary``."""
    out = b"\x09" + struct.pack("<d", wall_time) + b"\x10" + varint(step)
    if file_version is not None:
        out += field_bytes(3, file_version.encode("ascii"))
    if summary:
        out += field_bytes(5, summary)
    return out


def record(data: bytes) -> bytes:
    """``data`` in TFRecord framing."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))

