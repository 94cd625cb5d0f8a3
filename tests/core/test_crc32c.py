"""crc32c: the C kernel (csrc/hf_crc32c.c) against its pure-Python twin and
the published CRC-32C check values."""

from __future__ import annotations

import array

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookfit import _core as core
from hookfit import _reference as reference

# RFC 3720 (iSCSI), B.4, and the catalogue's check value for "123456789".
KNOWN = [
    (b"", 0x00000000),
    (b"123456789", 0xE3069283),
    (bytes(32), 0x8A9136AA),
    (b"\xff" * 32, 0x62A8AB43),
    (bytes(range(32)), 0x46DD794E),
    (bytes(range(31, -1, -1)), 0x113FDB5C),
]


@pytest.mark.parametrize("crc32c", [core.crc32c, reference.crc32c], ids=["core", "twin"])
@pytest.mark.parametrize("data, expected", KNOWN)
def test_known_check_values(crc32c, data, expected):
    assert crc32c(data) == expected


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), start=st.integers(0, 7))
def test_equals_the_twin_at_every_length_and_alignment(data, start):
    # A slice of a larger buffer starts at any offset from 8-byte alignment.
    view = memoryview(bytes(start) + data)[start:]
    assert core.crc32c(view) == reference.crc32c(data) == core.crc32c(data)


@pytest.mark.parametrize("n", [1, 7, 8, 9, 63, 64, 65, (1 << 16) - 1, 1 << 16, (1 << 16) + 13, 200_003])
def test_equals_the_twin_on_random_bytes(n):
    data = np.random.default_rng(n).integers(0, 256, n, dtype=np.uint8).tobytes()
    assert core.crc32c(data) == reference.crc32c(data)


def test_every_contiguous_buffer_is_read_as_its_bytes():
    data = np.arange(1000, dtype=np.float32)
    expected = reference.crc32c(data.tobytes())
    for buffer in (data, data.tobytes(), bytearray(data.tobytes()), memoryview(data),
                   array.array("f", data.tolist())):
        assert core.crc32c(buffer) == expected
        assert reference.crc32c(buffer) == expected


@pytest.mark.parametrize("crc32c", [core.crc32c, reference.crc32c], ids=["core", "twin"])
@pytest.mark.parametrize("bad", ["123456789", 12345, None, memoryview(b"abcdef")[::2],
                                 np.zeros((4, 4), np.float32)[:, 0]])
def test_anything_but_contiguous_bytes_is_refused(crc32c, bad):
    with pytest.raises(TypeError, match="crc32c needs bytes or a C-contiguous buffer"):
        crc32c(bad)
