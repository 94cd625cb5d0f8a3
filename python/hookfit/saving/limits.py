"""Sane bounds checked before a file makes hookfit allocate anything.

Every size a file declares (array shapes, zip member sizes, layer widths in a
config) is checked against what the model expects and against these bounds
first, so that a few kilobytes cannot claim gigabytes of memory.
"""

from __future__ import annotations

import math

from hookfit.saving.file_errors import UnsafeFileError

# The largest model a file may declare: 2**28 float32 parameters (1 GiB).
MAX_PARAMETERS = 2**28
# The largest single JSON document (configs, skeletons) read from a file.
MAX_JSON_BYTES = 64 * 2**20
# Fixed overhead allowed on top of the array bytes in a container (HDF5
# metadata, zip and .npy headers).
CONTAINER_SLACK_BYTES = 2**20


def check_parameter_count(count: int, source: str) -> None:
    """Refuse a declared model larger than ``MAX_PARAMETERS``."""
    if count > MAX_PARAMETERS:
        raise UnsafeFileError(
            f"{source} declares a model with {count:,} parameters, more than hookfit's bound of "
            f"{MAX_PARAMETERS:,} (hookfit.saving.limits.MAX_PARAMETERS); nothing was allocated."
        )


def check_fits_in(array_bytes: int, container_bytes: int, source: str) -> None:
    """A model whose weights take ``array_bytes`` cannot be stored in a
    container of ``container_bytes``: the file lies about its sizes."""
    if array_bytes > container_bytes + CONTAINER_SLACK_BYTES:
        raise UnsafeFileError(
            f"{source} declares weights of {array_bytes:,} bytes but holds only "
            f"{container_bytes:,} bytes of data: it is truncated or crafted; nothing was allocated."
        )


def element_count(shape) -> int:
    return math.prod(int(d) for d in shape)
