"""Checksums of weight arrays, stored in the files hookfit writes.

HDF5 and ``.npy`` store no checksum of the data, so a flipped bit would load
silently. hookfit stores a CRC-32 of each array's bytes (little-endian,
C order) next to it, in a place Keras ignores (an HDF5 attribute, a JSON
entry), and checks it on load when present.
"""

from __future__ import annotations

import zlib

import numpy as np

from hookfit.saving.file_errors import ChecksumMismatchError

ATTRIBUTE = "hookfit_crc32"


def crc32(array) -> int:
    data = np.ascontiguousarray(array)
    if data.dtype.byteorder == ">":
        data = data.astype(data.dtype.newbyteorder("<"))
    return zlib.crc32(data.reshape(-1).view(np.uint8).data)  # as bytes; empty arrays too


def verify(array, expected, what: str, source: str) -> None:
    """Raise ``ChecksumMismatchError`` if ``array`` does not hash to ``expected``."""
    if expected is None:
        return
    got = crc32(array)
    if got != int(expected):
        raise ChecksumMismatchError(
            f"{source}: {what} does not match its stored checksum (CRC-32 {int(expected):#010x}, "
            f"data hashes to {got:#010x}): the file is corrupted. Restore it from a copy."
        )
