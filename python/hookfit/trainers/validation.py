"""When ``fit`` validates (``validation_freq``) and how many batches a
test run takes: shared by the per-epoch loop, the back-to-back epochs and
the loop over batch sources."""

from __future__ import annotations

import numbers

from hookfit.utils.arguments import is_integer


def should_eval(epoch: int, validation_freq) -> bool:
    if isinstance(validation_freq, numbers.Integral):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def validates_before(epochs: int, epoch: int, validation_freq) -> bool:
    """Whether some epoch from ``epoch`` to ``epochs - 1`` validates."""
    if isinstance(validation_freq, numbers.Integral):
        every = int(validation_freq)
        return epochs // every > epoch // every
    return any(epoch < e <= epochs for e in validation_freq)


def check_validation_freq(validation_freq):
    if isinstance(validation_freq, bool):
        raise ValueError(f"validation_freq must be an int or a list of ints; got {validation_freq!r}")
    if is_integer(validation_freq):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1; got {validation_freq}")
        return int(validation_freq)
    if isinstance(validation_freq, (list, tuple, set)) and all(
        is_integer(v) for v in validation_freq
    ):
        return frozenset(int(v) for v in validation_freq)
    raise ValueError(
        f"validation_freq should be an integer or a list of epoch numbers (1-based); "
        f"got {validation_freq!r}"
    )


def test_batch_count(n_rows: int, batch_size: int, steps) -> int:
    """Batches a test run takes: one pass, or ``steps`` if fewer."""
    n_batches = -(-n_rows // batch_size)
    return steps if steps is not None and steps < n_batches else n_batches
