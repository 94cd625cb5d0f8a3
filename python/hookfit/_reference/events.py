"""TensorBoard's scalar event records, built from the oracle's fields: the
twin of csrc/hf_events.c (``scalar_events``)."""

from __future__ import annotations

import struct

from hookfit._reference.event_records import record, varint

__all__ = ["scalar_events"]


def scalar_events(summary: bytes, value_at: tuple, rows, steps, walls) -> bytes:
    """TFRecord-framed ``tensorflow.Event`` records, one per row: ``summary``
    (an encoded ``Event.summary`` field) with the row's values stored as
    float32 at the byte offsets ``value_at``, at ``steps[k]``, stamped
    ``walls[k]``."""
    if len(steps) != len(rows) or len(walls) != len(rows):
        raise ValueError(f"scalar_events: {len(rows)} rows, {len(steps)} steps and {len(walls)} walls; "
                         "one of each per event.")
    for at in value_at:
        if at < 0 or at > len(summary) - 4:
            raise ValueError(f"scalar_events: a value at byte {at} of a {len(summary)}-byte summary.")
    out = b""
    for k, (row, step, wall) in enumerate(zip(rows, steps, walls)):
        values = list(row)
        if len(values) != len(value_at):
            raise ValueError(f"scalar_events: event {k} has {len(values)} values for {len(value_at)} tags.")
        field = bytearray(summary)
        for at, value in zip(value_at, values):
            field[at:at + 4] = struct.pack("<f", value)  # OverflowError beyond float32
        if not -(2**63) <= step < 2**63:
            raise OverflowError(f"step {step} is not an int64")
        out += record(b"\x09" + struct.pack("<d", wall) + b"\x10" + varint(step) + bytes(field))
    return out
