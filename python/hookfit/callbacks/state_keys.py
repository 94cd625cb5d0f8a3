"""Stable keys for callback states, so a backup can be matched to another list.

A callback's key is its ``name`` attribute when it has one (a non-empty
string the user chose), else its class name and its order among the
callbacks of that class: ``"EarlyStopping"``, ``"EarlyStopping#2"``. Moving
a callback, adding or removing callbacks of other classes keeps every key.
"""

from __future__ import annotations

from typing import Iterable


def callback_keys(callbacks: Iterable[object], skip: type | None = None) -> list[str | None]:
    """One key per callback (``None`` for instances of ``skip``)."""
    keys: list[str | None] = []
    seen: dict[str, int] = {}
    for cb in callbacks:
        if skip is not None and isinstance(cb, skip):
            keys.append(None)
            continue
        name = getattr(cb, "name", None)
        if isinstance(name, str) and name:
            keys.append(name)
            continue
        cls = type(cb).__qualname__
        seen[cls] = seen.get(cls, 0) + 1
        keys.append(cls if seen[cls] == 1 else f"{cls}#{seen[cls]}")
    duplicates = {k for k in keys if k is not None and keys.count(k) > 1}
    if duplicates:
        raise ValueError(
            f"Several callbacks share the name {sorted(duplicates)[0]!r}; give each callback "
            "that keeps state a different `name` so a backup can tell them apart."
        )
    return keys
