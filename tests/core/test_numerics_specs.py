"""The spec API of NUMERICS_SPEC.md: loss/metric/optimizer spec dicts read by
the core, each kernel against the NumPy twin (_reference) and the losses'
gradients against finite differences."""

from __future__ import annotations

import numpy as np
import pytest

from hookfit import _core as core
from hookfit import _reference as twin
from hookfit import errors


def f32(a):
    return np.ascontiguousarray(a, dtype=np.float32)


def targets(rng, kind, n, k):
    if kind in (core.LOSS_HINGE, core.LOSS_SQUARED_HINGE):
        return f32(rng.integers(0, 2, (n, k)))
    if kind in (core.LOSS_POISSON, core.LOSS_MSLE):
        return f32(rng.uniform(0.1, 3, (n, k)))
    if kind in (core.LOSS_CATEGORICAL_HINGE, core.LOSS_KLD):
        return f32(np.eye(k)[rng.integers(0, k, n)]) if kind == core.LOSS_CATEGORICAL_HINGE else f32(rng.dirichlet(np.ones(k), n))
    if kind == core.LOSS_SCCE:
        return f32(rng.integers(0, k, (n, 1)))
    if kind == core.LOSS_CCE:
        return f32(np.eye(k)[rng.integers(0, k, n)])
    if kind == core.LOSS_BCE:
        return f32(rng.integers(0, 2, (n, k)))
    return f32(rng.standard_normal((n, k)))


def predictions(rng, spec, n, k):
    if spec["kind"] in (core.LOSS_POISSON, core.LOSS_MSLE, core.LOSS_KLD):
        return f32(rng.uniform(0.1, 0.9, (n, k)))
    if spec.get("from_logits") or spec["kind"] in (core.LOSS_MSE, core.LOSS_MAE):
        return f32(rng.standard_normal((n, k)) * 3)
    p = rng.uniform(0.05, 1.0, (n, k))
    if spec["kind"] == core.LOSS_BCE:
        return f32(rng.uniform(0.02, 0.98, (n, k)))
    return f32(p / p.sum(axis=1, keepdims=True))


LOSS_SPECS = [
    {"kind": core.LOSS_MSE},
    {"kind": core.LOSS_MAE, "reduction": "sum"},
    {"kind": core.LOSS_BCE},
    {"kind": core.LOSS_BCE, "from_logits": True},
    {"kind": core.LOSS_BCE, "from_logits": True, "label_smoothing": 0.2},
    {"kind": core.LOSS_BCE, "label_smoothing": 0.1, "reduction": "sum"},
    {"kind": core.LOSS_CCE},
    {"kind": core.LOSS_CCE, "from_logits": True},
    {"kind": core.LOSS_CCE, "from_logits": True, "label_smoothing": 0.3},
    {"kind": core.LOSS_CCE, "label_smoothing": 0.1},
    {"kind": core.LOSS_SCCE},
    {"kind": core.LOSS_SCCE, "from_logits": True},
    {"kind": core.LOSS_HUBER, "delta": 0.7},
    {"kind": core.LOSS_LOG_COSH},
    {"kind": core.LOSS_HINGE},
    {"kind": core.LOSS_SQUARED_HINGE, "reduction": "sum"},
    {"kind": core.LOSS_CATEGORICAL_HINGE},
    {"kind": core.LOSS_KLD},
    {"kind": core.LOSS_POISSON},
    {"kind": core.LOSS_MAPE},
    {"kind": core.LOSS_MSLE},
    {"kind": core.LOSS_COSINE},
]
NEW_LOSSES = LOSS_SPECS[12:]


@pytest.mark.parametrize("spec", LOSS_SPECS, ids=repr)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_eval_matches_twin(rng, spec, weighted):
    n, k = 23, 4
    t, p = targets(rng, spec["kind"], n, k), predictions(rng, spec, n, k)
    sw = f32(rng.uniform(0, 2, n)) if weighted else None
    g, g_twin = np.empty((n, k), np.float32), np.empty((n, k), np.float32)
    value = core.loss_eval(spec, t, p, sw, g)
    expect = twin.loss_eval(spec, t, p, sw, g_twin)
    assert value == pytest.approx(expect, rel=2e-5, abs=1e-6)
    np.testing.assert_allclose(g, g_twin, rtol=2e-4, atol=1e-6)
    per = core.loss_per_sample(spec, t, p)
    np.testing.assert_allclose(per, twin.loss_per_sample(spec, t, p), rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("spec", [s for s in LOSS_SPECS if s.get("from_logits") or s.get("label_smoothing")] + NEW_LOSSES, ids=repr)
def test_loss_gradient_matches_finite_differences(rng, spec):
    n, k = 5, 3
    t = targets(rng, spec["kind"], n, k)
    p = predictions(rng, spec, n, k).astype(np.float64)
    g = np.empty((n, k), np.float32)
    core.loss_eval(spec, t, f32(p), None, g)
    h = 1e-3
    for i in range(n):
        for j in range(k):
            up, dn = p.copy(), p.copy()
            up[i, j] += h
            dn[i, j] -= h
            # The twin in float64 gives the values; the core's gradient is checked.
            fd = (twin.loss_eval(spec, t, up, None, None) - twin.loss_eval(spec, t, dn, None, None)) / (2 * h)
            assert g[i, j] == pytest.approx(fd, rel=2e-2, abs=2e-4)


def test_logits_losses_are_stable_for_large_logits():
    t = f32([[1.0, 0.0]])
    p = f32([[200.0, -200.0]])
    g = np.empty((1, 2), np.float32)
    assert core.loss_eval({"kind": core.LOSS_CCE, "from_logits": True}, t, p, None, g) == 0.0
    assert np.all(np.isfinite(g))
    value = core.loss_eval({"kind": core.LOSS_BCE, "from_logits": True}, f32([[0.0]]), f32([[500.0]]), None, None)
    assert value == pytest.approx(500.0)
    value = core.loss_eval({"kind": core.LOSS_SCCE, "from_logits": True}, f32([[1.0]]), p, None, g)
    assert value == pytest.approx(400.0)


def test_bad_specs_are_refused():
    t, p = f32([[1.0]]), f32([[0.5]])
    for spec, exc, match in [
        ({"kind": 99}, errors.KindError, "kind"),
        ({"kind": core.LOSS_BCE, "label_smoothing": 1.5}, errors.KindError, "label_smoothing"),
        ({"kind": core.LOSS_BCE, "reduction": "none"}, errors.KindError, "training loss"),
        ({"kind": core.LOSS_BCE, "bogus": 1}, errors.KindError, "unknown setting"),
        ({"kind": core.LOSS_BCE, "label_smoothing": float("nan")}, errors.NonFiniteError, "finite"),
    ]:
        with pytest.raises(exc, match=match):
            core.loss_eval(spec, t, p, None, None)


THR = [0.0 - 1e-7, 0.25, 0.5, 0.75, 1.0 + 1e-7]
METRIC_SPECS = [
    {"kind": core.METRIC_AUC, "thresholds": THR, "curve": 1},
    {"kind": core.METRIC_AUC, "thresholds": THR, "summation": 1, "weighted": True},
    {"kind": core.METRIC_PRECISION, "thresholds": [0.5], "top_k": 2},
    {"kind": core.METRIC_RECALL, "thresholds": [0.4], "class_id": 1, "weighted": True},
    {"kind": core.METRIC_PRECISION_AT_RECALL, "thresholds": THR, "target": 0.5},
    {"kind": core.METRIC_R2_SCORE, "weighted": True},
    {"kind": core.METRIC_ROOT_MEAN_SQUARED_ERROR},
    {"kind": core.METRIC_TOP_K_CATEGORICAL_ACCURACY, "top_k": 2},
    {"kind": core.METRIC_COSINE_SIMILARITY},
    {"kind": core.METRIC_LOSS, "loss_kind": core.LOSS_HUBER, "delta": 0.5},
    {"kind": core.METRIC_BINARY_ACCURACY, "threshold": 0.3},
    {"kind": core.METRIC_BINARY_ACCURACY, "weighted": True},
    {"kind": core.METRIC_CATEGORICAL_ACCURACY, "weighted": True},
    {"kind": core.METRIC_BCE, "from_logits": True, "label_smoothing": 0.1},
    {"kind": core.METRIC_MSE, "weighted": True},
    {"kind": core.METRIC_MAE},
]


@pytest.mark.parametrize("spec", METRIC_SPECS, ids=repr)
def test_metric_accumulate_matches_twin(rng, spec):
    n, k = 31, 3
    onehot = spec["kind"] in (core.METRIC_CATEGORICAL_ACCURACY, core.METRIC_TOP_K_CATEGORICAL_ACCURACY)
    t = f32(np.eye(k)[rng.integers(0, k, n)]) if onehot else f32(rng.integers(0, 2, (n, k)))
    p = f32(rng.uniform(0.01, 0.99, (n, k)))
    sw = f32(rng.uniform(0, 2, n))
    size = core.metric_state_floats(spec, k)
    a, b = np.zeros(size, np.float32), np.zeros(size, np.float32)
    for half in (slice(0, 15), slice(15, n)):
        core.metric_accumulate(spec, t[half], p[half], sw[half], a)
        twin.metric_accumulate(spec, t[half], p[half], sw[half], b)
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)
    assert core.metric_result(spec, a, k) == pytest.approx(twin.metric_result(spec, b, k), rel=1e-6)


@pytest.mark.parametrize("kind", [core.METRIC_PRECISION, core.METRIC_RECALL])
def test_confusion_counters_are_the_same_bits_for_thresholds_in_any_order(rng, kind):
    # Ascending thresholds add each example's weight to two ranges of
    # counters, others test each threshold: the same additions to each
    # counter in the same order. Weights that round in float32, NaN and
    # predictions equal to a threshold included.
    n, k = 257, 2
    up = [0.0 - 1e-7, 0.1, 0.25, 0.25, 0.5, 0.75, 0.9, 1.0 + 1e-7]
    order = rng.permutation(len(up))
    t = f32(rng.integers(0, 2, (n, k)))
    p = f32(rng.choice([*rng.uniform(0, 1, 50), 0.25, 0.5, np.nan], (n, k)))
    sw = f32(rng.uniform(0, 3, n))
    states = []
    for thresholds in (up, [up[q] for q in order]):
        spec = {"kind": kind, "thresholds": thresholds, "weighted": True}
        state = np.zeros(core.metric_state_floats(spec, k), np.float32)
        for part in (slice(0, 100), slice(100, n)):
            core.metric_accumulate(spec, t[part], p[part], sw[part], state)
        states.append(state.reshape(4, len(up)))
    np.testing.assert_array_equal(states[0][:, order], states[1])


OPT_SPECS = [
    {"kind": core.OPT_SGD, "momentum": 0.9, "nesterov": True},
    {"kind": core.OPT_RMSPROP, "centered": True, "momentum": 0.5, "clipnorm": 0.5},
    {"kind": core.OPT_ADAM, "amsgrad": True, "global_clipnorm": 0.3},
    {"kind": core.OPT_ADAM, "clipvalue": 0.05, "weight_decay": 0.004},
    {"kind": core.OPT_SGD, "use_ema": True, "ema_momentum": 0.9, "ema_overwrite_frequency": 3},
    {"kind": core.OPT_ADAM, "use_ema": True},
    {"kind": core.OPT_ADAGRAD, "initial_accumulator_value": 0.2},
    {"kind": core.OPT_ADAMAX, "clipnorm": 0.5},
    {"kind": core.OPT_ADADELTA},
    {"kind": core.OPT_NADAM, "weight_decay": 0.01},
    {"kind": core.OPT_FTRL, "l1_regularization_strength": 0.01, "l2_regularization_strength": 0.02,
     "l2_shrinkage_regularization_strength": 0.01, "beta": 0.1},
    {"kind": core.OPT_LION, "use_ema": True},
]


@pytest.mark.parametrize("spec", OPT_SPECS, ids=repr)
def test_opt_apply_matches_twin(rng, spec):
    n = 40
    ranges = [(0, 12), (12, 4), (20, 20)]  # [16, 20) is frozen: never touched
    params = f32(rng.standard_normal(n))
    ref = params.copy()
    n_slots = core.opt_n_slots(spec)
    assert n_slots == twin.opt_n_slots(spec)
    slots = [np.zeros(n, np.float32) for _ in range(n_slots)]
    ref_slots = [np.zeros(n, np.float32) for _ in range(n_slots)]
    frozen = params[16:20].copy()
    for it in range(6):
        g = f32(rng.standard_normal(n))
        core.opt_apply(spec, params, g.copy(), slots, 0.01, it, ranges)
        twin.opt_apply(spec, ref, g.copy(), ref_slots, 0.01, it, ranges)
        np.testing.assert_allclose(params, ref, rtol=1e-5, atol=1e-6)
    for s, r in zip(slots, ref_slots):
        np.testing.assert_allclose(s, r, rtol=1e-5, atol=1e-6)
    assert np.array_equal(params[16:20], frozen)


def test_clipnorm_clips_each_variable_to_the_norm():
    params = np.zeros(6, np.float32)
    g = f32([3.0, 4.0, 0.0, 0.1, 0.0, 0.0])
    core.opt_apply({"kind": core.OPT_SGD, "clipnorm": 1.0}, params, g, [np.zeros(6, np.float32)], 1.0, 0,
                   [(0, 3), (3, 3)])
    np.testing.assert_allclose(params, [-0.6, -0.8, 0.0, -0.1, 0.0, 0.0], rtol=1e-6)


def test_network_takes_spec_dicts_and_the_old_form_alike(rng):
    x, y = f32(rng.standard_normal((30, 4))), f32(rng.integers(0, 3, (30, 1)))
    results = []
    for form in ("codes", "specs"):
        net = core.Network(4, [5, 3], [core.ACT_RELU, core.ACT_SOFTMAX], [True, True])
        net.params[...] = f32(rng.standard_normal(net.n_params) * 0.3) if form == "codes" else results[0][1]
        start = net.params.copy()
        if form == "codes":
            net.configure(core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_ADAM, amsgrad=True)
        else:
            net.configure({"kind": core.LOSS_SCCE},
                          [{"kind": core.METRIC_SPARSE_CATEGORICAL_ACCURACY, "name": "acc"}],
                          {"kind": core.OPT_ADAM, "amsgrad": True})
        net.train_batches(core.Dataset(x, y), 0, 30, 8, 0.01)
        results.append((net.params.copy(), start, net.metric_results()))
    np.testing.assert_array_equal(results[0][0], results[1][0])
    assert results[0][2] == results[1][2]


def test_network_state_blocks_and_twin_agree(rng):
    x = f32(rng.standard_normal((40, 3)))
    y = f32(rng.integers(0, 2, (40, 2)))
    sw = f32(rng.uniform(0.5, 2, 40))
    loss = {"kind": core.LOSS_BCE, "from_logits": True, "label_smoothing": 0.1}
    metrics = [{"kind": core.METRIC_BINARY_ACCURACY, "threshold": 0.0, "weighted": True},
               {"kind": core.METRIC_BCE, "from_logits": True}]
    opt = {"kind": core.OPT_SGD, "momentum": 0.9, "use_ema": True, "clipnorm": 1.0}
    out = []
    for impl in (core, twin):
        net = impl.Network(3, [4, 2], [core.ACT_TANH, core.ACT_LINEAR], [True, True])
        net.params[...] = f32(np.linspace(-1, 1, net.n_params))
        net.configure(loss, metrics, opt)
        net.train_batches(impl.Dataset(x, y, sw), 0, 40, 16, 0.05)
        assert len(net.optimizer_slots()) == 2
        out.append((net.params.copy(), net.metric_results(), net.metric_state(),
                    [s.copy() for s in net.optimizer_slots()]))
    np.testing.assert_allclose(out[0][0], out[1][0], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[0][1], out[1][1], rtol=1e-5)
    assert out[0][2].shape == (6,)
    np.testing.assert_allclose(out[0][3][1], out[1][3][1], rtol=1e-5, atol=1e-6)


def test_configure_with_bad_specs_changes_nothing(rng):
    net = core.Network(3, [2], [core.ACT_LINEAR], [True])
    net.configure({"kind": core.LOSS_MSE}, [{"kind": core.METRIC_MAE}], {"kind": core.OPT_SGD})
    state = net.metric_state()
    for args, exc in [
        (({"kind": core.LOSS_MSE}, [{"kind": 77}], {"kind": core.OPT_SGD}), errors.KindError),
        (({"kind": core.LOSS_MSE, "reduction": "none"}, [], {"kind": core.OPT_SGD}), errors.KindError),
        (({"kind": core.LOSS_MSE}, [], {"kind": core.OPT_SGD, "momentum": 3.0}), errors.KindError),
        (({"kind": core.LOSS_MSE}, [], {"kind": core.OPT_SGD, "clipnorm": "x"}), errors.DtypeError),
        (({"kind": core.LOSS_MSE}, [{"kind": core.METRIC_SCCE}], {"kind": core.OPT_SGD}), errors.ShapeError),
    ]:
        with pytest.raises(exc):
            net.configure(*args)
        assert net.metric_state().shape == state.shape
