"""Loss values and training against real Keras 3 (jax) on the same inputs.

Keras 2 (tf-keras) and Keras 3 differ in one place here: tf-keras's
binary_crossentropy on probabilities takes log(p + 1e-7) after clipping,
Keras 3 log(p); hookfit follows tf-keras (a ~1e-7 relative difference, inside
the tolerance). tf-keras also computes a crossentropy from the logits when
the prediction comes straight from a sigmoid/softmax layer; hookfit uses the
probabilities unless from_logits=True (the same numbers away from saturation)."""

import numpy as np
import pytest
from keras_oracle import assert_same_training, real_keras, train_both

import hookfit


def f32(a):
    return np.asarray(a, dtype=np.float32)


@pytest.fixture(scope="module")
def rk():
    return real_keras()


def data(rng, kind, n=24, k=3):
    if kind == "sparse":
        return f32(rng.integers(0, k, n)), f32(rng.normal(0, 2, (n, k)))
    if kind == "categorical":
        return f32(np.eye(k)[rng.integers(0, k, n)]), f32(rng.normal(0, 2, (n, k)))
    return f32(rng.integers(0, 2, (n, k))), f32(rng.normal(0, 2, (n, k)))


def probs(logits):
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return f32(e / e.sum(axis=1, keepdims=True))


CASES = [
    ("BinaryCrossentropy", "binary", dict(from_logits=True)),
    ("BinaryCrossentropy", "binary", dict(from_logits=True, label_smoothing=0.2)),
    ("BinaryCrossentropy", "binary", dict(label_smoothing=0.1)),
    ("CategoricalCrossentropy", "categorical", dict(from_logits=True)),
    ("CategoricalCrossentropy", "categorical", dict(from_logits=True, label_smoothing=0.3)),
    ("CategoricalCrossentropy", "categorical", dict(label_smoothing=0.1)),
    ("SparseCategoricalCrossentropy", "sparse", dict(from_logits=True)),
    ("SparseCategoricalCrossentropy", "sparse", dict()),
]


@pytest.mark.parametrize("cls,kind,kwargs", CASES)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_loss_objects_match_keras(rk, rng, cls, kind, kwargs, reduction):
    y, logits = data(rng, kind)
    pred = logits if kwargs.get("from_logits") else (
        probs(logits) if kind != "binary" else f32(1 / (1 + np.exp(-logits))))
    sw = f32(rng.uniform(0, 2, len(y)))
    ours = getattr(hookfit.losses, cls)(reduction=reduction, **kwargs)
    theirs = getattr(rk.losses, cls)(reduction=reduction, **kwargs)
    for weights in (None, sw):
        got = ours(y, pred, sample_weight=weights)
        expect = np.asarray(theirs(y, pred, sample_weight=weights))
        np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kind,kwargs", [
    ("binary_crossentropy", "binary", dict(from_logits=True, label_smoothing=0.1)),
    ("categorical_crossentropy", "categorical", dict(from_logits=True, label_smoothing=0.2)),
    ("sparse_categorical_crossentropy", "sparse", dict(from_logits=True)),
])
def test_loss_functions_match_keras(rk, rng, name, kind, kwargs):
    y, logits = data(rng, kind)
    got = getattr(hookfit.losses, name)(y, logits, **kwargs)
    expect = np.asarray(getattr(rk.losses, name)(y, logits, **kwargs))
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cls,kind,kwargs,last", [
    ("BinaryCrossentropy", "binary", dict(from_logits=True, label_smoothing=0.1), None),
    ("CategoricalCrossentropy", "categorical", dict(from_logits=True, label_smoothing=0.2), None),
    ("SparseCategoricalCrossentropy", "sparse", dict(from_logits=True), None),
    ("CategoricalCrossentropy", "categorical", dict(label_smoothing=0.1), "softmax"),
])
def test_training_with_logits_matches_keras(rng, cls, kind, kwargs, last):
    y, _ = data(rng, kind, n=40)
    x = f32(rng.normal(size=(40, 5)))
    k, h = train_both(
        [(6, "tanh"), (3, last)], x, y,
        loss=lambda m: getattr(m.losses, cls)(**kwargs),
        optimizer=lambda m: m.optimizers.SGD(learning_rate=0.1),
        sample_weight=f32(rng.uniform(0.5, 1.5, 40)),
    )
    assert_same_training(k, h)


def test_reduction_none_cannot_train():
    model = hookfit.Sequential([hookfit.layers.Dense(1, input_dim=2)])
    with pytest.raises(ValueError, match="reduction='none'"):
        model.compile(loss=hookfit.losses.MeanSquaredError(reduction="none"))
