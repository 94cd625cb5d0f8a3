"""Errors for files that cannot be read as what they claim to be.

A file is untrusted input: whatever is wrong with it (empty, truncated, a
foreign format, a crafted size, a flipped bit) is reported as one of these,
naming the file and the problem, never as a raw ``BadZipFile``/``EOFError``.
"""

from __future__ import annotations

import os


class FileFormatError(ValueError):
    """A file is empty, truncated, foreign or malformed."""


class UnsafeFileError(FileFormatError):
    """A file asks for something hookfit refuses to do when loading: read
    other files (HDF5 external storage or links), run code (Lambda layers,
    custom classes) or allocate more than it could hold."""


class ChecksumMismatchError(FileFormatError):
    """A weight array does not match the checksum stored next to it."""


class UnsupportedConfigError(FileFormatError):
    """A model file uses a layer, loss, metric or optimizer (or a setting of
    one) that hookfit does not have."""


def describe(path) -> str:
    """``'name'`` for messages: the path as the user gave it."""
    return repr(os.fspath(path)) if not hasattr(path, "read") else "the given file object"
