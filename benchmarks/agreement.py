"""Do the hand-written NumPy loop and hookfit compute the same thing?

The NumPy peer claims "the same formulas"; this checks it, so that the
speed-up is between equal computations. Both models start from the same
weights and train 3 epochs without shuffling (batch 128); the weights and
the last epoch's logs must agree to float32 rounding (the two sum in
different orders). Run by ``run.py`` (also in smoke mode); a few ms.
"""

from __future__ import annotations

import cases as case_table
import data
import hand_numpy
import numpy as np
from keras_shaped import build_model

EPOCHS = 3
# Relative to the largest weight: float32 sums in a different order (and
# RMSprop's division by sqrt(v + eps), which amplifies tiny differences of
# g in early steps) stay well below this; a wrong formula does not.
TOLERANCE = 1e-4


def check(keras, model_name: str) -> dict:
    """Train both on the case's data; returns the largest relative
    differences of the weights and of the final loss."""
    case = case_table.BY_NAME["fit_mlp" if model_name == "mlp" else "fit_b128"]
    x, y = data.for_case(case)
    hand = hand_numpy.build(case.model, case.input_dim)
    model = build_model(keras, case)
    model.set_weights([a.copy() for pair in hand.weights for a in pair])
    hist = model.fit(x, y, batch_size=128, epochs=EPOCHS, verbose=0, shuffle=False).history
    logs = hand.fit(x, y, batch_size=128, epochs=EPOCHS, shuffle=False)[-1]
    theirs = [a for pair in hand.weights for a in pair]
    ours = model.get_weights()
    scale = max(float(np.abs(a).max()) for a in theirs) or 1.0
    dw = max(float(np.abs(a - b).max()) for a, b in zip(ours, theirs)) / scale
    dloss = abs(hist["loss"][-1] - logs["loss"]) / max(abs(logs["loss"]), 1e-12)
    return {"model": model_name, "max_rel_weight_diff": dw, "rel_loss_diff": dloss,
            "agree": dw <= TOLERANCE and dloss <= TOLERANCE}


def check_all() -> list[dict]:
    import hookfit as keras

    return [check(keras, name) for name in ("tutorial", "mlp")]
