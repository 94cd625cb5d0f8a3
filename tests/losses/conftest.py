import sys
from pathlib import Path

# tests/keras_oracle.py: real Keras 3 as the numeric oracle (shared by the numerics tests).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture
def rng():
    return np.random.default_rng(1234)
