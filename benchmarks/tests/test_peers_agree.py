"""The NumPy peer computes what hookfit computes, so the comparison is fair."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import hand_numpy


@pytest.mark.parametrize("model", ["tutorial", "mlp"])
def test_hand_numpy_loop_matches_hookfit(model):
    pytest.importorskip("hookfit")
    import agreement
    import hookfit

    row = agreement.check(hookfit, model)
    assert row["agree"], row


def test_hand_numpy_rmsprop_is_keras_formula():
    # One step by hand: v = 0.9 v + 0.1 g^2, w -= lr g / sqrt(v + 1e-7).
    m = hand_numpy.HandModel(2, [1], ["linear"], lr=0.1, track_mae=False)
    m.weights[0][0][...] = [[1.0], [2.0]]
    x = np.array([[1.0, 1.0]], np.float32)
    y = np.array([[0.0]], np.float32)
    m.fit(x, y, batch_size=1, epochs=1, shuffle=False)
    g = 2.0 * 3.0 * np.array([1.0, 1.0])  # dL/dw of (w.x + b - y)^2 at w.x = 3
    expected = np.array([1.0, 2.0]) - 0.1 * g / np.sqrt(0.1 * g * g + 1e-7)
    np.testing.assert_allclose(m.weights[0][0][:, 0], expected, rtol=1e-6)
