"""hookfit's own event-file writer: the cached encoder writes byte for byte
what the from-scratch encoder (the oracle, hookfit/_reference/event_records.py)
encodes, and TensorBoard's reader reads the files back."""

import struct
from unittest import mock

import numpy as np
import pytest

from hookfit._reference import event_records as oracle
from hookfit.callbacks import tensorboard_events
from hookfit.callbacks.tensorboard_events import ScalarEventWriter


def test_record_framing():
    data = b"hello event"
    framed = oracle.record(data)
    (length,) = struct.unpack("<Q", framed[:8])
    assert length == len(data)
    assert struct.unpack("<I", framed[8:12])[0] == oracle.masked_crc32c(framed[:8])
    assert framed[12:-4] == data
    assert struct.unpack("<I", framed[-4:])[0] == oracle.masked_crc32c(data)


def _expected_file(open_time, events):
    """The oracle's bytes of a file opened at ``open_time`` holding ``events``:
    ``(wall_time, step, {tag: value})`` scalars or ``(wall_time, step, bytes)``
    encoded summaries."""
    out = oracle.record(oracle.event(0, wall_time=open_time, file_version="brain.Event:2"))
    for wall_time, step, content in events:
        if isinstance(content, bytes):
            encoded = content
        elif not content:
            continue  # add_scalars({}) writes nothing
        else:
            encoded = oracle.summary([oracle.scalar_value(tag, v) for tag, v in content.items()])
        out += oracle.record(oracle.event(step, wall_time=wall_time, summary=encoded))
    return out


# Tags and values that exercise every length: one- and two-byte varints of
# the tag, the value and the summary; non-ASCII tags; steps of every size
# (negative ones are int64 two's complement, ten bytes); float32 rounding.
EVENTS = [
    (1_700_000_001.25, 0, {"epoch_loss": 0.5, "epoch_mean_absolute_error": 0.25}),
    (1_700_000_002.5, 1, {"epoch_loss": 1.0 / 3.0, "epoch_mean_absolute_error": -0.0}),
    (1_700_000_003.0, 127, {"epoch_loss": float("inf"), "epoch_mean_absolute_error": float("nan")}),
    (1_700_000_004.0, 128, {"epoch_loss": 3.4e38, "epoch_mean_absolute_error": 1e-45}),
    (1_700_000_005.0, 2**40, {"batch_loss": np.float32(2.5), "batch_accuracy": 1}),
    (1_700_000_006.0, -1, {"évaluation_ß_vs_iterations": 7.0}),
    (1_700_000_007.0, 2**63 - 1, {"t" * 200: 1.5, "u" * 17_000: -2.0}),
    (1_700_000_007.5, 16_383, {"epoch_loss": 0.75}),
    (1_700_000_007.75, 16_384, {"epoch_loss": 0.875}),
    (1_700_000_008.0, 3, {}),
    (1_700_000_009.0, 4, b""),
    (1_700_000_010.0, 5, b"\x0a\x05\x0a\x01h\x15\x00\x00\x80\x3f"),
    (1_700_000_011.0, 6, {"epoch_loss": 0.125, "epoch_mean_absolute_error": 0.0625}),
]


def test_writer_bytes_equal_the_oracles(tmp_path):
    open_time = 1_700_000_000.5
    # The writer reads the clock once per event it writes (not for an empty dict).
    clock = iter([open_time] + [w for w, _, content in EVENTS if content != {}])
    with mock.patch.object(tensorboard_events.time, "time", lambda: next(clock)):
        writer = ScalarEventWriter(str(tmp_path))
        for _, step, content in EVENTS:
            if isinstance(content, bytes):
                writer.add_summary(content, step)
            elif len(content) == 1:
                ((tag, value),) = content.items()
                writer.add_scalar(tag, value, step)
            else:
                writer.add_scalars(content, step)
        writer.close()
    with open(writer.path, "rb") as f:
        assert f.read() == _expected_file(open_time, EVENTS)


def test_a_float_beyond_float32_is_refused_as_before(tmp_path):
    # struct's "f" refuses finite values beyond float32, as the oracle does;
    # the buffer is left as it was.
    writer = ScalarEventWriter(str(tmp_path), flush_secs=3600)
    with pytest.raises(OverflowError):
        oracle.scalar_value("loss", 1e39)
    before = bytes(writer._buffer)
    with pytest.raises(OverflowError):
        writer.add_scalars({"loss": 1e39}, 0)
    assert bytes(writer._buffer) == before
    writer.close()


def test_tensorboard_reads_scalars_back(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    writer = ScalarEventWriter(str(tmp_path))
    writer.add_scalars({"epoch_loss": 0.5, "epoch_mae": 0.25}, 0)
    writer.add_scalar("epoch_loss", 0.125, 1)
    writer.add_scalars({}, 2)  # nothing to write
    writer.add_scalar("big_step", -1.5, 2**40)
    writer.close()
    writer.close()  # twice is harmless
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("epoch_loss")] == [(0, 0.5), (1, 0.125)]
    assert [(e.step, e.value) for e in acc.Scalars("epoch_mae")] == [(0, 0.25)]
    assert [(e.step, e.value) for e in acc.Scalars("big_step")] == [(2**40, -1.5)]


def test_buffered_until_interval_or_flush(tmp_path):
    writer = ScalarEventWriter(str(tmp_path), flush_secs=3600)
    writer.add_scalar("loss", 1.0, 0)
    size_before = (tmp_path / writer.path.rsplit("/", 1)[1]).stat().st_size
    writer.flush()
    size_after = (tmp_path / writer.path.rsplit("/", 1)[1]).stat().st_size
    assert size_before == 0 and size_after > 0
    writer.close()


def test_written_once_the_buffer_passes_max_buffer(tmp_path):
    writer = ScalarEventWriter(str(tmp_path), flush_secs=3600, max_buffer=200)
    path = tmp_path / writer.path.rsplit("/", 1)[1]
    sizes = []
    for step in range(6):
        writer.add_scalars({"epoch_loss": 0.5, "epoch_mean_absolute_error": 0.25}, step)
        sizes.append(path.stat().st_size)
    # The file_version record is 42 bytes framed, each of these events 82:
    # the buffer passes 200 bytes at the second event (206) and again three
    # events later (246 more).
    assert sizes == [0, 206, 206, 206, 452, 452]
    writer.close()


def test_writers_opened_in_the_same_second_get_their_own_files(tmp_path):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    for step in range(3):  # one writer per fit, as when a callback is reused
        writer = ScalarEventWriter(str(tmp_path))
        writer.add_scalar("epoch_loss", float(step), step)
        writer.close()
    assert len(list(tmp_path.iterdir())) == 3
    acc = event_accumulator.EventAccumulator(str(tmp_path), size_guidance={"scalars": 0})
    acc.Reload()
    assert [(e.step, e.value) for e in acc.Scalars("epoch_loss")] == [(0, 0.0), (1, 1.0), (2, 2.0)]
