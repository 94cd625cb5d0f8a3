"""Optimizer updates against Keras 2 formulas (spec §5.3-5.5)."""

from __future__ import annotations

import numpy as np
import pytest

from hookfit import _core as core

CASES = [
    (core.OPT_RMSPROP, {}),
    (core.OPT_RMSPROP, {"momentum": 0.9}),
    (core.OPT_RMSPROP, {"centered": True}),
    (core.OPT_RMSPROP, {"centered": True, "momentum": 0.5, "rho": 0.8, "epsilon": 1e-3}),
    (core.OPT_SGD, {}),
    (core.OPT_SGD, {"momentum": 0.9}),
    (core.OPT_SGD, {"momentum": 0.9, "nesterov": True}),
    (core.OPT_ADAM, {}),
    (core.OPT_ADAM, {"amsgrad": True}),
    (core.OPT_ADAM, {"beta_1": 0.5, "beta_2": 0.9, "epsilon": 1e-4}),
]


def slots_for(kind, n):
    return [np.zeros(n, np.float32) for _ in range(1 if kind == core.OPT_SGD else 3)]


def run(kind, hyper, n=37, steps=6, lr=0.01, seed=0):
    rng = np.random.default_rng(seed)
    params = rng.standard_normal(n).astype(np.float32)
    slots = slots_for(kind, n)
    grads = [rng.standard_normal(n).astype(np.float32) for _ in range(steps)]
    return params, slots, grads, lr


@pytest.mark.parametrize("kind,hyper", CASES)
def test_update_matches_keras_formula(ref, kind, hyper):
    params, slots, grads, lr = run(kind, hyper)
    oracle = ref.Opt(kind, len(params), **hyper)
    expect = params.astype(np.float64)
    for i, g in enumerate(grads):
        step_lr = lr * (1 + i)  # lr is an argument of every call
        core.optimizer_update(kind, params, g, slots, step_lr, i, **hyper)
        expect = oracle.step(expect, g, step_lr)
        np.testing.assert_allclose(params, expect, rtol=2e-5, atol=2e-6)


def test_rmsprop_first_step_is_3_162_lr():
    """Golden value: v0 = 0, so |delta| = lr / sqrt(0.1) when g^2 >> eps."""
    params = np.zeros(5, np.float32)
    g = np.array([1.0, -2.0, 10.0, 0.5, -100.0], np.float32)
    slots = [np.zeros(5, np.float32) for _ in range(3)]
    core.optimizer_update(core.OPT_RMSPROP, params, g, slots, 0.001, 0)
    np.testing.assert_allclose(np.abs(params), 0.001 / np.sqrt(0.1), rtol=1e-5)
    assert np.all(np.sign(params) == -np.sign(g))
    np.testing.assert_allclose(slots[0], 0.1 * g.astype(np.float64) ** 2, rtol=1e-6)


def test_rmsprop_epsilon_is_inside_the_square_root():
    """With g = 0 after a step the update is lr * 0 / sqrt(v + eps) = 0, and
    with tiny g the step is g * lr / sqrt(0.1 g^2 + eps), not / (sqrt + eps)."""
    params = np.zeros(1, np.float32)
    slots = [np.zeros(1, np.float32) for _ in range(3)]
    g = np.array([1e-3], np.float32)
    core.optimizer_update(core.OPT_RMSPROP, params, g, slots, 1.0, 0, epsilon=1e-3)
    inside = -1e-3 / np.sqrt(0.1 * 1e-6 + 1e-3)
    outside = -1e-3 / (np.sqrt(0.1 * 1e-6) + 1e-3)
    assert params[0] == pytest.approx(inside, rel=1e-5)
    assert abs(params[0] - outside) > 1e-3


def test_adam_first_step_is_lr_sized():
    params = np.zeros(3, np.float32)
    slots = [np.zeros(3, np.float32) for _ in range(3)]
    core.optimizer_update(core.OPT_ADAM, params, np.array([1.0, -3.0, 0.2], np.float32), slots, 0.01, 0)
    np.testing.assert_allclose(params, [-0.01, 0.01, -0.01], rtol=1e-4)


def test_sgd_plain_step():
    params = np.ones(2, np.float32)
    slots = slots_for(core.OPT_SGD, 2)
    core.optimizer_update(core.OPT_SGD, params, np.array([1.0, -2.0], np.float32), slots, 0.01, 0)
    np.testing.assert_allclose(params, [0.99, 1.02], rtol=1e-6)
    assert np.all(slots[0] == 0)  # no momentum slot used


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), 1e39])
def test_non_finite_lr_is_rejected(bad):
    params = np.ones(2, np.float32)
    slots = slots_for(core.OPT_SGD, 2)
    with pytest.raises(ValueError, match="lr"):
        core.optimizer_update(core.OPT_SGD, params, np.ones(2, np.float32), slots, bad, 0)
    assert np.all(params == 1)


def test_argument_errors():
    params = np.ones(3, np.float32)
    slots = slots_for(core.OPT_SGD, 3)
    with pytest.raises(ValueError, match="optimizer"):
        core.optimizer_update(7, params, np.ones(3), slots, 0.1, 0)
    with pytest.raises(ValueError, match="grads"):
        core.optimizer_update(core.OPT_SGD, params, np.ones(4), slots, 0.1, 0)
    with pytest.raises(ValueError, match="slots"):
        core.optimizer_update(core.OPT_RMSPROP, params, np.ones(3), slots_for(core.OPT_RMSPROP, 3)[:2], 0.1, 0)
    with pytest.raises(TypeError, match="float32"):
        core.optimizer_update(core.OPT_SGD, params.astype(np.float64), np.ones(3), slots, 0.1, 0)
    with pytest.raises(ValueError, match="momentum"):
        core.optimizer_update(core.OPT_SGD, params, np.ones(3), slots, 0.1, 0, momentum=1.5)
    with pytest.raises(ValueError, match="rho"):
        core.optimizer_update(core.OPT_RMSPROP, params, np.ones(3), slots_for(core.OPT_RMSPROP, 3), 0.1, 0,
                              rho=float("nan"))


def test_denormal_velocities_are_flushed_and_caller_mode_restored():
    """FTZ/DAZ inside the kernel: velocities decaying below FLT_MIN become 0
    instead of denormals; Python arithmetic afterwards still sees denormals."""
    params = np.zeros(4, np.float32)
    slots = [np.zeros(4, np.float32) for _ in range(3)]
    core.optimizer_update(core.OPT_RMSPROP, params, np.full(4, 1e-19, np.float32), slots, 0.0, 0)
    for i in range(40):  # v = 0.9^k * 1e-39 goes subnormal, then is flushed
        core.optimizer_update(core.OPT_RMSPROP, params, np.zeros(4, np.float32), slots, 0.0, i + 1)
    tiny = np.finfo(np.float32).tiny
    assert np.all((slots[0] == 0) | (slots[0] >= tiny))
    assert np.float32(tiny) / np.float32(4) > 0  # caller's (non-FTZ) mode is back
