"""Metric constructors refuse sizes that are not integers in range (found by
the fuzzer: num_thresholds=inf or 2**63 escaped as a bare OverflowError, and
num_thresholds=2**31 tried to allocate gigabytes of state)."""

import math

import pytest

import hookfit as keras


@pytest.mark.parametrize("make, error, message", [
    (lambda: keras.metrics.AUC(num_thresholds=math.inf), TypeError, "num_thresholds must be an integer"),
    (lambda: keras.metrics.AUC(num_thresholds=2**31), ValueError, r"num_thresholds must be an integer in \[2, "),
    (lambda: keras.metrics.AUC(num_thresholds=1), ValueError, "num_thresholds"),
    (lambda: keras.metrics.PrecisionAtRecall(0.5, num_thresholds=2**63), ValueError, "num_thresholds"),
    (lambda: keras.metrics.TopKCategoricalAccuracy(k=2**63), ValueError, r"k must be an integer in \[1, "),
    (lambda: keras.metrics.SparseTopKCategoricalAccuracy(k=0), ValueError, "k must be"),
    (lambda: keras.metrics.TopKCategoricalAccuracy(k=1.5), TypeError, "k must be an integer"),
    (lambda: keras.metrics.Precision(top_k=math.nan), TypeError, "top_k must be an integer"),
    (lambda: keras.metrics.Recall(top_k=-1), ValueError, "top_k"),
])
def test_sizes_must_be_integers_in_range(make, error, message):
    with pytest.raises(error, match=message):
        make()


def test_good_sizes_still_work():
    assert keras.metrics.AUC(num_thresholds=3).num_thresholds == 3
    assert keras.metrics.PrecisionAtRecall(0.5, num_thresholds=1) is not None
    keras.metrics.TopKCategoricalAccuracy(k=2)
    keras.metrics.Precision(top_k=2)
