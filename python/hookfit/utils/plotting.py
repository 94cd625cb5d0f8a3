"""``plot_history``: one panel per metric, per epoch, with its ``val_`` twin.

Uses matplotlib (the optional extra ``hookfit[plot]``) through its
object-oriented API only (no pyplot state, no window), so it works headless.
"""

from __future__ import annotations

import io
import math
import os

import numpy as np

from hookfit.utils.atomic import atomic_write_bytes


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("Plotting needs matplotlib: pip install 'hookfit[plot]'.") from e
    return Figure


def plot_history(history, path=None, *, dpi=100):
    """Draw each metric of ``history`` against the epoch, with its ``val_``
    twin on the same panel; save a PNG to ``path`` if given (atomically).

    Args:
        history: a ``History`` (from ``fit``) or its ``.history`` dict.
        path: where to save the PNG, or None.
        dpi: resolution of the saved image.

    Returns:
        The matplotlib ``Figure``.

    >>> history = model.fit(x, y, validation_split=0.2, epochs=5)  # doctest: +SKIP
    >>> plot_history(history, "history.png")  # doctest: +SKIP
    """
    values = getattr(history, "history", history)
    if not isinstance(values, dict):
        raise TypeError(
            f"plot_history expects a History or its .history dict; got {type(history).__name__}."
        )
    if not values:
        raise ValueError("The history is empty: nothing to plot (did fit run any epoch?).")
    epochs = list(getattr(history, "epoch", []) or [])
    # Panels: every key that is not a val_ twin of another key.
    names = [k for k in values if not (k.startswith("val_") and k[4:] in values)]
    Figure = _figure_class()
    columns = min(len(names), 3)
    rows = math.ceil(len(names) / columns)
    figure = Figure(figsize=(4.5 * columns, 3.2 * rows), layout="constrained")
    for index, name in enumerate(names):
        axes = figure.add_subplot(rows, columns, index + 1)
        for key in (name, "val_" + name):
            series = values.get(key)
            if series is None:
                continue
            y = np.asarray(series, dtype=np.float64)
            x = np.asarray(epochs[: len(y)] if len(epochs) >= len(y) else range(len(y))) + 1
            axes.plot(x, y, marker="o", markersize=3, label=key)
        axes.set_title(name)
        axes.set_xlabel("epoch")
        axes.grid(True, alpha=0.3)
        axes.legend()
    if path is not None:
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", dpi=dpi)
        atomic_write_bytes(os.fspath(path), buffer.getvalue())
    return figure
