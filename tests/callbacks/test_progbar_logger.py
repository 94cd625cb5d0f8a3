"""The progress bar: Keras 2's exact text for verbose 1 and 2."""

import io
import re
import sys

import numpy as np
import pytest

import hookfit as keras
from hookfit.utils import progbar as progbar_module
from hookfit.utils.progbar import Progbar


def test_verbose_1_redraws_in_place_with_eta_and_final_line(clock):
    out = io.StringIO()
    bar = Progbar(8, stream=out, stateful_metrics={"loss"})
    bar.update(1, [("loss", 12.345678)])
    clock.now += 0.002
    bar.update(2, [("loss", 0.0005)])  # within 0.05 s: not drawn
    clock.now += 0.1
    bar.update(4, [("loss", 1.5)])
    clock.now += 0.02
    bar.update(8, [("loss", 2.0)])
    frames = out.getvalue().split("\r")
    assert frames[0] == ""  # every draw starts with a carriage return
    line1 = "1/8 [==>...........................] - ETA: 0s - loss: 12.3457"
    line2 = "4/8 [==============>...............] - ETA: 0s - loss: 1.5000"
    assert frames[1] == line1 + "\b" * len(line1)
    # padded to the previous width; the next erase covers the unpadded text (Keras 2)
    assert frames[2] == line2 + " " * (len(line1) - len(line2)) + "\b" * len(line2)
    assert len(frames) == 4
    assert re.fullmatch(
        r"8/8 \[==============================\] - 0s \d+ms/step - loss: 2\.0000\n", frames[3]
    )


def test_backspaces_erase_the_previous_width_and_padding(clock):
    out = io.StringIO()
    bar = Progbar(3, stream=out, stateful_metrics={"a"})
    bar.update(1, [("a", 123456.0)])
    first_width = len(out.getvalue()) - 1
    clock.now += 1
    bar.update(3, [("a", 1.0)])
    second = out.getvalue()[first_width + 1 :]
    assert second.startswith("\b" * first_width + "\r")
    line = second[first_width + 1 :]
    assert len(line.rstrip("\n")) >= first_width  # padded with spaces to cover the old text


def test_number_and_time_formats():
    fmt = progbar_module._format_value
    assert fmt(0.12345, use_abs=True) == " 0.1235"
    assert fmt(0.0005, use_abs=True) == " 5.0000e-04"
    assert fmt(-0.5, use_abs=True) == " -0.5000"
    assert fmt(-0.5, use_abs=False) == " -5.0000e-01"  # verbose=2 tests v > 1e-3
    assert fmt(0, use_abs=True) == " 0.0000e+00"
    assert fmt(float("nan"), use_abs=True) == " nan"
    assert progbar_module.format_time(2.4, "step") == " 2s/step"
    assert progbar_module.format_time(0, "step") == " 0s/step"
    assert progbar_module.format_time(0.0021, "step") == " 2ms/step"
    assert progbar_module.format_time(0.000084, "step") == " 84us/step"
    assert progbar_module.format_eta(42.7) == "42s"
    assert progbar_module.format_eta(125) == "2:05"
    assert progbar_module.format_eta(3725) == "1:02:05"


def test_non_stateful_values_are_averaged_by_steps(clock):
    out = io.StringIO()
    bar = Progbar(4, stream=out)
    bar.update(1, [("x", 1.0)])
    clock.now += 1
    bar.update(4, [("x", 3.0)])  # weight 3
    assert "x: 2.5000" in out.getvalue()


def test_verbose_2_prints_one_line_at_the_end(clock):
    out = io.StringIO()
    bar = Progbar(4, verbose=2, stream=out, stateful_metrics={"loss"})
    bar.update(1, [("loss", 1.0)])
    bar.update(3, [("loss", 1.0)])
    assert out.getvalue() == ""
    clock.now += 0.02
    bar.update(4, [("loss", 0.25), ("val_loss", 0.5)])
    assert out.getvalue() == "4/4 - 0s - loss: 0.2500 - val_loss: 0.5000 - 20ms/epoch - 5ms/step\n"


def _fit_output(capsys, **kwargs):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    x = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32)
    model.fit(x, x.sum(1), batch_size=10, **kwargs)
    return model, x, capsys.readouterr().out


def test_fit_verbose_1(capsys):
    _, _, out = _fit_output(capsys, epochs=2, verbose=1, validation_split=0.25)
    lines = out.split("\n")
    assert lines[0] == "Epoch 1/2"
    final = lines[1].split("\r")[-1]
    assert re.fullmatch(
        r"3/3 \[==============================\] - 0s \d+(us|ms)/step - loss: \S+ - mae: \S+"
        r" - val_loss: \S+ - val_mae: \S+",
        final,
    )
    assert lines[2] == "Epoch 2/2"


def test_fit_single_epoch_has_no_epoch_header(capsys):
    _, _, out = _fit_output(capsys, epochs=1, verbose=1)
    assert "Epoch" not in out and out.count("\n") == 1


def test_fit_verbose_2_and_evaluate_predict(capsys):
    model, x, out = _fit_output(capsys, epochs=2, verbose=2)
    lines = out.splitlines()
    assert lines[0] == "Epoch 1/2"
    assert re.fullmatch(
        r"4/4 - 0s - loss: \S+ - mae: \S+ - \d+(us|ms)/epoch - \d+(us|ms)/step", lines[1]
    )
    model.evaluate(x, x.sum(1), batch_size=10, verbose=2)
    assert re.fullmatch(
        r"4/4 - 0s - loss: \S+ - mae: \S+ - \d+(us|ms)/epoch - \d+(us|ms)/step\n",
        capsys.readouterr().out,
    )
    model.predict(x, batch_size=10)  # verbose "auto" = 1
    final = capsys.readouterr().out.split("\r")[-1]
    assert re.fullmatch(r"4/4 \[==============================\] - 0s \d+(us|ms)/step\n", final)


def test_count_mode_is_checked():
    with pytest.raises(ValueError, match="Unknown `count_mode`"):
        keras.callbacks.ProgbarLogger(count_mode="epochs")


class _Stream(io.StringIO):
    def __init__(self, tty):
        super().__init__()
        self.tty = tty

    def isatty(self):
        return self.tty


@pytest.mark.parametrize("tty", [True, False])
def test_dynamic_display_follows_keras_rule(monkeypatch, tty):
    # 'posix' loaded (Linux, macOS): carriage-return redraws whatever stdout is.
    monkeypatch.setattr(sys, "stdout", _Stream(tty))
    assert progbar_module._dynamic_display() is True
    # Elsewhere (Windows, no IPython, no PyCharm): only on a terminal.
    monkeypatch.delitem(sys.modules, "posix", raising=False)
    monkeypatch.delitem(sys.modules, "ipykernel", raising=False)
    monkeypatch.delenv("PYCHARM_HOSTED", raising=False)
    assert progbar_module._dynamic_display() is tty
    monkeypatch.setenv("PYCHARM_HOSTED", "1")
    assert progbar_module._dynamic_display() is True


def test_without_dynamic_display_each_draw_starts_a_new_line(clock, monkeypatch):
    out = io.StringIO()
    monkeypatch.setattr(progbar_module, "_dynamic_display", lambda: False)
    bar = Progbar(2, stream=out, stateful_metrics={"a"})
    bar.update(1, [("a", 1.0)])
    clock.now += 1
    bar.update(2, [("a", 2.0)])
    assert out.getvalue() == (
        "\n1/2 [==============>...............] - ETA: 0s - a: 1.0000"
        "\n2/2 [==============================] - 1s 1s/step - a: 2.0000\n"
    )
