"""fit's per-batch loop run by the core (``Network.train_batches_hooked``)
once Keras's slow-callback check is over, against the same loop in Python:
the same hook calls with the same logs, the same weights bit for bit, and
the same behaviour when a hook changes the rate, reads the weights, stops
training or raises."""

from __future__ import annotations

import numpy as np
import pytest

import hookfit as keras
from hookfit.trainers.trainer import Trainer

N, BATCH, EPOCHS = 330, 32, 3  # 11 batches per epoch, the last of 10 rows


def _data():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, 12)).astype(np.float32)
    y = (x[:, :2] @ np.array([[1.0], [-0.5]], np.float32)).astype(np.float32)
    return x, y


def _model(lr=0.01):
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.layers.Dense(8, activation="relu", input_dim=12),
        keras.layers.Dense(1),
    ])
    model.compile(optimizer=keras.optimizers.Adam(lr), loss="mse", metrics=["mae"])
    return model


class Recorder(keras.callbacks.Callback):
    """Every batch hook with its logs; at chosen batches it changes the
    rate, reads the weights, stops or raises."""

    def __init__(self, set_lr_at=None, read_at=None, stop_at=None, raise_at=None):
        super().__init__()
        self.calls = []
        self.epoch = 0
        self.set_lr_at, self.read_at, self.stop_at, self.raise_at = set_lr_at, read_at, stop_at, raise_at

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        self.calls.append(("begin", self.epoch, batch, dict(logs)))
        if (self.epoch, batch) == self.set_lr_at:
            self.model.optimizer.learning_rate = 0.002

    def on_train_batch_end(self, batch, logs=None):
        self.calls.append(("end", self.epoch, batch, dict(logs)))
        if (self.epoch, batch) == self.read_at:
            self.calls.append(("weights", [w.copy() for w in self.model.get_weights()]))
        if (self.epoch, batch) == self.stop_at:
            self.model.stop_training = True
        if (self.epoch, batch) == self.raise_at:
            raise RuntimeError("raised by the hook")


@pytest.fixture
def python_loop(monkeypatch):
    """Makes fit run its per-batch loop in Python (the core's hooked run off)."""
    original = Trainer._train_steps

    def steps_without_hooked(self, it, make_logs):
        steps = original(self, it, make_logs)
        steps.hooked = None
        return steps

    def use():
        monkeypatch.setattr(Trainer, "_train_steps", steps_without_hooked)

    return use


@pytest.fixture
def hooked_runs(monkeypatch):
    """Counts the batches the core's hooked run takes."""
    original = Trainer._train_steps
    count = [0]

    def counting(self, it, make_logs):
        steps = original(self, it, make_logs)
        hooked = steps.hooked
        if hooked is not None:
            def counted(*args):
                out = hooked(*args)
                count[0] += out[0]
                return out

            steps.hooked = counted
        return steps

    monkeypatch.setattr(Trainer, "_train_steps", counting)
    return count


def _fit(model, rec, **kwargs):
    x, y = _data()
    args = dict(batch_size=BATCH, epochs=EPOCHS, verbose=0, shuffle=True)
    args.update(kwargs)
    keras.utils.set_random_seed(9)
    return model.fit(x, y, callbacks=[rec], **args).history


def _same_calls(a, b):
    assert len(a) == len(b)
    for ca, cb in zip(a, b):
        assert ca[0] == cb[0]
        if ca[0] == "weights":
            for wa, wb in zip(ca[1], cb[1]):
                assert wa.tobytes() == wb.tobytes()
            continue
        assert ca[1:3] == cb[1:3]
        assert ca[3].keys() == cb[3].keys()
        for k in ca[3]:
            assert np.float64(ca[3][k]).tobytes() == np.float64(cb[3][k]).tobytes(), (ca[:3], k)


def _run_both(python_loop, make_model=_model, **rec_kwargs):
    results = []
    for loop in ("core", "python"):
        if loop == "python":
            python_loop()
        model, rec = make_model(), Recorder(**rec_kwargs)
        error = None
        try:
            history = _fit(model, rec)
        except RuntimeError as e:
            history, error = None, str(e)
        results.append((history, rec.calls, model.get_weights(),
                        int(model.optimizer.iterations), error))
    return results


def test_the_core_loop_gives_the_python_loops_hooks_logs_and_weights(python_loop, hooked_runs):
    (h1, c1, w1, it1, _), (h2, c2, w2, it2, _) = _run_both(
        python_loop, set_lr_at=(1, 5), read_at=(2, 3)
    )
    assert hooked_runs[0] > 20  # most batches ran in the core's loop
    assert h1 == h2 and it1 == it2 == EPOCHS * 11
    _same_calls(c1, c2)
    for a, b in zip(w1, w2):
        assert a.tobytes() == b.tobytes()


def test_a_schedule_and_an_uneven_last_batch(python_loop):
    def scheduled():
        model = _model()
        schedule = keras.optimizers.schedules.ExponentialDecay(0.05, decay_steps=3, decay_rate=0.7)
        model.compile(optimizer=keras.optimizers.SGD(schedule, momentum=0.9), loss="mse",
                      metrics=["mae"])
        return model

    (h1, c1, w1, _, _), (h2, c2, w2, _, _) = _run_both(python_loop, make_model=scheduled)
    assert h1 == h2
    _same_calls(c1, c2)
    for a, b in zip(w1, w2):
        assert a.tobytes() == b.tobytes()


def test_a_stop_from_a_hook_stops_after_that_batch(python_loop):
    (h1, c1, w1, it1, _), (h2, c2, w2, it2, _) = _run_both(python_loop, stop_at=(1, 6))
    assert it1 == it2 == 11 + 7
    assert len(h1["loss"]) == 2
    _same_calls(c1, c2)
    for a, b in zip(w1, w2):
        assert a.tobytes() == b.tobytes()


def test_a_hook_that_raises_leaves_the_count_of_batches_exact(python_loop):
    (_, c1, w1, it1, e1), (_, c2, w2, it2, e2) = _run_both(python_loop, raise_at=(1, 4))
    assert e1 == e2 == "raised by the hook"
    assert it1 == it2 == 11 + 5
    _same_calls(c1, c2)
    for a, b in zip(w1, w2):
        assert a.tobytes() == b.tobytes()


def test_custom_metrics_keep_the_python_loop(hooked_runs):
    model = _model()
    model.compile(optimizer="adam", loss="mse", metrics=[lambda y, p: np.abs(y - p).max(axis=-1)])
    _fit(model, Recorder())
    assert hooked_runs[0] == 0


class EvalRecorder(keras.callbacks.Callback):
    """evaluate's and predict's batch hooks with their logs (copied)."""

    def __init__(self, raise_at=None):
        super().__init__()
        self.calls, self.raise_at = [], raise_at

    def _record(self, what, batch, logs):
        self.calls.append((what, batch, {k: np.array(v, copy=True) for k, v in logs.items()}))
        if (what, batch) == self.raise_at:
            raise RuntimeError("raised by the hook")

    def on_test_batch_begin(self, batch, logs=None):
        self._record("test begin", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._record("test end", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._record("predict begin", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._record("predict end", batch, logs)


def _spy_steps(monkeypatch, core_loop, ones):
    """Counts the batches run one by one in Python (``Steps.one``); without
    ``core_loop``, no loop gets the core's hooked run."""
    from hookfit.trainers import trainer as trainer_module

    real = trainer_module.Steps

    def make(*args, **kwargs):
        if not core_loop:
            kwargs["hooked"] = None
        steps = real(*args, **kwargs)
        one = steps.one

        def counted(j):
            ones.append(j)
            return one(j)

        steps.one = counted
        return steps

    monkeypatch.setattr(trainer_module, "Steps", make)


def test_evaluate_and_predict_hooks_get_the_python_loops_logs_from_the_core_loop(monkeypatch):
    # Keras's slow-callback check times each call's first batches (6 here,
    # run one by one in Python); the other 5 run in the core's loop.
    x, y = _data()
    results = []
    for core_loop in (True, False):
        ones: list = []
        with monkeypatch.context() as patch:
            _spy_steps(patch, core_loop, ones)
            model, rec = _model(), EvalRecorder()
            model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
            ones.clear()
            scores = model.evaluate(x, y, batch_size=BATCH, verbose=0, callbacks=[rec])
            out = model.predict(x, batch_size=BATCH, verbose=0, callbacks=[rec])
        results.append((scores, out, rec.calls, len(ones)))
    (s1, o1, c1, ones_core), (s2, o2, c2, ones_python) = results
    assert (ones_core, ones_python) == (12, 22)
    assert s1 == s2 and o1.tobytes() == o2.tobytes()
    assert [c[:2] for c in c1] == [c[:2] for c in c2]
    assert len(c1) == 4 * 11
    for a, b in zip(c1, c2):
        assert a[2].keys() == b[2].keys()
        for k in a[2]:
            assert a[2][k].tobytes() == b[2][k].tobytes(), (a[:2], k)
    # predict's end logs hold the batch's outputs; evaluate's the running values
    ends = [c for c in c1 if c[0] == "predict end"]
    assert np.concatenate([c[2]["outputs"] for c in ends]).tobytes() == o1.tobytes()
    assert [float(v) for v in [c for c in c1 if c[0] == "test end"][-1][2].values()] == list(s1)


@pytest.mark.parametrize("where", ["test end", "predict end"])
def test_a_hook_raising_in_the_core_loop_of_evaluate_or_predict_leaves_the_model_usable(where):
    x, y = _data()
    model = _model()
    model.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)
    want = model.evaluate(x, y, batch_size=BATCH, verbose=0), model.predict(x, batch_size=BATCH, verbose=0)
    with pytest.raises(RuntimeError, match="raised by the hook"):
        call = model.evaluate if where == "test end" else model.predict
        call(*((x, y) if where == "test end" else (x,)), batch_size=BATCH, verbose=0,
             callbacks=[EvalRecorder(raise_at=(where, 8))])
    got = model.evaluate(x, y, batch_size=BATCH, verbose=0), model.predict(x, batch_size=BATCH, verbose=0)
    assert got[0] == want[0] and got[1].tobytes() == want[1].tobytes()
