"""hookfit's own event-file writer: checksums, framing, and files that
TensorBoard's reader reads back."""

import struct

import pytest

from hookfit.callbacks.tensorboard_events import ScalarEventWriter, crc32c, masked_crc32c, record


def test_crc32c_known_values():
    # The CRC-32C check value (RFC 3720, B.4) and an all-zero block.
    assert crc32c(b"123456789") == 0xE3069283
    assert crc32c(bytes(32)) == 0x8A9136AA


def test_record_framing():
    data = b"hello event"
    framed = record(data)
    (length,) = struct.unpack("<Q", framed[:8])
    assert length == len(data)
    assert struct.unpack("<I", framed[8:12])[0] == masked_crc32c(framed[:8])
    assert framed[12:-4] == data
    assert struct.unpack("<I", framed[-4:])[0] == masked_crc32c(data)


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
