"""plot_history / History.plot: a PNG with each metric and its val_ twin."""

import os

import pytest

pytest.importorskip("matplotlib", reason="matplotlib (extra 'plot') draws the figure")

from hookfit.utils.plotting import plot_history


class FakeHistory:
    history = {"loss": [3.0, 2.0, 1.5], "val_loss": [3.5, 2.5, 2.0], "mae": [1.0, 0.8, 0.7], "lr": [0.1, 0.1, 0.01]}
    epoch = [0, 1, 2]


def test_png_written_with_one_panel_per_metric(tmp_path):
    path = tmp_path / "history.png"
    figure = plot_history(FakeHistory(), path)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.listdir(tmp_path) == ["history.png"]
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ["loss", "mae", "lr"]
    loss_axes = figure.axes[0]
    assert [line.get_label() for line in loss_axes.get_lines()] == ["loss", "val_loss"]
    assert list(loss_axes.get_lines()[1].get_ydata()) == [3.5, 2.5, 2.0]
    assert list(loss_axes.get_lines()[0].get_xdata()) == [1, 2, 3]  # 1-based epochs


def test_accepts_the_dict_and_returns_figure_without_path():
    figure = plot_history({"loss": [1.0, 0.5]})
    assert [ax.get_title() for ax in figure.axes] == ["loss"]


def test_bad_input():
    with pytest.raises(ValueError, match="empty"):
        plot_history({})
    with pytest.raises(TypeError, match="History"):
        plot_history([1, 2, 3])


def test_history_plot_after_fit(tmp_path):
    import numpy as np

    import hookfit as keras

    x = np.ones((20, 2), np.float32)
    y = np.zeros((20, 1), np.float32)
    model = keras.Sequential([keras.layers.Dense(1, input_dim=2)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    history = model.fit(x, y, epochs=3, validation_split=0.5, verbose=0)
    figure = history.plot(tmp_path / "h.png")
    assert (tmp_path / "h.png").read_bytes()[:4] == b"\x89PNG"
    assert [ax.get_title() for ax in figure.axes] == ["loss", "mae"]
    assert [l.get_label() for l in figure.axes[1].get_lines()] == ["mae", "val_mae"]
