"""hookfit.initializers: Keras's formulas, shapes, seeds, names and configs.

The same seed cannot give the same numbers as Keras (hookfit draws from
NumPy's PCG64; Keras from JAX's threefry or TensorFlow's Philox), so the
comparisons with Keras 3 are of the distributions: bounds, moments and
structure (orthogonality, identity), on large draws.
"""

import numpy as np
import pytest

import hookfit as keras
from hookfit import initializers

SHAPE = (400, 300)  # fan_in 400, fan_out 300
FAN_AVG = 350.0

# (name, expected stddev, uniform limit or None, truncated at 2 stddev-before-scaling?)
VARIANCE_SCALING = [
    ("glorot_uniform", np.sqrt(1.0 / FAN_AVG), np.sqrt(3.0 / FAN_AVG)),
    ("he_uniform", np.sqrt(2.0 / 400), np.sqrt(6.0 / 400)),
    ("lecun_uniform", np.sqrt(1.0 / 400), np.sqrt(3.0 / 400)),
    ("glorot_normal", np.sqrt(1.0 / FAN_AVG), None),
    ("he_normal", np.sqrt(2.0 / 400), None),
    ("lecun_normal", np.sqrt(1.0 / 400), None),
]


@pytest.mark.parametrize("name, stddev, limit", VARIANCE_SCALING)
def test_variance_scaling_moments_and_bounds(name, stddev, limit):
    values = initializers.get(name)(SHAPE)
    assert values.shape == SHAPE and values.dtype == np.float32
    assert abs(values.mean()) < 0.05 * stddev * 10
    assert values.std() == pytest.approx(stddev, rel=0.02)
    if limit is not None:
        assert np.abs(values).max() <= limit
        assert np.abs(values).max() > 0.99 * limit
    else:
        # Truncated at two stddevs of the untruncated normal, whose stddev is
        # stddev / 0.8796... so that the truncated one has the target stddev.
        bound = 2 * stddev / 0.87962566103423978
        assert np.abs(values).max() <= bound
        assert np.abs(values).max() > 0.98 * bound


def test_fans_follow_keras():
    assert initializers.compute_fans(()) == (1, 1)
    assert initializers.compute_fans((7,)) == (7, 7)
    assert initializers.compute_fans((3, 5)) == (3, 5)
    assert initializers.compute_fans((2, 3, 4, 5)) == (24, 30)


def test_random_normal_uniform_truncated():
    n = initializers.RandomNormal(mean=1.0, stddev=0.5, seed=3)((200, 200))
    assert n.mean() == pytest.approx(1.0, abs=0.01) and n.std() == pytest.approx(0.5, rel=0.02)
    u = initializers.RandomUniform(minval=-2.0, maxval=1.0, seed=3)((200, 200))
    assert u.min() >= -2.0 and u.max() < 1.0 and u.mean() == pytest.approx(-0.5, abs=0.02)
    t = initializers.TruncatedNormal(mean=0.5, stddev=0.1, seed=3)((200, 200))
    assert np.all(np.abs(t - 0.5) <= 0.2)
    # Truncating a unit normal at +-2 leaves a stddev of 0.8796.
    assert t.std() == pytest.approx(0.1 * 0.87962566103423978, rel=0.02)
    # Keras 2's defaults.
    assert initializers.RandomNormal().get_config() == {"mean": 0.0, "stddev": 0.05, "seed": None}
    assert initializers.RandomUniform().get_config() == {"minval": -0.05, "maxval": 0.05, "seed": None}


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4), (2, 3, 6)])
def test_orthogonal(shape):
    q = initializers.Orthogonal(gain=2.0, seed=1)(shape)
    assert q.shape == shape
    flat = q.reshape(-1, shape[-1]).astype(np.float64)
    rows, cols = flat.shape
    gram = flat.T @ flat if rows >= cols else flat @ flat.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)


def test_orthogonal_sign_fix_makes_r_diagonal_positive():
    # Q from the QR of the same normal draws, columns flipped by sign(diag(R)):
    # then Q.T @ A (= R after the flip) has a positive diagonal.
    q = initializers.Orthogonal(seed=5)((6, 4)).astype(np.float64)
    a = np.random.default_rng(5).normal(size=(6, 4))
    assert np.all(np.diag(q.T @ a) > 0)


def test_identity_constant_zeros_ones():
    np.testing.assert_array_equal(initializers.Identity(gain=3.0)((2, 3)), 3.0 * np.eye(2, 3))
    np.testing.assert_array_equal(initializers.Constant(0.5)((2, 2)), np.full((2, 2), 0.5))
    np.testing.assert_array_equal(initializers.get("zeros")((3,)), np.zeros(3))
    np.testing.assert_array_equal(initializers.get("Ones")((3,)), np.ones(3))
    with pytest.raises(ValueError, match="2D matrices"):
        initializers.Identity()((2, 2, 2))
    with pytest.raises(ValueError, match="at least two-dimensional"):
        initializers.Orthogonal()((4,))


def test_seeded_initializer_repeats_and_unseeded_follows_set_random_seed():
    init = initializers.GlorotUniform(seed=42)
    np.testing.assert_array_equal(init((5, 4)), init((5, 4)))
    np.testing.assert_array_equal(init((5, 4)), initializers.GlorotUniform(seed=42)((5, 4)))
    assert not np.array_equal(init((5, 4)), initializers.GlorotUniform(seed=43)((5, 4)))
    keras.utils.set_random_seed(7)
    a = initializers.HeNormal()((5, 4))
    keras.utils.set_random_seed(7)
    b = initializers.HeNormal()((5, 4))
    np.testing.assert_array_equal(a, b)


def test_names_get_serialize_round_trip():
    for name in initializers.SNAKE_NAMES:
        init = initializers.get(name)
        config = initializers.serialize(init)
        again = initializers.deserialize(config)
        assert type(again) is type(init) and again.get_config() == init.get_config()
    assert isinstance(initializers.get("normal"), initializers.RandomNormal)
    assert isinstance(initializers.get({"class_name": "VarianceScaling", "config": {"scale": 2.0}}),
                      initializers.VarianceScaling)
    assert initializers.get(None) is None
    assert isinstance(initializers.glorot_uniform(), initializers.GlorotUniform)
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'.*glorot_uniform"):
        initializers.get("glorot")
    with pytest.raises(ValueError, match="Could not interpret"):
        initializers.get(3)
    with pytest.raises(ValueError, match="scale"):
        initializers.VarianceScaling(scale=0)


def test_usable_as_kernel_initializer():
    layer = keras.layers.Dense(4, kernel_initializer=initializers.Identity(gain=2.0),
                               bias_initializer=initializers.Constant(0.25))
    model = keras.Sequential([keras.layers.Dense(4, input_dim=4, kernel_initializer=initializers.Identity(2.0),
                                                 bias_initializer=initializers.Constant(0.25))])
    kernel, bias = model.get_weights()
    np.testing.assert_array_equal(kernel, 2.0 * np.eye(4))
    np.testing.assert_array_equal(bias, np.full(4, 0.25))
    for init in ("orthogonal", "he_normal", initializers.RandomUniform(seed=1),
                 {"class_name": "TruncatedNormal", "config": {"stddev": 0.1}},
                 lambda shape, dtype=None: np.full(shape, 0.5)):
        m = keras.Sequential([keras.layers.Dense(3, input_dim=5, kernel_initializer=init)])
        assert m.get_weights()[0].shape == (5, 3)
    assert layer.units == 4


def test_default_draws_unchanged_by_the_move():
    # The Dense default (glorot_uniform from hookfit's stream) still draws
    # uniform(-limit, limit) first thing after set_random_seed.
    keras.utils.set_random_seed(11)
    kernel = keras.Sequential([keras.layers.Dense(3, input_dim=5)]).get_weights()[0]
    limit = np.sqrt(6.0 / 8)
    expected = np.random.default_rng(11).uniform(-limit, limit, size=(5, 3)).astype(np.float32)
    np.testing.assert_array_equal(kernel, expected)


# -- against Keras 3 ----------------------------------------------------------------

@pytest.fixture
def k3(keras3):
    return keras3


@pytest.mark.parametrize("name", [
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform",
    "lecun_normal", "random_normal", "random_uniform", "truncated_normal",
])
def test_distribution_matches_keras3(k3, name):
    # Different generators: compare moments and bounds of large draws.
    keras.utils.set_random_seed(0)
    ours = initializers.get(name)(SHAPE).astype(np.float64)
    theirs = np.asarray(k3.initializers.get(name)(SHAPE), dtype=np.float64)
    assert ours.std() == pytest.approx(theirs.std(), rel=0.03)
    assert abs(ours.mean() - theirs.mean()) < 0.1 * theirs.std()
    if name == "random_normal":  # unbounded: compare the tail mass beyond 2 stddevs
        tail = lambda v: np.mean(np.abs(v) > 2 * 0.05)  # noqa: E731
        assert tail(ours) == pytest.approx(tail(theirs), abs=0.004)
    else:  # bounded (uniform limit or truncation): 120000 draws reach the bound
        assert np.abs(ours).max() == pytest.approx(np.abs(theirs).max(), rel=0.01)
    # Keras 2's config keys, all known to Keras 3 (newer Keras 3 adds
    # input_axes/output_axes to the variance-scaling ones).
    ours_cfg = initializers.get(name).get_config()
    theirs_cfg = k3.initializers.get(name).get_config()
    assert set(ours_cfg) <= set(theirs_cfg)
    assert type(k3.initializers.get(initializers.serialize(name))).__name__ == type(initializers.get(name)).__name__


def test_orthogonal_and_identity_match_keras3(k3):
    theirs = np.asarray(k3.initializers.Orthogonal(gain=1.5, seed=1)((7, 3)))
    ours = initializers.Orthogonal(gain=1.5, seed=1)((7, 3))
    np.testing.assert_allclose(ours.T @ ours, theirs.T @ theirs, atol=1e-5)
    np.testing.assert_allclose(initializers.Identity(2.0)((3, 4)),
                               np.asarray(k3.initializers.Identity(2.0)((3, 4))))


def test_reads_keras3_configs(k3):
    for name in initializers.SNAKE_NAMES:
        if name == "constant":
            theirs = k3.initializers.Constant(0.5)
        else:
            theirs = k3.initializers.get(name)
        ours = initializers.deserialize(k3.initializers.serialize(theirs))
        assert type(ours).__name__ == type(theirs).__name__
    with pytest.raises(ValueError, match="input_axes"):
        initializers.deserialize({"class_name": "GlorotUniform", "config": {"input_axes": [0]}})


def test_initializer_configs_survive_keras_files(tmp_path, k3):
    pytest.importorskip("h5py")
    model = keras.Sequential([
        keras.layers.Dense(3, input_dim=4, kernel_initializer=initializers.RandomNormal(stddev=0.2, seed=4),
                           bias_initializer=initializers.Constant(0.5)),
        keras.layers.Dense(2, kernel_initializer="orthogonal"),
    ])
    model.compile("sgd", "mse")
    path = str(tmp_path / "m.keras")
    model.save(path)
    theirs = k3.models.load_model(path)
    init = theirs.layers[0].kernel_initializer
    assert type(init).__name__ == "RandomNormal" and init.stddev == 0.2 and init.seed == 4
    assert float(theirs.layers[0].bias_initializer.value) == 0.5
    ours = keras.models.load_model(path)
    first = ours.layers[0]
    assert first.kernel_initializer.get_config() == {"mean": 0.0, "stddev": 0.2, "seed": 4}
    assert ours.layers[1].kernel_initializer == "orthogonal"  # default configs stay names
