"""HDF5 files, written in memory and read as untrusted input.

Writing: the whole file is built in memory (h5py on a ``BytesIO``) and its
bytes go through the atomic writer, so a full disk is a clean ``OSError``
with the previous file intact (writing straight to disk made the HDF5
library crash on ENOSPC). Every dataset gets a CRC-32 attribute. Writers
describe the file (``h5_plan.Plan``); a layout written before is filled
in without the HDF5 library, for repeated checkpoint saves.

Reading: only the groups and datasets the caller asks for are opened; links
to other files (external links), soft links, datasets stored in other files
(external storage) and virtual datasets are refused, since they would make
a weights file read arbitrary local files; every dataset's declared shape is
checked against the expected one before its data is read.
"""

from __future__ import annotations

import contextlib
import io
import os

import numpy as np

from hookfit.saving import checksum, h5_plan
from hookfit.saving.file_errors import FileFormatError, UnsafeFileError, describe
from hookfit.saving.limits import MAX_PARAMETERS, element_count
from hookfit.utils.atomic import atomic_write_bytes

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def import_h5py():
    try:
        import h5py
    except ImportError as e:
        raise ImportError(
            "Saving or loading HDF5 files ('.h5', '.weights.h5', '.keras') needs h5py: "
            "pip install 'hookfit[h5]' (or use '.npz', which needs nothing extra)."
        ) from e
    return h5py


def h5_bytes(write) -> bytes:
    """The bytes of an HDF5 file filled by ``write(root)``, where ``root``
    takes ``create_group``, ``attrs[...] =`` and ``put_dataset(name, array)``
    (every dataset gets its checksum attribute). A layout written before is
    reused without HDF5 calls (``h5_plan``)."""
    h5py = import_h5py()
    plan = h5_plan.Plan()
    write(plan.root)
    return _LAYOUTS.file_bytes(plan, h5py)


def layout_of(plan) -> h5_plan.Layout | None:
    """The stored layout of ``plan``'s files, once two have been written."""
    return _LAYOUTS.layout(plan)


def write_h5(path, write) -> None:
    """Build the HDF5 file in memory, then write it atomically."""
    atomic_write_bytes(path, h5_bytes(write))


_LAYOUTS = h5_plan.LayoutCache()


@contextlib.contextmanager
def open_h5(source, what: str, *, name=None):
    """Open an HDF5 file (a path, or bytes from an archive) for reading.
    ``name`` labels bytes in messages. Yields ``(file, label)``."""
    h5py = import_h5py()
    if isinstance(source, (bytes, bytearray, memoryview)):
        label = f"the {what} {name}"
        head = bytes(source[:8])
        opener = io.BytesIO(bytes(source))
    else:
        label = f"the {what} {describe(source)}"
        if not os.path.exists(source):
            raise FileNotFoundError(f"No {what} at {os.fspath(source)!r}.")
        with open(source, "rb") as f:
            head = f.read(8)
        opener = source
    if not head:
        raise FileFormatError(f"{label} is empty (0 bytes): it was never written completely.")
    if head != _HDF5_SIGNATURE:
        raise FileFormatError(f"{label} is not an HDF5 file (it does not start with the HDF5 signature).")
    try:
        f = h5py.File(opener, "r")
    except _H5_ERRORS as e:
        raise FileFormatError(f"{label} is not a readable HDF5 file (truncated?): {e}.") from None
    try:
        yield f, label
    finally:
        f.close()


# What h5py raises for a damaged file: HDF5's own failures come as OSError,
# KeyError, ValueError or, for some internal checks ("addr overflow"),
# RuntimeError.
_H5_ERRORS = (KeyError, ValueError, OSError, RuntimeError)


def _checked_link(group, name: str, label: str):
    h5py = import_h5py()
    try:
        link = group.get(name, getlink=True)
    except _H5_ERRORS as e:
        raise FileFormatError(f"{label}: cannot read {group.name}/{name} ({e}).") from None
    if link is None:
        return None
    if isinstance(link, h5py.ExternalLink):
        raise UnsafeFileError(
            f"{label}: {group.name}/{name} is an external link to {link.filename!r}; links to other "
            "files are refused."
        )
    if isinstance(link, h5py.SoftLink):
        raise UnsafeFileError(f"{label}: {group.name}/{name} is a soft link; links are refused.")
    try:
        return group[name]
    except _H5_ERRORS as e:
        raise FileFormatError(f"{label}: cannot open {group.name}/{name} ({e}).") from None


def child_group(group, name: str, label: str, *, required: bool = True):
    """The sub-group ``name`` (no links followed), or None if absent and
    not required."""
    h5py = import_h5py()
    obj = _checked_link(group, name, label)
    if obj is None:
        if required:
            raise FileFormatError(f"{label} has no group {_join(group, name)!r}.")
        return None
    if not isinstance(obj, h5py.Group):
        raise FileFormatError(f"{label}: {_join(group, name)!r} is not a group.")
    return obj


def child_names(group, label: str) -> list[str]:
    """The names in ``group``; any link among them is refused."""
    try:
        names = list(group.keys())
    except _H5_ERRORS as e:
        raise FileFormatError(f"{label}: cannot list {group.name} ({e}).") from None
    for name in names:
        _checked_link(group, name, label)
    return names


def stored_dataset(group, name: str, label: str, *, what=None):
    """A ``StoredArray`` for the dataset ``name``: the link, storage, dtype
    and declared size are checked now; the data is read (and verified
    against its checksum attribute, if any) only when asked for."""
    from hookfit.saving.layer_weights import StoredArray

    h5py = import_h5py()
    where = _join(group, name)
    what = what or repr(where)
    *parents, name = name.split("/")
    for parent in parents:  # Keras 2 names ("dense/kernel:0") are paths
        group = child_group(group, parent, label)
    obj = _checked_link(group, name, label)
    if obj is None:
        raise FileFormatError(f"{label} has no dataset {where!r}.")
    if not isinstance(obj, h5py.Dataset):
        raise FileFormatError(f"{label}: {where!r} is not a dataset.")
    if obj.external:
        raise UnsafeFileError(
            f"{label}: {where!r} keeps its data in other files ({[e[0] for e in obj.external]}); "
            "external storage is refused."
        )
    if obj.is_virtual:
        raise UnsafeFileError(f"{label}: {where!r} is a virtual dataset (data from other files); refused.")
    dtype = obj.dtype
    if dtype.kind not in "biuf" or dtype.fields is not None:
        raise FileFormatError(f"{label}: {what} has dtype {dtype}, not numbers.")
    if obj.shape is None:
        raise FileFormatError(f"{label}: {what} is an empty (null) dataset.")
    shape = tuple(int(d) for d in obj.shape)
    if element_count(shape) > MAX_PARAMETERS:
        raise UnsafeFileError(
            f"{label}: {what} declares {element_count(shape):,} elements, more than hookfit's bound "
            f"of {MAX_PARAMETERS:,}; nothing was read."
        )

    def read():
        try:
            array = np.asarray(obj[()])
        except _H5_ERRORS as e:
            raise FileFormatError(f"{label}: {what} cannot be read (corrupted?): {e}.") from None
        checksum.verify(array, obj.attrs.get(checksum.ATTRIBUTE), what, label)
        return array

    return StoredArray(shape, read)


def read_dataset(group, name: str, label: str, expected_shape=None, *, what=None) -> np.ndarray:
    """The dataset ``name``, checked as ``stored_dataset`` does and against
    ``expected_shape`` before its data is read."""
    stored = stored_dataset(group, name, label, what=what)
    if expected_shape is not None and stored.shape != tuple(expected_shape):
        raise FileFormatError(
            f"{label}: {what or _join(group, name)!r} has shape {stored.shape}; expected "
            f"{tuple(expected_shape)}."
        )
    return stored.read()


def read_string_attribute(obj, name: str, label: str, *, required: bool = True):
    """A text attribute (bytes or str in the file) as ``str``."""
    if name not in obj.attrs:
        if required:
            raise FileFormatError(f"{label} has no {name!r} attribute.")
        return None
    value = obj.attrs[name]
    if isinstance(value, np.ndarray) and value.shape == ():
        value = value[()]
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, str):
        return value
    raise FileFormatError(f"{label}: attribute {name!r} is not text.")


def read_name_list(obj, name: str, label: str) -> list[str]:
    """A list-of-names attribute as Keras 2 stores it (possibly split into
    ``name0``, ``name1``, ... chunks)."""
    if name in obj.attrs:
        values = [obj.attrs[name]]
    else:
        values, chunk = [], 0
        while f"{name}{chunk}" in obj.attrs:
            values.append(obj.attrs[f"{name}{chunk}"])
            chunk += 1
    names = []
    for value in values:
        for item in np.atleast_1d(np.asarray(value)):
            if isinstance(item, (bytes, np.bytes_)):
                item = bytes(item).decode("utf-8", errors="replace")
            if not isinstance(item, (str, np.str_)):
                raise FileFormatError(f"{label}: attribute {name!r} does not hold names.")
            names.append(str(item))
    return names


def _join(group, name: str) -> str:
    return (group.name.rstrip("/") + "/" + name).lstrip("/")
