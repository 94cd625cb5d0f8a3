"""The one error for Keras features hookfit does not have.

Every refusal says "hookfit does not support X" and lists what is supported,
so code written for Keras fails at the line that uses the missing feature
(never a bare AttributeError, nor a silently ignored setting). It is a
ValueError, and an AttributeError so that ``hasattr``/``getattr(..., None)``
keep working on modules that refuse names.
"""

from __future__ import annotations


class NotSupportedError(ValueError, AttributeError):
    """A Keras name, argument or value that hookfit does not implement."""


def unsupported(what: str, kind: str, supported) -> NotSupportedError:
    """The error for ``what``, listing the supported ``kind`` (e.g. "layers")."""
    listing = ", ".join(str(s) for s in supported) or "none"
    return NotSupportedError(f"hookfit does not support {what}; supported {kind}: {listing}")
