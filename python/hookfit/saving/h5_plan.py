"""HDF5 files described first, then built: by h5py, or from a stored layout.

A checkpoint saved every N batches writes the same groups, attributes and
dataset shapes each time; only the arrays and their checksums change. h5py
takes about a millisecond to build even a tiny file, several times the
training steps between two such saves. So writers describe the file as a
``Plan`` (groups, attributes and datasets, in order). The first time a
layout is written, h5py builds it. The second time, the file is also built
once more with placeholder checksums, and taken apart into its fixed bytes,
its data regions and its checksum slots; that ``Layout`` is kept only if,
filled with the real arrays, it gives exactly h5py's bytes. From then on a
file with that layout is its fixed bytes with the arrays and checksums put
in, with no HDF5 call.
"""

from __future__ import annotations

import collections
import io
import random
import struct
import threading

import numpy as np

from hookfit.saving import checksum

_UINT32 = struct.Struct("<I")
_MAX_LAYOUTS = 8  # layouts kept per process (a run saves one or two kinds of file)


class _NotReusable(Exception):
    """The plan holds something the stored layouts do not handle."""


class Plan:
    """What a writer puts in one HDF5 file, in order. ``root`` takes
    ``create_group(name)``, ``attrs[name] = value`` and
    ``put_dataset(name, array)``, as an ``h5py`` group would."""

    def __init__(self):
        self.steps: list = []  # ("group", path) | ("attr", path, name, value) | ("dataset", path, array)
        self.root = PlanGroup(self, "/")

    @property
    def arrays(self) -> list[np.ndarray]:
        """The datasets' arrays, in order."""
        return [step[2] for step in self.steps if step[0] == "dataset"]

    def key(self):
        """Everything but the arrays' values (None if not reusable)."""
        try:
            return tuple(_frozen(step) for step in self.steps)
        except _NotReusable:
            return None

    def build_with_h5py(self, h5py, crcs=None) -> tuple[bytes, list]:
        """The file's bytes, and each dataset's ``(offset, size)`` in them."""
        buffer = io.BytesIO()
        regions: list[tuple] = []
        with h5py.File(buffer, "w") as f:
            for step in self.steps:
                kind, path = step[0], step[1]
                if kind == "group":
                    f.create_group(path)
                elif kind == "attr":
                    f[path].attrs[step[2]] = step[3]
                else:
                    array = step[2]
                    crc = checksum.crc32(array) if crcs is None else crcs[len(regions)]
                    dataset = f.create_dataset(path, data=array)
                    dataset.attrs[checksum.ATTRIBUTE] = np.uint32(crc)
                    regions.append((dataset.id.get_offset(), dataset.id.get_storage_size()))
        return buffer.getvalue(), regions


class PlanGroup:
    def __init__(self, plan: Plan, path: str):
        self._plan = plan
        self._path = path
        self.attrs = _PlanAttributes(plan, path)

    def _child(self, name: str) -> str:
        return self._path + name if self._path.endswith("/") else f"{self._path}/{name}"

    def create_group(self, name: str) -> PlanGroup:
        path = self._child(name)
        self._plan.steps.append(("group", path))
        return PlanGroup(self._plan, path)

    def put_dataset(self, name: str, array) -> None:
        """A dataset with its checksum attribute (which Keras ignores)."""
        self._plan.steps.append(("dataset", self._child(name), np.asarray(array)))


class _PlanAttributes:
    def __init__(self, plan: Plan, path: str):
        self._plan = plan
        self._path = path

    def __setitem__(self, name: str, value) -> None:
        self._plan.steps.append(("attr", self._path, name, value))


def _frozen(step):
    if step[0] == "group":
        return step
    if step[0] == "dataset":
        array = step[2]
        if array.dtype.byteorder == ">" or array.dtype.hasobject or array.dtype.kind not in "fiub":
            raise _NotReusable
        return ("dataset", step[1], array.shape, array.dtype.str)
    value = step[3]
    if isinstance(value, (str, bytes)):
        frozen = value
    elif isinstance(value, (np.ndarray, np.generic)):
        frozen = (value.dtype.str, np.shape(value), np.asarray(value).tobytes())
    else:
        raise _NotReusable
    return ("attr", step[1], step[2], type(value).__name__, frozen)


class Layout:
    """A file's bytes with holes: ``fixed[0] slot[0] fixed[1] slot[1] ...``,
    where a slot is ``("data", i)`` (dataset ``i``'s bytes) or ``("crc", i)``
    (its checksum, little-endian uint32)."""

    def __init__(self, fixed: list[bytes], slots: list[tuple[str, int]]):
        self.fixed = fixed
        self.slots = slots

    def fill(self, arrays) -> bytes:
        contiguous = [np.ascontiguousarray(a) for a in arrays]
        parts: list[bytes | memoryview] = [self.fixed[0]]
        for (kind, i), tail in zip(self.slots, self.fixed[1:]):
            array = contiguous[i]
            if kind == "data":  # only datasets with bytes have a data slot
                parts.append(array.reshape(-1).view(np.uint8).data)
            else:
                parts.append(_UINT32.pack(checksum.crc32(array)))
            parts.append(tail)
        return b"".join(parts)


def find_layout(plan: Plan, h5py, real: bytes, regions: list) -> Layout | None:
    """The layout of ``real`` (h5py's bytes for ``plan``), or None when it
    cannot be taken apart safely."""
    arrays = plan.arrays
    # Each dataset stored whole in one place (its bytes there are checked by
    # the final comparison with h5py's file).
    if any(size != array.nbytes or (size and offset is None) for (offset, size), array in zip(regions, arrays)):
        return None
    # Placeholder checksums, each findable exactly once outside the data.
    rng = random.Random(len(real))
    for _attempt in range(3):
        marks = [rng.randrange(1 << 24, 1 << 32) | 0x01010101 for _ in arrays]
        marked, marked_regions = plan.build_with_h5py(h5py, crcs=marks)
        if len(marked) != len(real) or marked_regions != regions:
            return None
        metadata = bytearray(marked)
        for offset, size in regions:
            if size:
                metadata[offset:offset + size] = bytes(size)  # marks have no zero byte
        slots = [(offset, size, ("data", i)) for i, (offset, size) in enumerate(regions) if size]
        for i, mark in enumerate(marks):
            needle = _UINT32.pack(mark)
            at = metadata.find(needle)
            if at < 0 or metadata.find(needle, at + 1) >= 0:
                break
            slots.append((at, 4, ("crc", i)))
        else:
            layout = _cut(real, slots)
            return layout if layout is not None and layout.fill(arrays) == real else None
    return None


def _cut(data: bytes, slots) -> Layout | None:
    slots.sort()
    fixed, kinds, position = [], [], 0
    for offset, size, slot in slots:
        if offset < position:
            return None  # overlapping holes
        fixed.append(data[position:offset])
        kinds.append(slot)
        position = offset + size
    fixed.append(data[position:])
    return Layout(fixed, kinds)


class LayoutCache:
    """Layouts by plan key: a key seen once is remembered; its second file
    finds the layout (or learns that it has none); later ones use it."""

    def __init__(self, capacity: int = _MAX_LAYOUTS):
        self._capacity = capacity
        self._entries: collections.OrderedDict = collections.OrderedDict()
        self._lock = threading.Lock()  # saves from several threads share the cache

    def file_bytes(self, plan: Plan, h5py) -> bytes:
        key = plan.key()
        if key is None:
            return plan.build_with_h5py(h5py)[0]
        with self._lock:
            entry = self._entries.get(key, _MISSING)
        if isinstance(entry, Layout):
            self._remember(key, entry)
            return entry.fill(plan.arrays)
        real, regions = plan.build_with_h5py(h5py)
        if entry is _MISSING:
            self._remember(key, None)  # seen once: a one-off save costs one build
        elif entry is None:
            self._remember(key, find_layout(plan, h5py, real, regions) or _NO_LAYOUT)
        return real

    def layout(self, plan: Plan) -> Layout | None:
        """The layout known for ``plan``'s key (after two files), or None."""
        key = plan.key()
        with self._lock:
            entry = self._entries.get(key)
        return entry if isinstance(entry, Layout) else None

    def _remember(self, key, entry) -> None:
        with self._lock:
            entries = self._entries
            entries[key] = entry
            entries.move_to_end(key)
            while len(entries) > self._capacity:
                entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_MISSING = object()
_NO_LAYOUT = object()  # tried: this layout cannot be reused (h5py builds every file)
