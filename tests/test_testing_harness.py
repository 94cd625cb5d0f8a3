"""hookfit.testing.CallbackHarness: scripted runs of one callback, and the state round trip."""

import textwrap

import numpy as np
import pytest

import hookfit as keras
from hookfit.callbacks import CSVLogger, EarlyStopping, ReduceLROnPlateau
from hookfit.testing import CallbackHarness, ScriptedError


class CountBatches(keras.callbacks.Callback):
    """A user callback with state (and a deliberately broken variant)."""

    def __init__(self, broken=False):
        super().__init__()
        self.seen, self.broken, self.errors = 0, broken, []

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1

    def on_exception(self, exc, logs):
        self.errors.append(type(exc).__name__)

    def get_state(self):
        return {"seen": self.seen}

    def set_state(self, state):
        self.seen = state["seen"] + (1 if self.broken else 0)


def test_fit_calls_hooks_in_the_model_order():
    run = CallbackHarness(CountBatches()).fit(epochs=2, steps=2)
    assert run.hooks() == [
        "on_train_begin",
        "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
        "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
        "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
        "on_train_batch_begin", "on_train_batch_end", "on_epoch_end",
        "on_train_end",
    ]


def test_the_same_order_as_a_real_fit():
    calls = []
    names = ("on_train_begin", "on_epoch_begin", "on_train_batch_begin", "on_train_batch_end",
             "on_epoch_end", "on_train_end")
    recorder = keras.callbacks.LambdaCallback(**{n: (lambda n: lambda *a: calls.append(n))(n) for n in names})
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse")
    x = np.zeros((4, 2), np.float32)
    model.fit(x, x[:, :1], batch_size=2, epochs=2, verbose=0, callbacks=[recorder])
    assert calls == CallbackHarness(CountBatches()).fit(epochs=2, steps=2).hooks()


def test_a_stop_and_the_logs_the_callback_wrote():
    plateau = ReduceLROnPlateau(monitor="loss", patience=0, factor=0.5, min_delta=0)
    run = CallbackHarness(plateau).fit(epochs=3, epoch_logs=[{"loss": 1.0}] * 3)
    assert [logs["lr"] for logs in run.epoch_logs] == pytest.approx([0.01, 0.01, 0.005])
    stop = CallbackHarness(EarlyStopping(monitor="loss", patience=0)).fit(
        epochs=5, epoch_logs=lambda e: {"loss": 1.0})
    assert stop.stopped and len(stop.epoch_logs) == 2


def test_a_scripted_exception_reaches_on_exception():
    counter = CountBatches()
    with pytest.raises(ScriptedError) as info:
        CallbackHarness(counter).fit(epochs=3, steps=2, raise_at=("on_train_batch_end", 1, 0))
    assert counter.errors == ["ScriptedError"] and counter.seen == 3
    assert info.value.run.hooks()[-1] == "on_exception"


def test_round_trip_and_resume(tmp_path):
    counter = CountBatches()
    harness = CallbackHarness(counter)
    harness.fit(epochs=2, steps=3)
    restored = harness.round_trip()
    assert restored is not counter and restored.seen == 6
    CallbackHarness(restored).fit(epochs=3, steps=3, initial_epoch=2)
    assert restored.seen == 9
    with pytest.raises(AssertionError, match="differs"):
        broken = CallbackHarness(CountBatches(broken=True))
        broken.fit(epochs=1)
        broken.round_trip()
    with pytest.raises(AssertionError, match="keeps no state"):
        CallbackHarness(keras.callbacks.TerminateOnNaN()).round_trip()


@pytest.mark.parametrize("make", [
    lambda p: EarlyStopping(monitor="loss", patience=2),
    lambda p: ReduceLROnPlateau(monitor="loss", patience=1),
    lambda p: CSVLogger(str(p / "log.csv")),
    lambda p: keras.callbacks.ModelCheckpoint(str(p / "w.npz"), save_weights_only=True, keep_last=1),
])
def test_every_stateful_builtin_round_trips(tmp_path, make):
    harness = CallbackHarness(make(tmp_path))
    harness.fit(epochs=3, steps=2, epoch_logs=lambda e: {"loss": 1.0 / (e + 1)})
    harness.round_trip()


def test_evaluate_and_predict_hooks():
    run = CallbackHarness(CountBatches()).evaluate(steps=2)
    assert run.hooks() == ["on_test_begin", "on_test_batch_begin", "on_test_batch_end",
                           "on_test_batch_begin", "on_test_batch_end", "on_test_end"]
    run = CallbackHarness(CountBatches()).predict(steps=1)
    assert run.hooks()[0] == "on_predict_begin" and run.hooks()[-1] == "on_predict_end"


def test_the_readme_example_runs():
    import pathlib
    import re

    readme = pathlib.Path(__file__).resolve().parents[1] / "README.md"
    blocks = re.findall(r"```python\n(.*?)```", readme.read_text(), flags=re.S)
    (example,) = [b for b in blocks if "CallbackHarness(stopper)" in b]
    exec(textwrap.dedent(example), {"keras": keras})
