"""The layers' view of ``hookfit.initializers`` (one implementation there)."""

from hookfit.initializers import check, draw, get, serialize

__all__ = ["check", "draw", "get", "serialize"]
