"""Reading ``.npz`` archives as untrusted input.

``np.load`` trusts the sizes an archive declares: a 1 MiB compressed member
can unpack to 1 GiB, and an empty or truncated file raises ``BadZipFile`` or
``EOFError``. Here every member's ``.npy`` header (shape, dtype) is read and
checked first, against the shape the caller expects and against the
member's declared and compressed sizes, before its data is decompressed.
"""

from __future__ import annotations

import contextlib
import os
import zipfile

import numpy as np

from hookfit.saving.file_errors import FileFormatError, UnsafeFileError, describe
from hookfit.saving.limits import CONTAINER_SLACK_BYTES, MAX_PARAMETERS, element_count

# hookfit writes archives uncompressed; a compressed one may shrink its data
# this much at most (real float data compresses far less).
MAX_COMPRESSION_RATIO = 16
_MAX_MEMBER_BYTES = MAX_PARAMETERS * 4 * 4  # weights plus three optimizer slots


class NpzReader:
    """One archive, open for checked reads. Use as a context manager."""

    def __init__(self, path, what: str):
        self.source = f"the {what} {describe(path)}"
        if not os.path.exists(path):
            raise FileNotFoundError(f"No {what} at {os.fspath(path)!r}.")
        if os.path.getsize(path) == 0:
            raise FileFormatError(f"{self.source} is empty (0 bytes): it was never written completely.")
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError, ValueError) as e:
            raise FileFormatError(
                f"{self.source} is not a NumPy .npz archive (or it is truncated): {e}."
            ) from None
        self._members = {
            info.filename[: -len(".npy")]: info
            for info in self._zip.infolist()
            if info.filename.endswith(".npy")
        }
        foreign = [i.filename for i in self._zip.infolist() if not i.filename.endswith(".npy")]
        if foreign:
            self.close()
            raise FileFormatError(f"{self.source} holds entries that are not arrays: {foreign[:5]}.")

    def close(self):
        self._zip.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def names(self) -> list[str]:
        return list(self._members)

    def _member(self, name: str, max_bytes):
        info = self._members.get(name)
        if info is None:
            raise FileFormatError(f"{self.source} has no entry {name!r}.")
        limit = _MAX_MEMBER_BYTES if max_bytes is None else max_bytes
        if info.file_size > limit + CONTAINER_SLACK_BYTES:
            raise UnsafeFileError(
                f"{self.source}: entry {name!r} declares {info.file_size:,} bytes, more than the "
                f"{limit:,} expected; nothing was decompressed."
            )
        if (
            info.compress_type != zipfile.ZIP_STORED
            and info.file_size > info.compress_size * MAX_COMPRESSION_RATIO + CONTAINER_SLACK_BYTES
        ):
            raise UnsafeFileError(
                f"{self.source}: entry {name!r} would unpack {info.compress_size:,} bytes to "
                f"{info.file_size:,} (a zip bomb?); nothing was decompressed."
            )
        return info

    def shape_of(self, name: str) -> tuple:
        """The declared shape of ``name`` (its header only, checked)."""
        info = self._member(name, None)
        try:
            with self._zip.open(info) as member:
                shape, _, dtype, header_bytes = _read_header(member)
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
            raise FileFormatError(f"{self.source}: entry {name!r} is corrupted or truncated: {e}.") from None
        self._check_header(name, shape, dtype, None, info.file_size - header_bytes)
        return tuple(shape)

    def read(self, name: str, expected_shape=None, *, max_bytes: int | None = None) -> np.ndarray:
        """The array ``name``, after checking its header (real dtype, the
        ``expected_shape`` if given, sizes consistent with the archive)."""
        info = self._member(name, max_bytes)
        try:
            with self._zip.open(info) as member:
                shape, fortran, dtype, header_bytes = _read_header(member)
                self._check_header(name, shape, dtype, expected_shape, info.file_size - header_bytes)
                count = element_count(shape)
                data = member.read(count * dtype.itemsize)
        except (zipfile.BadZipFile, EOFError, ValueError, OSError) as e:
            raise FileFormatError(f"{self.source}: entry {name!r} is corrupted or truncated: {e}.") from None
        if len(data) != count * dtype.itemsize:
            raise FileFormatError(f"{self.source}: entry {name!r} is truncated.")
        array = np.frombuffer(data, dtype=dtype)
        if fortran:
            return array.reshape(shape[::-1]).transpose().copy()
        return array.reshape(shape).copy()

    def _check_header(self, name, shape, dtype, expected_shape, data_bytes) -> None:
        if dtype.hasobject or dtype.kind not in "biufcUS" or dtype.fields is not None:
            raise FileFormatError(
                f"{self.source}: entry {name!r} has dtype {dtype}, not numbers; refused "
                "(no pickled objects are ever loaded)."
            )
        if expected_shape is not None and tuple(shape) != tuple(expected_shape):
            raise FileFormatError(
                f"{self.source}: entry {name!r} has shape {tuple(shape)}; expected "
                f"{tuple(expected_shape)}."
            )
        if element_count(shape) * dtype.itemsize != data_bytes:
            raise UnsafeFileError(
                f"{self.source}: entry {name!r} declares shape {tuple(shape)} ({dtype}) but holds "
                f"{data_bytes:,} bytes of data; refused before reading it."
            )


def _read_header(member):
    version = np.lib.format.read_magic(member)
    if version == (1, 0):
        shape, fortran, dtype = np.lib.format.read_array_header_1_0(member)
    else:
        shape, fortran, dtype = np.lib.format.read_array_header_2_0(member)
    return shape, fortran, dtype, member.tell()


@contextlib.contextmanager
def open_npz(path, what: str):
    reader = NpzReader(path, what)
    try:
        yield reader
    finally:
        reader.close()
