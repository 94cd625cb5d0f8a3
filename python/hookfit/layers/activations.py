"""Activation names understood by Dense, mapped to the core's codes."""

from __future__ import annotations

from hookfit._native import core

_CODES = {
    None: core.ACT_LINEAR,
    "linear": core.ACT_LINEAR,
    "relu": core.ACT_RELU,
    "sigmoid": core.ACT_SIGMOID,
    "tanh": core.ACT_TANH,
    "softmax": core.ACT_SOFTMAX,
}


def resolve(activation) -> tuple[int, str]:
    """(core code, name) of an activation given by name (or None = linear)."""
    if activation is None or isinstance(activation, str):
        code = _CODES.get(activation)
        if code is not None:
            return code, activation or "linear"
        raise ValueError(
            f"Unknown activation {activation!r}; known: {sorted(k for k in _CODES if k)}"
        )
    name = getattr(activation, "__name__", None)
    if isinstance(name, str) and name in _CODES:  # e.g. a function named relu from another library
        return _CODES[name], name
    raise TypeError(
        f"activation must be one of {sorted(k for k in _CODES if k)} (a string) or None; got "
        f"{type(activation).__name__} {activation!r}. Custom activations are not supported: "
        "the forward and backward passes run in the compiled core"
    )
