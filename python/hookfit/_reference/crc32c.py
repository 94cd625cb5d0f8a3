"""CRC-32C (Castagnoli), one byte at a time: the twin of csrc/hf_crc32c.c."""

from __future__ import annotations

__all__ = ["crc32c"]


def _table() -> tuple:
    table = []
    for n in range(256):
        c = n
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return tuple(table)


_TABLE = _table()


def crc32c(data) -> int:
    """The CRC-32C of ``data`` (bytes or a C-contiguous buffer)."""
    try:
        data = memoryview(data).cast("B")
    except TypeError as e:
        raise TypeError(
            f"crc32c needs bytes or a C-contiguous buffer (bytearray, memoryview); got "
            f"{type(data).__name__}: {e}"
        ) from None
    crc = 0xFFFFFFFF
    table = _TABLE
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF
