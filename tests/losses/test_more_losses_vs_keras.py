"""The losses of issue 11 by name and object against real Keras 3 (jax):
values (each reduction, with sample weights) and training steps.

Keras 2 and 3 share these formulas; one reading differs: tf-keras maps a
batch of {0, 1} hinge labels to {-1, 1} when all labels are 0 or 1, hookfit
reads a 0 label as -1 row by row (the same on every valid hinge batch)."""

import numpy as np
import pytest
from keras_oracle import assert_same_training, real_keras, train_both

import hookfit


def f32(a):
    return np.asarray(a, dtype=np.float32)


@pytest.fixture(scope="module")
def rk():
    return real_keras()


def sample(rng, cls, n=20, k=3):
    if cls in ("Hinge", "SquaredHinge"):
        return f32(rng.integers(0, 2, (n, k))), f32(rng.normal(size=(n, k)))
    if cls == "CategoricalHinge":
        return f32(np.eye(k)[rng.integers(0, k, n)]), f32(rng.normal(size=(n, k)))
    if cls == "KLDivergence":
        return f32(rng.dirichlet(np.ones(k), n)), f32(rng.dirichlet(np.ones(k), n))
    if cls in ("Poisson", "MeanSquaredLogarithmicError"):
        return f32(rng.uniform(0.1, 3, (n, k))), f32(rng.uniform(0.1, 3, (n, k)))
    return f32(rng.normal(size=(n, k))), f32(rng.normal(size=(n, k)))


CLASSES = [("Huber", {"delta": 0.6}), ("Huber", {}), ("LogCosh", {}), ("Hinge", {}), ("SquaredHinge", {}),
           ("CategoricalHinge", {}), ("KLDivergence", {}), ("Poisson", {}),
           ("MeanAbsolutePercentageError", {}), ("MeanSquaredLogarithmicError", {}),
           ("CosineSimilarity", {})]


@pytest.mark.parametrize("cls,kwargs", CLASSES)
@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum", "none"])
def test_loss_objects_match_keras(rk, rng, cls, kwargs, reduction):
    t, p = sample(rng, cls)
    sw = f32(rng.uniform(0, 2, len(t)))
    ours = getattr(hookfit.losses, cls)(reduction=reduction, **kwargs)
    theirs = getattr(rk.losses, cls)(reduction=reduction, **kwargs)
    for w in (None, sw):
        np.testing.assert_allclose(ours(t, p, sample_weight=w), np.asarray(theirs(t, p, sample_weight=w)),
                                   rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["huber", "log_cosh", "hinge", "squared_hinge", "categorical_hinge",
                                  "kl_divergence", "poisson", "mean_absolute_percentage_error",
                                  "mean_squared_logarithmic_error", "cosine_similarity"])
def test_loss_functions_match_keras(rk, rng, name):
    cls = {"huber": "Huber", "log_cosh": "LogCosh", "kl_divergence": "KLDivergence",
           "mean_absolute_percentage_error": "MeanAbsolutePercentageError",
           "mean_squared_logarithmic_error": "MeanSquaredLogarithmicError"}.get(
        name, "".join(w.title() for w in name.split("_")))
    t, p = sample(rng, cls)
    np.testing.assert_allclose(getattr(hookfit.losses, name)(t, p), np.asarray(getattr(rk.losses, name)(t, p)),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("loss,last,target", [
    ("huber", None, "real"), ("log_cosh", None, "real"), ("hinge", "tanh", "binary"),
    ("squared_hinge", None, "binary"), ("categorical_hinge", None, "onehot"),
    ("kl_divergence", "softmax", "dist"), ("poisson", "softplus_like", "positive"),
    ("mean_absolute_percentage_error", None, "real"), ("mean_squared_logarithmic_error", "relu", "positive"),
    ("cosine_similarity", None, "real"),
])
def test_training_matches_keras(rng, loss, last, target):
    n, k = 40, 3
    x = f32(rng.normal(size=(n, 4)))
    y = {"real": lambda: f32(rng.normal(size=(n, k)) + 2),
         "binary": lambda: f32(rng.integers(0, 2, (n, k))),
         "onehot": lambda: f32(np.eye(k)[rng.integers(0, k, n)]),
         "dist": lambda: f32(rng.dirichlet(np.ones(k), n)),
         "positive": lambda: f32(rng.uniform(0.5, 3, (n, k)))}[target]()
    act = "sigmoid" if last == "softplus_like" else last
    k_, h = train_both([(5, "tanh"), (k, act)], x, y, loss=lambda m: loss,
                       optimizer=lambda m: m.optimizers.SGD(learning_rate=0.001 if loss.startswith("mean_abs") else 0.05))
    assert_same_training(k_, h)


def test_loss_names_and_objects_compile_and_custom_losses_are_refused():
    model = hookfit.Sequential([hookfit.layers.Dense(2, input_dim=3)])
    for loss in ("huber", "logcosh", hookfit.losses.Huber(0.5), hookfit.losses.kld, "msle", "mape"):
        model.compile(loss=loss)
    with pytest.raises(TypeError, match="no automatic differentiation.*'huber'"):
        model.compile(loss=lambda t, p: (t - p) ** 2)
