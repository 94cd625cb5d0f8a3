"""The start-of-run check that every rank runs the same thing.

Data-parallel ranks that disagree on a shape, the batch size, the number of
epochs, the metrics or the data itself would deadlock or silently train
garbage. Each rank describes its run in a small signature; the signatures
are gathered, and when they differ every rank raises the same error (all
ranks see all signatures, so none waits for another that gave up).
"""

from __future__ import annotations

import json
import zlib

import numpy as np


class SignatureMismatchError(ValueError):
    """The ranks of a data-parallel run were not given the same run."""


# How many rows (evenly spaced, always the first and last) the checksum reads:
# enough to catch different files or a different order, cheap for any size.
SAMPLE_ROWS = 64


def sample_checksum(*arrays, sample_rows: int = SAMPLE_ROWS) -> str:
    """CRC-32 of the shapes, dtypes and an evenly spaced sample of rows of
    each array (None entries count as absent)."""
    crc = 0
    for a in arrays:
        if a is None:
            crc = zlib.crc32(b"none", crc)
            continue
        a = np.asarray(a)
        crc = zlib.crc32(f"{a.dtype.str}{a.shape}".encode(), crc)
        n = a.shape[0] if a.ndim else 0
        if n:
            rows = np.unique(np.linspace(0, n - 1, min(n, sample_rows)).astype(np.int64))
            crc = zlib.crc32(np.ascontiguousarray(a[rows]).tobytes(), crc)
    return f"{crc:08x}"


def _plain(value):
    """JSON for what json cannot write, the same on every rank: an object
    with a config (a learning-rate schedule) by its class and config, a NumPy
    scalar by its value, anything else by its class name (never a repr,
    which may hold a memory address)."""
    if isinstance(value, np.generic):
        return value.item()
    get_config = getattr(value, "get_config", None)
    if callable(get_config):
        return {"class": type(value).__qualname__, "config": get_config()}
    return type(value).__qualname__


def check_same_run(comm, what: str, signature: dict) -> None:
    """Raise ``SignatureMismatchError`` on every rank unless every rank passed
    an equal ``signature`` (JSON-able values) for ``what``."""
    mine = json.dumps(signature, sort_keys=True, default=_plain).encode()
    everyone = comm.allgather_bytes(mine)
    if all(s == everyone[0] for s in everyone):
        return
    decoded = [json.loads(s) for s in everyone]
    keys = sorted(set().union(*decoded))
    lines = []
    for key in keys:
        values = [d.get(key, "<missing>") for d in decoded]
        if any(v != values[0] for v in values):
            by_rank = ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values))
            lines.append(f"  {key}: {by_rank}")
    raise SignatureMismatchError(
        f"the {len(everyone)} ranks were not given the same {what}:\n"
        + "\n".join(lines)
        + "\nEvery rank must run the same script on the same data with the same arguments "
        "(load the data identically on every rank; batch_size is the global batch)."
    )
