"""The exact bytes fit/evaluate/predict write with a progress bar (Keras 2).

A fake clock makes the text deterministic: a ``Tick`` callback moves it on
at each batch's start, so the redraw interval (0.05 s), the ETA and the
timing text all follow from the tick. The model predicts 0 (zero weights,
learning rate 0), so the running loss and MAE are known exactly: the
targets are 1, 3, 2, 4 by batch of 10 rows, giving running means
loss 1, 5, 4.6667, 7.5 and MAE 1, 2, 2, 2.5.
"""

import io
import sys

import numpy as np

import hookfit as keras

LOSS = ["1.0000", "5.0000", "4.6667", "7.5000"]
MAE = ["1.0000", "2.0000", "2.0000", "2.5000"]
BARS = [  # counter and bar at 1..4 of 4 steps, width 30
    "1/4 [======>.......................]",
    "2/4 [==============>...............]",
    "3/4 [=====================>........]",
    "4/4 [==============================]",
]
VAL = " - val_loss: 1.0000 - val_mae: 1.0000"


class Tick(keras.callbacks.Callback):
    """Moves the clock on by ``step`` seconds as each batch of ``mode``
    starts (validation inside fit does not move it)."""

    def __init__(self, clock, step, mark=False, mode="train"):
        super().__init__()
        self.clock, self.step, self.mark, self.mode = clock, step, mark, mode

    def on_train_batch_begin(self, batch, logs=None):
        self.clock.now += self.step * (self.mode == "train")

    def on_test_batch_begin(self, batch, logs=None):
        self.clock.now += self.step * (self.mode == "test")

    def on_predict_batch_begin(self, batch, logs=None):
        self.clock.now += self.step * (self.mode == "predict")

    def on_train_batch_end(self, batch, logs=None):
        if self.mark:
            logs["tick"] = float(batch)  # not a model metric: the bar averages it


def bar_bytes(draws):
    """One bar's bytes: each draw erases the previous width with '\\b', returns
    with '\\r', pads to the previous width; the final draw ends the line."""
    out, previous = [], 0
    for text, final in draws:
        pad = " " * (previous - len(text))
        out.append("\b" * previous + "\r" + text + pad + ("\n" if final else ""))
        previous = len(text)
    return "".join(out)


def data():
    x = np.zeros((40, 3), np.float32)
    y = np.repeat(np.array([1.0, 3.0, 2.0, 4.0], np.float32), 10)
    return x, y


def model():
    m = keras.Sequential([keras.layers.Dense(1, input_dim=3, kernel_initializer="zeros")])
    m.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0), loss="mse", metrics=["mae"])
    return m


def fit_output(capsys, callbacks, **kwargs):
    x, y = data()
    capsys.readouterr()
    model().fit(x, y, batch_size=10, shuffle=False, callbacks=callbacks,
                validation_data=(x[:10], y[:10]), **kwargs)
    return capsys.readouterr().out


def metrics(i):
    return f" - loss: {LOSS[i]} - mae: {MAE[i]}"


def test_verbose_1_redraws_every_batch_when_the_interval_has_passed(clock, capsys):
    out = fit_output(capsys, [Tick(clock, 0.5)], epochs=2, verbose=1)
    etas = ["1s", "1s", "0s", "0s"]  # 0.5 s per step times the steps left
    epoch = bar_bytes(
        [(f"{BARS[i]} - ETA: {etas[i]}{metrics(i)}", False) for i in range(4)]
        + [(f"{BARS[3]} - 2s 500ms/step{metrics(3)}{VAL}", True)]
    )
    assert out == "Epoch 1/2\n" + epoch + "Epoch 2/2\n" + epoch


def test_verbose_1_draws_the_first_batch_then_waits_for_the_interval(clock, capsys):
    out = fit_output(capsys, [Tick(clock, 1 / 64)], epochs=3, verbose=1)
    # (4/64 s - 1/64 s) / 3 steps after the first = 15.625 ms
    epoch = bar_bytes([
        (f"{BARS[0]} - ETA: 0s{metrics(0)}", False),
        (f"{BARS[3]} - 0s 16ms/step{metrics(3)}{VAL}", True),
    ])
    assert out == "Epoch 1/3\n" + epoch + "Epoch 2/3\n" + epoch + "Epoch 3/3\n" + epoch


def test_verbose_1_on_the_native_schedule_with_a_still_clock(clock, capsys):
    # No callback with batch hooks: the bar's own schedule decides the boundaries.
    out = fit_output(capsys, [], epochs=2, verbose=1)
    epoch = bar_bytes([
        (f"{BARS[0]} - ETA: 0s{metrics(0)}", False),
        (f"{BARS[3]} - 0s 0s/step{metrics(3)}{VAL}", True),
    ])
    assert out == "Epoch 1/2\n" + epoch + "Epoch 2/2\n" + epoch


def test_single_epoch_has_no_header(clock, capsys):
    out = fit_output(capsys, [Tick(clock, 0.5)], epochs=1, verbose=1)
    assert out.startswith("\r" + BARS[0]) and out.count("\n") == 1


def test_values_that_are_not_model_metrics_are_averaged(clock, capsys):
    out = fit_output(capsys, [Tick(clock, 0.5, mark=True)], epochs=1, verbose=1)
    ticks = ["0.0000e+00", "0.5000", "1.0000", "1.5000"]  # running means of 0, 1, 2, 3
    etas = ["1s", "1s", "0s", "0s"]
    assert out == bar_bytes(
        [(f"{BARS[i]} - ETA: {etas[i]}{metrics(i)} - tick: {ticks[i]}", False) for i in range(4)]
        + [(f"{BARS[3]} - 2s 500ms/step{metrics(3)} - tick: 1.5000{VAL}", True)]
    )


def test_verbose_2_prints_one_line_per_epoch(clock, capsys):
    out = fit_output(capsys, [Tick(clock, 0.5)], epochs=2, verbose=2)
    line = f"4/4 - 2s{metrics(3)}{VAL} - 2s/epoch - 500ms/step\n"
    assert out == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line


def test_verbose_2_with_a_still_clock(clock, capsys):
    out = fit_output(capsys, [], epochs=1, verbose=2)
    assert out == f"4/4 - 0s{metrics(3)}{VAL} - 0s/epoch - 0s/step\n"


def test_samples_mode_counts_an_unknown_target(clock, capsys):
    logger = keras.callbacks.ProgbarLogger(count_mode="samples")
    out = fit_output(capsys, [Tick(clock, 0.5), logger], epochs=1, verbose=1)
    # No sample counts in the batch logs (as in tf-keras 2): 0 seen, target
    # unknown until the end, then the step count.
    draws = [(f"      0/Unknown - {0.5 * (i + 1):.0f}s 0s/sample{metrics(i)}", False)
             for i in range(4)]
    assert out == bar_bytes(draws + [(f"{BARS[3]} - 2s 500ms/sample{metrics(3)}{VAL}", True)])


def test_evaluate_and_predict_bars(clock, capsys):
    x, y = data()
    m = model()
    capsys.readouterr()
    m.evaluate(x, y, batch_size=10, verbose=1, callbacks=[Tick(clock, 0.5, mode="test")])
    etas = ["1s", "1s", "0s", "0s"]
    assert capsys.readouterr().out == bar_bytes(
        [(f"{BARS[i]} - ETA: {etas[i]}{metrics(i)}", False) for i in range(4)]
        + [(f"{BARS[3]} - 2s 500ms/step{metrics(3)}", True)]
    )
    m.evaluate(x, y, batch_size=10, verbose=2, callbacks=[Tick(clock, 0.5, mode="test")])
    assert capsys.readouterr().out == f"4/4 - 2s{metrics(3)} - 2s/epoch - 500ms/step\n"
    m.predict(x, batch_size=10, verbose=1, callbacks=[Tick(clock, 0.5, mode="predict")])
    assert capsys.readouterr().out == bar_bytes(
        [(f"{BARS[i]} - ETA: {etas[i]}", False) for i in range(4)]
        + [(f"{BARS[3]} - 2s 500ms/step", True)]
    )
    m.predict(x, batch_size=10, verbose=0)
    assert capsys.readouterr().out == ""


def test_a_stream_swapped_between_fits_gets_the_next_fit(clock, monkeypatch):
    x, y = data()
    m = model()
    logger = keras.callbacks.ProgbarLogger(count_mode="steps")
    first, second = io.StringIO(), io.StringIO()
    monkeypatch.setattr(sys, "stdout", first)
    m.fit(x, y, batch_size=10, shuffle=False, epochs=1, verbose=2, callbacks=[logger])
    monkeypatch.setattr(sys, "stdout", second)
    m.fit(x, y, batch_size=10, shuffle=False, epochs=2, verbose=2, callbacks=[logger])
    line = f"4/4 - 0s{metrics(3)} - 0s/epoch - 0s/step\n"
    assert first.getvalue() == line
    assert second.getvalue() == "Epoch 1/2\n" + line + "Epoch 2/2\n" + line
    monkeypatch.setattr(sys, "stdout", first)
    m.fit(x, y, batch_size=10, shuffle=False, epochs=1, verbose=1)
    assert first.getvalue() == line + bar_bytes([
        (f"{BARS[0]} - ETA: 0s{metrics(0)}", False),
        (f"{BARS[3]} - 0s 0s/step{metrics(3)}", True),
    ])


def test_a_stream_swapped_within_a_fit_gets_the_rest(clock, capsys):
    # Keras writes to whatever sys.stdout is at each write.
    x, y = data()
    later, saved = io.StringIO(), sys.stdout

    class Swap(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            if epoch == 1:
                sys.stdout = later

    try:
        model().fit(x, y, batch_size=10, shuffle=False, epochs=2, verbose=2, callbacks=[Swap()])
    finally:
        sys.stdout = saved
    line = f"4/4 - 0s{metrics(3)} - 0s/epoch - 0s/step\n"
    assert capsys.readouterr().out == "Epoch 1/2\n" + line
    assert later.getvalue() == "Epoch 2/2\n" + line


def test_keys_the_user_declares_stateful_are_shown_as_given(clock, capsys):
    logger = keras.callbacks.ProgbarLogger(count_mode="steps", stateful_metrics=["tick"])
    out = fit_output(capsys, [Tick(clock, 0.5, mark=True), logger], epochs=1, verbose=1)
    ticks = ["0.0000e+00", "1.0000", "2.0000", "3.0000"]  # each batch's own value
    etas = ["1s", "1s", "0s", "0s"]
    assert out == bar_bytes(
        [(f"{BARS[i]} - ETA: {etas[i]}{metrics(i)} - tick: {ticks[i]}", False) for i in range(4)]
        + [(f"{BARS[3]} - 2s 500ms/step{metrics(3)} - tick: 3.0000{VAL}", True)]
    )
