"""A seeded random fuzzer over hookfit's public entry points (issue 9).

Each case calls one public function with arguments drawn from a pool of good
and hostile values (wrong types and dtypes, NaN and infinity, huge and
negative sizes, empty and ragged arrays, garbage files). A call may succeed
or raise an error that says what was wrong: a ValueError, TypeError or
OSError (hookfit's own errors derive from those) with a message. It must
never crash the process, hang, raise an error that only betrays a missing
check (IndexError, AttributeError, ZeroDivisionError, an OverflowError from
a C conversion, ...), or leave a model half-changed after it refused the
call. A few thousand cases run in seconds; the seed makes a failure
reproducible (the failure message names the case).
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np
import pytest

import hookfit as keras
from hookfit.errors import CoreError
from hookfit.trainers.trainer import FitInProgressError

SEED = 20261128
CASES = 3000  # spread over CHUNKS parametrized tests
CHUNKS = 6
# HOOKFIT_FUZZ_CASE=i runs case i alone (every case has its own generator,
# seeded by (SEED, i), so a failure reproduces without the cases before it).
ONE_CASE = os.environ.get("HOOKFIT_FUZZ_CASE")
# Refusals that say what was wrong: hookfit's own errors derive from these,
# plus the core's state errors (an uninitialised or busy object) and the
# fit-in-progress guard, which are RuntimeErrors with a message.
ALLOWED = (ValueError, TypeError, OSError, CoreError, FitInProgressError)


def _pick(rng, pool):
    return pool[int(rng.integers(len(pool)))]


def _numbers(rng):
    return _pick(rng, [0, 1, 2, 3, -1, 7, 2**31, 2**63, -(2**63), 1.5, 0.0, -0.5, math.nan,
                       math.inf, -math.inf, 1e39, True, None, "3", [2], (), object()])


def _arrays(rng, rows=12, cols=4):
    kinds = [
        lambda: rng.random((rows, cols), dtype=np.float32),
        lambda: rng.random((rows, cols)),
        lambda: rng.integers(0, 3, (rows, cols)),
        lambda: rng.random((rows, cols)).astype(np.complex64),
        lambda: np.array([["a"] * cols] * rows),
        lambda: np.empty((rows, cols), dtype=object),
        lambda: np.zeros((rows, cols), dtype="datetime64[s]"),
        lambda: np.full((rows, cols), np.nan, np.float32),
        lambda: np.full((rows, cols), np.inf),
        lambda: rng.random((0, cols)),
        lambda: rng.random((rows, 0)),
        lambda: rng.random((rows,)),
        lambda: rng.random((rows, cols, 2)),
        lambda: rng.random((rows + 3, cols)),
        lambda: rng.random((rows, cols + 1)),
        lambda: rng.random((rows, cols))[:, ::2],
        lambda: [[1, 2], [3]],
        lambda: [list(r) for r in rng.random((rows, cols))],
        lambda: None,
        lambda: "x",
        lambda: 3,
        lambda: {"a": rng.random((rows, cols))},
    ]
    return _pick(rng, kinds)()


def _targets(rng, rows=12, k=1):
    return _pick(rng, [
        lambda: rng.random((rows, k), dtype=np.float32),
        lambda: rng.integers(0, 3, (rows, 1)),
        lambda: rng.integers(-2, 9, (rows,)),
        lambda: rng.random((rows,)),
        lambda: rng.random((rows - 2, k)),
        lambda: np.full((rows, k), np.nan),
        lambda: np.array(["cat"] * rows),
        lambda: None,
    ])()


def _model(rng, compiled=True):
    act = _pick(rng, ["relu", "sigmoid", "softmax", None, "tanh"])
    model = keras.Sequential([keras.layers.Dense(3, activation="relu", input_dim=4),
                              keras.layers.Dense(1, activation=act)])
    if compiled:
        model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    return model


def _weights(model):
    return [w.copy() for w in model.get_weights()]


def _unchanged(before, model):
    after = model.get_weights()
    return len(before) == len(after) and all(np.array_equal(a, b, equal_nan=True)
                                             for a, b in zip(before, after))


# -- the cases ----------------------------------------------------------------------


def case_dense(rng, tmp):
    keras.layers.Dense(_numbers(rng), activation=_pick(rng, ["relu", "nope", 3, print, None, "gelu"]),
                       use_bias=_pick(rng, [True, False, "yes"]),
                       kernel_initializer=_pick(rng, ["glorot_uniform", "zeros", "bogus", 5, None]),
                       input_dim=_numbers(rng))


def case_compile(rng, tmp):
    model = _model(rng, compiled=False)
    before = _weights(model)
    try:
        model.compile(optimizer=_pick(rng, ["adam", "sgd", "rmsprop", "nope", 3, None,
                                            keras.optimizers.SGD(learning_rate=0.1)]),
                      loss=_pick(rng, ["mse", "binary_crossentropy", "sparse_categorical_crossentropy",
                                       "huber", "bogus", None, 3, len]),
                      metrics=_pick(rng, [["mae"], ["accuracy"], "mae", [3], ["nope"], None, [None],
                                          ["sparse_categorical_accuracy"]]))
    finally:
        assert _unchanged(before, model)


def case_optimizer(rng, tmp):
    cls = _pick(rng, [keras.optimizers.SGD, keras.optimizers.Adam, keras.optimizers.RMSprop,
                      keras.optimizers.AdamW, keras.optimizers.Nadam, keras.optimizers.Adagrad])
    cls(learning_rate=_numbers(rng))


def case_fit(rng, tmp):
    model = _model(rng)
    before = _weights(model)
    kwargs = {
        "batch_size": _pick(rng, [None, 4, 1, 0, -1, 2**63, 1.5, "4", 100]),
        # (a huge but valid epoch count is not bad input: it trains that long, as Keras)
        "epochs": _pick(rng, [1, 2, 0, -1, 1.5, None, "2", math.nan]),
        "validation_split": _pick(rng, [0.0, 0.25, 1.0, -0.5, math.nan, 2, "0.1"]),
        "shuffle": _pick(rng, [True, False, "batch", "yes", None]),
        "initial_epoch": _pick(rng, [0, 1, -1, 5, 1.5]),
        "steps_per_epoch": _pick(rng, [None, 1, 2, 0, -3, 2**63]),
        "verbose": 0,
    }
    if rng.random() < 0.3:
        kwargs["sample_weight"] = _pick(rng, [np.ones(12), np.full(12, np.nan), np.ones(5), "w", -np.ones(12)])
    if rng.random() < 0.2:
        kwargs["class_weight"] = _pick(rng, [{0: 1.0, 1: 2.0}, {0: math.nan}, "balanced", [1, 2]])
    if rng.random() < 0.2:
        kwargs["validation_data"] = _pick(rng, [(rng.random((5, 4)), rng.random((5, 1))), (1, 2, 3, 4),
                                                "v", (rng.random((5, 3)), rng.random((5, 1)))])
    try:
        model.fit(_arrays(rng), _targets(rng), **kwargs)
    except ALLOWED:
        assert _unchanged(before, model), "a refused fit changed the weights"
        raise


def case_evaluate_predict(rng, tmp):
    model = _model(rng)
    x = _arrays(rng)
    if rng.random() < 0.5:
        model.evaluate(x, _targets(rng), batch_size=_pick(rng, [None, 3, 0, -2, 2**63]), verbose=0,
                       steps=_pick(rng, [None, 1, 0, -1]))
    else:
        model.predict(x, batch_size=_pick(rng, [None, 3, 0, -2, 2**63]), verbose=0,
                      steps=_pick(rng, [None, 1, 0, -1]))


def case_set_weights(rng, tmp):
    model = _model(rng)
    before = _weights(model)
    good = model.get_weights()
    weights = [w.copy() for w in good]
    for i in range(len(weights)):
        if rng.random() < 0.4:
            weights[i] = _pick(rng, [
                lambda: np.zeros(good[i].shape, np.complex64),
                lambda: np.zeros(good[i].shape, object),
                lambda: np.zeros((9, 9)),
                lambda: "w",
                lambda: None,
                lambda: np.full(good[i].shape, np.nan),
                lambda: np.zeros(good[i].shape, "datetime64[s]"),
            ])()
    if rng.random() < 0.2:
        weights = weights[:-1]
    try:
        model.set_weights(weights)
    except ALLOWED:
        assert _unchanged(before, model), "a refused set_weights changed the weights"
        raise


def case_callbacks(rng, tmp):
    name = _pick(rng, ["EarlyStopping", "ReduceLROnPlateau", "ModelCheckpoint", "CSVLogger",
                       "TerminateOnNaN", "BackupAndRestore", "LearningRateScheduler"])
    cls = getattr(keras.callbacks, name)
    if name == "EarlyStopping":
        cb = cls(patience=_numbers(rng), min_delta=_numbers(rng), mode=_pick(rng, ["auto", "min", "x"]))
    elif name == "ReduceLROnPlateau":
        cb = cls(factor=_numbers(rng), patience=_numbers(rng), min_lr=_numbers(rng))
    elif name == "ModelCheckpoint":
        cb = cls(os.path.join(tmp, _pick(rng, ["m.keras", "w.weights.h5", "m.h5", "m.npz", "m.txt", ""])),
                 save_freq=_pick(rng, ["epoch", 1, 0, -1, "x", 2**63]),
                 save_weights_only=_pick(rng, [True, False]))
    elif name == "CSVLogger":
        cb = cls(os.path.join(tmp, "log.csv"), separator=_pick(rng, [",", "", 3]))
    elif name == "BackupAndRestore":
        cb = cls(os.path.join(tmp, "backup"), save_freq=_pick(rng, ["epoch", 1, 0, -1, 1.5]))
    elif name == "LearningRateScheduler":
        cb = cls(_pick(rng, [lambda e, lr: lr, lambda e, lr: math.nan, lambda e, lr: "x", 3]))
    else:
        cb = cls()
    model = _model(rng)
    model.fit(rng.random((12, 4)), rng.random((12, 1)), epochs=2, batch_size=4, verbose=0, callbacks=[cb])


def case_files(rng, tmp):
    model = _model(rng)
    before = _weights(model)
    suffix = _pick(rng, [".weights.h5", ".npz", ".keras", ".h5"])
    path = os.path.join(tmp, "f" + suffix)
    kind = rng.random()
    if kind < 0.4:  # garbage bytes
        with open(path, "wb") as f:
            f.write(rng.bytes(int(rng.integers(0, 300))))
    else:  # a real file, truncated or with bytes flipped
        if suffix in (".keras", ".h5") and rng.random() < 0.5:
            model.save(path)
        else:
            model.save_weights(path if suffix != ".keras" else path[:-6] + ".weights.h5")
            path = path if suffix != ".keras" else path[:-6] + ".weights.h5"
        data = bytearray(open(path, "rb").read())
        if kind < 0.7:
            data = data[: int(rng.integers(0, len(data)))]
        else:
            for _ in range(int(rng.integers(1, 8))):
                data[int(rng.integers(len(data)))] ^= 1 << int(rng.integers(8))
        with open(path, "wb") as f:
            f.write(bytes(data))
    try:
        if rng.random() < 0.5:
            model.load_weights(path)
        else:
            keras.models.load_model(path)
    except ALLOWED:
        assert _unchanged(before, model), "a refused load changed the weights"
        raise


def case_utils(rng, tmp):
    if rng.random() < 0.5:
        keras.utils.to_categorical(_targets(rng), num_classes=_pick(rng, [None, 3, 0, -1, 2**63, 1.5]))
    else:
        keras.utils.normalize(_arrays(rng), axis=_pick(rng, [-1, 0, 5, "x"]), order=_pick(rng, [2, 1, 0, -1]))


def case_functional(rng, tmp):
    shape = _pick(rng, [(4,), (0,), (-1,), (4, 2), None, 4, (2**40,), ("a",), (4.5,)])
    inp = keras.Input(shape=shape, name=_pick(rng, ["x", None, 3, ""]))
    width = _pick(rng, [3, 0, -2, 1.5, None])
    h = keras.layers.Dense(width, activation="relu")(inp)
    other = _pick(rng, [
        lambda: h,
        lambda: keras.layers.Dense(3)(keras.Input(shape=(4,))),  # a second, unconnected input
        lambda: keras.layers.Dense(5)(inp),  # a width that does not match h
        lambda: "not a tensor",
    ])()
    merged = _pick(rng, [keras.layers.Add(), keras.layers.Concatenate(axis=_pick(rng, [-1, 0, 1, 7]))])([h, other])
    out = keras.layers.Dense(1)(merged)
    outputs = _pick(rng, [lambda: out, lambda: [out, h], lambda: inp, lambda: None])()
    model = keras.Model(inputs=_pick(rng, [inp, [inp], {"x": inp}, None, "x"]), outputs=outputs)
    model.compile(optimizer="sgd", loss="mse")
    model.fit(_arrays(rng, cols=4), _targets(rng), epochs=1, batch_size=4, verbose=0)


def case_layers(rng, tmp):
    kind = _pick(rng, ["dropout", "bn", "norm", "act", "flatten"])
    if kind == "dropout":
        layer = keras.layers.Dropout(_numbers(rng), noise_shape=_pick(rng, [None, (1, 3), (2,), "x"]),
                                     seed=_pick(rng, [None, 1, -1, 2**70, "s"]))
    elif kind == "bn":
        layer = keras.layers.BatchNormalization(momentum=_numbers(rng), epsilon=_numbers(rng),
                                                axis=_pick(rng, [-1, 0, 1, 5, "a"]))
    elif kind == "norm":
        layer = keras.layers.Normalization(mean=_pick(rng, [None, 0.0, [1.0, 2.0, 3.0], "m"]),
                                           variance=_pick(rng, [None, 1.0, -1.0, [1.0, 2.0, 3.0], math.nan]))
        if rng.random() < 0.5:
            layer.adapt(_arrays(rng, cols=3))
    elif kind == "act":
        layer = keras.layers.Activation(_pick(rng, ["relu", "gelu", "nope", 3, None, "softmax"]))
    else:
        layer = keras.layers.Flatten(input_shape=_pick(rng, [(3,), (2, 3), (-1, 3), None]))
    model = keras.Sequential([keras.layers.Dense(3, input_dim=3), layer, keras.layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    before = _weights(model)
    try:
        model.fit(_arrays(rng, cols=3), _targets(rng), epochs=1, batch_size=4, verbose=0)
    except ALLOWED:
        assert _unchanged(before, model), "a refused fit changed the weights"
        raise


def case_losses_metrics(rng, tmp):
    p = rng.random((6, 3), dtype=np.float32)
    t = _pick(rng, [lambda: np.eye(3, dtype=np.float32)[rng.integers(0, 3, 6)],
                    lambda: rng.integers(-1, 4, (6,)), lambda: p[:4], lambda: "t", lambda: p * np.nan])()
    if rng.random() < 0.5:
        loss = _pick(rng, [
            lambda: keras.losses.Huber(delta=_numbers(rng)),
            lambda: keras.losses.CategoricalCrossentropy(label_smoothing=_numbers(rng)),
            lambda: keras.losses.BinaryCrossentropy(from_logits=_pick(rng, [True, False, "no"])),
            lambda: keras.losses.SparseCategoricalCrossentropy(ignore_class=_pick(rng, [None, 1, "c"])),
            lambda: keras.losses.MeanSquaredError(reduction=_pick(rng, ["sum", "none", "bogus", None, 3])),
        ])()
        loss(t, p, sample_weight=_pick(rng, [None, np.ones(6), np.ones(2), "w", -np.ones(6)]))
    else:
        metric = _pick(rng, [
            lambda: keras.metrics.AUC(num_thresholds=_numbers(rng)),
            lambda: keras.metrics.Precision(thresholds=_pick(rng, [0.5, [0.2, 0.8], 2.0, math.nan, "x", []])),
            lambda: keras.metrics.TopKCategoricalAccuracy(k=_numbers(rng)),
            lambda: keras.metrics.BinaryAccuracy(threshold=_numbers(rng)),
            lambda: keras.metrics.Mean(),
        ])()
        metric.update_state(t, p) if not isinstance(metric, keras.metrics.Mean) else metric.update_state(t)
        metric.result()
        metric.reset_state()


def case_schedules(rng, tmp):
    s = keras.optimizers.schedules
    schedule = _pick(rng, [
        lambda: s.ExponentialDecay(_numbers(rng), decay_steps=_numbers(rng), decay_rate=_numbers(rng)),
        lambda: s.PiecewiseConstantDecay(_pick(rng, [[2], [2, 1], [], "b"]), _pick(rng, [[0.1, 0.01], [0.1], [math.nan, 1.0]])),
        lambda: s.PolynomialDecay(_numbers(rng), decay_steps=_numbers(rng), power=_numbers(rng)),
        lambda: s.CosineDecay(_numbers(rng), decay_steps=_numbers(rng), warmup_steps=_numbers(rng)),
        lambda: s.InverseTimeDecay(0.1, decay_steps=_numbers(rng), decay_rate=_numbers(rng)),
    ])()
    model = _model(rng, compiled=False)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
    before = _weights(model)
    try:
        model.fit(rng.random((12, 4)), rng.random((12, 1)), epochs=1, batch_size=4, verbose=0)
    except ALLOWED:
        assert _unchanged(before, model), "a refused fit changed the weights"
        raise


def case_batch_sources(rng, tmp):
    def batches():
        for _ in range(int(rng.integers(0, 4))):
            yield _pick(rng, [
                lambda: (rng.random((4, 4), dtype=np.float32), rng.random((4, 1), dtype=np.float32)),
                lambda: (rng.random((4, 3)), rng.random((4, 1))),
                lambda: (rng.random((4, 4)), rng.random((3, 1))),
                lambda: (rng.random((4, 4)),),
                lambda: (rng.random((4, 4)), rng.random((4, 1)), np.ones(4), "extra"),
                lambda: "batch",
                lambda: None,
                lambda: (np.array([["a"] * 4] * 4), rng.random((4, 1))),
            ])()

    class Data(keras.utils.PyDataset):
        def __init__(self, items):
            super().__init__()
            self.items = items

        def __len__(self):
            return len(self.items)

        def __getitem__(self, i):
            return self.items[i]

    model = _model(rng)
    source = batches() if rng.random() < 0.5 else Data(list(batches()))
    kind = rng.random()
    if kind < 0.6:
        model.fit(source, epochs=1, verbose=0, steps_per_epoch=_pick(rng, [None, 1, 2, 0, -1]))
    elif kind < 0.8:
        model.evaluate(source, verbose=0)
    else:
        model.predict(source, verbose=0)


CASE_KINDS = [case_dense, case_compile, case_optimizer, case_fit, case_fit, case_evaluate_predict,
              case_set_weights, case_callbacks, case_files, case_utils, case_functional, case_layers,
              case_losses_metrics, case_schedules, case_batch_sources]


def _run_case(i, tmp_root):
    """Run case i; return None if it behaved, else a line saying how it misbehaved."""
    rng = np.random.default_rng([SEED, i])
    kind = _pick(rng, CASE_KINDS)
    tmp = tmp_root / str(i)
    tmp.mkdir()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            kind(rng, str(tmp))
        except ALLOWED as e:
            if not str(e).strip():
                return f"case {i} ({kind.__name__}): {type(e).__name__} with no message"
        except AssertionError as e:
            return f"case {i} ({kind.__name__}): AssertionError: {e}"
        except Exception as e:  # noqa: BLE001 - anything else is a missed check
            return f"case {i} ({kind.__name__}): {type(e).__name__}: {e}"[:400]
    return None


@pytest.mark.parametrize("chunk", range(CHUNKS))
def test_public_entry_points_refuse_bad_input_cleanly(chunk, tmp_path):
    pytest.importorskip("h5py")  # the file cases write .weights.h5 / .h5
    if ONE_CASE is not None:
        cases = [int(ONE_CASE)] if chunk == 0 else []
    else:
        cases = range(chunk, CASES, CHUNKS)
    bad = [m for m in (_run_case(i, tmp_path) for i in cases) if m]
    assert not bad, (f"{len(bad)} of {len(cases)} cases misbehaved (rerun one with "
                     f"HOOKFIT_FUZZ_CASE=i); first ones:\n" + "\n".join(bad[:15]))
