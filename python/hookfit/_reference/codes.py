"""Enum codes and error classes of the NumPy twin.

The codes are the compiled core's, which takes them from the C headers: one
place for every value. The error classes are the ones the compiled core
raises, so callers and tests catch either implementation alike."""

from __future__ import annotations

import numpy as np

from hookfit._core import (  # noqa: F401  (re-exported)
    ACT_LINEAR, ACT_RELU, ACT_SIGMOID, ACT_TANH, ACT_SOFTMAX,
    LOSS_MSE, LOSS_MAE, LOSS_BCE, LOSS_CCE, LOSS_SCCE,
    METRIC_MSE, METRIC_MAE, METRIC_BCE, METRIC_CCE, METRIC_SCCE,
    METRIC_BINARY_ACCURACY, METRIC_CATEGORICAL_ACCURACY, METRIC_SPARSE_CATEGORICAL_ACCURACY,
    OPT_SGD, OPT_RMSPROP, OPT_ADAM,
    LOSS_HUBER, LOSS_LOG_COSH, LOSS_HINGE, LOSS_SQUARED_HINGE, LOSS_CATEGORICAL_HINGE, LOSS_KLD,
    LOSS_POISSON, LOSS_MAPE, LOSS_MSLE, LOSS_COSINE,
    METRIC_TOP_K_CATEGORICAL_ACCURACY, METRIC_SPARSE_TOP_K_CATEGORICAL_ACCURACY,
    METRIC_ROOT_MEAN_SQUARED_ERROR, METRIC_LOSS, METRIC_COSINE_SIMILARITY, METRIC_TRUE_POSITIVES,
    METRIC_FALSE_POSITIVES, METRIC_TRUE_NEGATIVES, METRIC_FALSE_NEGATIVES, METRIC_PRECISION,
    METRIC_RECALL, METRIC_AUC, METRIC_PRECISION_AT_RECALL, METRIC_RECALL_AT_PRECISION,
    METRIC_R2_SCORE, N_LOSS_KINDS, N_METRIC_KINDS,
    OPT_ADAGRAD, OPT_ADAMAX, OPT_ADADELTA, OPT_NADAM, OPT_FTRL, OPT_LION, _N_SLOTS,
)
from hookfit.errors import CoreError

N_ACTIVATIONS, N_LOSSES, N_METRICS, N_OPTIMIZERS = 5, N_LOSS_KINDS, N_METRIC_KINDS, len(_N_SLOTS)

# Keras's backend epsilon, used for clipping probabilities.
EPSILON = 1e-7

f32 = np.float32


class CoreValueError(CoreError, ValueError):
    pass


class CoreTypeError(CoreError, TypeError):
    pass


class CoreBusyError(CoreError, RuntimeError):
    pass
