"""In-process implementation "numpy": the hand-written NumPy loop
(``hand_numpy.py``). Always available; it runs in the same rounds as hookfit,
so the hookfit/NumPy ratio is measured under the same machine load."""

from __future__ import annotations

import data
import hand_numpy
import numpy as np
from keras_shaped import workload
from peer_protocol import Declined

NAME = "numpy"


def setup():
    def make(case):
        if case.keras_only:
            raise Declined("a hand-written loop has no callbacks or schedule objects")
        x, y = data.for_case(case)
        return workload(case, hand_numpy.build(case.model, case.input_dim), x, y, keras_kwargs=False)

    return {"numpy": np.__version__}, make
