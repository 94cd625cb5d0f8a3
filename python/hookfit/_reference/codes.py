"""Enum codes and error classes of the NumPy twin.

The codes are the compiled core's, which takes them from the C headers: one
place for every value. The error classes are the ones the compiled core
raises, so callers and tests catch either implementation alike."""

from __future__ import annotations

import numpy as np

from hookfit._core import (  # noqa: F401  (re-exported)
    ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX,
    ACT_ELU, ACT_SELU, ACT_GELU, ACT_SOFTPLUS, ACT_SOFTSIGN, ACT_SWISH, ACT_SILU,
    ACT_LEAKY_RELU, ACT_EXPONENTIAL, ACT_HARD_SIGMOID, N_ACTIVATIONS,
    NODE_INPUT, NODE_DENSE, NODE_ACTIVATION, NODE_DROPOUT, NODE_BATCHNORM, NODE_NORMALIZATION,
    NODE_ADD, NODE_CONCATENATE, N_NODE_KINDS,
    LOSS_MSE, LOSS_MAE, LOSS_BCE, LOSS_CCE, LOSS_SCCE,
    METRIC_MSE, METRIC_MAE, METRIC_BCE, METRIC_CCE, METRIC_SCCE,
    METRIC_BINARY_ACCURACY, METRIC_CATEGORICAL_ACCURACY, METRIC_SPARSE_CATEGORICAL_ACCURACY,
    OPT_SGD, OPT_RMSPROP, OPT_ADAM,
)
from hookfit.errors import (  # noqa: F401  (the compiled core's classes)
    BusyError, CoreError, DtypeError, KindError, LabelError, NonFiniteError, PositionError,
    ShapeError, StateError, WorkspaceError,
)

N_LOSSES, N_METRICS, N_OPTIMIZERS = 5, 8, 3
_N_SLOTS = {OPT_SGD: 1, OPT_RMSPROP: 3, OPT_ADAM: 3}

# Keras's backend epsilon, used for clipping probabilities.
EPSILON = 1e-7

f32 = np.float32
