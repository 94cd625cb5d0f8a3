"""Exceptions raised by the compiled core (and by its NumPy twin).

Every error derives from ``CoreError`` and also from the builtin that fits
(``ValueError``, ``TypeError``, ``MemoryError`` or ``RuntimeError``), so
callers may catch either. Each message says which argument was wrong, what
was expected and what came.
"""

from __future__ import annotations


class CoreError(Exception):
    """Base of every error raised by hookfit's core."""


class ShapeError(CoreError, ValueError):
    """An array has the wrong rank, size, or row count."""


class DtypeError(CoreError, TypeError):
    """An argument has the wrong type or dtype (for example a complex array)."""


class NonFiniteError(CoreError, ValueError):
    """A NaN or infinity where a finite number is required."""


class LabelError(CoreError, ValueError):
    """A sparse class label outside [0, number of classes)."""


class PositionError(CoreError, ValueError):
    """A batch start/count, or an order value, outside its array."""


class KindError(CoreError, ValueError):
    """An unknown activation, loss, metric or optimizer id, or a bad setting."""


class WorkspaceError(CoreError, MemoryError):
    """The workspace for a batch could not be allocated."""


class BusyError(CoreError, RuntimeError):
    """A Network (or a Dataset's order) was used by two threads at once."""


class StateError(CoreError, RuntimeError):
    """A core object used before it was initialised (made by __new__ alone)."""


__all__ = [
    "BusyError",
    "CoreError",
    "DtypeError",
    "KindError",
    "LabelError",
    "NonFiniteError",
    "PositionError",
    "ShapeError",
    "StateError",
    "WorkspaceError",
]
