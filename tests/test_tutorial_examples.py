"""The Keras callback tutorial, end to end: hookfit/tutorial/*.py, examples/ and ``python -m hookfit.demo``.

The tutorial's four examples are package files (hookfit/tutorial/, run in
process here, from the installed package); examples/ links to them and the
demo runs them.

The expected output is the tutorial's own printed output (the user's copy of
Keras's "Writing your own callbacks" guide, run with tf.keras 2). Numbers
depend on the data and the initial weights, so the losses are checked against
the model's own History and evaluate results; the hook sequence, the log keys,
the batch counts, the early-stopping lines and the LR schedule are checked
exactly. Lines from the progress bar (predict's default verbose) and logging
(the slow-callback warning goes to the logger, not stdout) are not callback
output and are ignored.
"""

import math
import os
import re
import runpy
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import hookfit
from hookfit import demo, tutorial

TUTORIAL = Path(tutorial.__file__).resolve().parent  # as installed
REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples"
SEED = 1

# Example 1's output, verbatim from the tutorial (its progress-bar fragments
# and its WARNING line included: the parser below skips them, as it does ours).
TUTORIAL_EXAMPLE_1_OUTPUT = """\
Starting training; got log keys: []
Start epoch 0 of training; got log keys: []
...Training: start of batch 0; got log keys: []
...Training: end of batch 0; got log keys: ['loss', 'mean_absolute_error']
...Training: start of batch 1; got log keys: []
...Training: end of batch 1; got log keys: ['loss', 'mean_absolute_error']
...Training: start of batch 2; got log keys: []
...Training: end of batch 2; got log keys: ['loss', 'mean_absolute_error']
...Training: start of batch 3; got log keys: []
...Training: end of batch 3; got log keys: ['loss', 'mean_absolute_error']
Start testing; got log keys: []
...Evaluating: start of batch 0; got log keys: []
...Evaluating: end of batch 0; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 1; got log keys: []
...Evaluating: end of batch 1; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 2; got log keys: []
...Evaluating: end of batch 2; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 3; got log keys: []
...Evaluating: end of batch 3; got log keys: ['loss', 'mean_absolute_error']
Stop testing; got log keys: ['loss', 'mean_absolute_error']
End epoch 0 of training; got log keys: ['loss', 'mean_absolute_error', 'val_loss', 'val_mean_absolute_error']
Stop training; got log keys: ['loss', 'mean_absolute_error', 'val_loss', 'val_mean_absolute_error']
Start testing; got log keys: []
...Evaluating: start of batch 0; got log keys: []
...Evaluating: end of batch 0; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 1; got log keys: []
...Evaluating: end of batch 1; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 2; got log keys: []
...Evaluating: end of batch 2; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 3; got log keys: []
...Evaluating: end of batch 3; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 4; got log keys: []
...Evaluating: end of batch 4; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 5; got log keys: []
...Evaluating: end of batch 5; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 6; got log keys: []
...Evaluating: end of batch 6; got log keys: ['loss', 'mean_absolute_error']
...Evaluating: start of batch 7; got log keys: []
...Evaluating: end of batch 7; got log keys: ['loss', 'mean_absolute_error']
Stop testing; got log keys: ['loss', 'mean_absolute_error']
Start predicting; got log keys: []
...Predicting: start of batch 0; got log keys: []
...Predicting: end of batch 0; got log keys: ['outputs']
1/8 [==>...........................] - ETA: 0s...Predicting: start of batch 1; got log keys: []
...Predicting: end of batch 1; got log keys: ['outputs']
...Predicting: start of batch 2; got log keys: []
...Predicting: end of batch 2; got log keys: ['outputs']
...Predicting: start of batch 3; got log keys: []
...Predicting: end of batch 3; got log keys: ['outputs']
...Predicting: start of batch 4; got log keys: []
...Predicting: end of batch 4; got log keys: ['outputs']
...Predicting: start of batch 5; got log keys: []
...Predicting: end of batch 5; got log keys: ['outputs']
WARNING:tensorflow:Callback method `on_predict_batch_end` is slow compared to the batch time (batch time: 0.0004s vs `on_predict_batch_end` time: 0.0005s). Check your callbacks.
...Predicting: start of batch 6; got log keys: []
...Predicting: end of batch 6; got log keys: ['outputs']
...Predicting: start of batch 7; got log keys: []
...Predicting: end of batch 7; got log keys: ['outputs']
Stop predicting; got log keys: []
8/8 [==============================] - 0s 1ms/step
"""

# Example 4's schedule lines, verbatim from the tutorial (each preceded by an
# empty line, from the "\nEpoch" in the callback's print).
TUTORIAL_EXAMPLE_4_LR_LINES = [
    "Epoch 00000: Learning rate is 0.1000.",
    "Epoch 00001: Learning rate is 0.1000.",
    "Epoch 00002: Learning rate is 0.1000.",
    "Epoch 00003: Learning rate is 0.0500.",
    "Epoch 00004: Learning rate is 0.0500.",
    "Epoch 00005: Learning rate is 0.0500.",
    "Epoch 00006: Learning rate is 0.0100.",
    "Epoch 00007: Learning rate is 0.0100.",
    "Epoch 00008: Learning rate is 0.0100.",
    "Epoch 00009: Learning rate is 0.0050.",
    "Epoch 00010: Learning rate is 0.0050.",
    "Epoch 00011: Learning rate is 0.0050.",
    "Epoch 00012: Learning rate is 0.0010.",
    "Epoch 00013: Learning rate is 0.0010.",
    "Epoch 00014: Learning rate is 0.0010.",
]

# One CustomCallback message; found anywhere in a line, because a progress
# bar may share the line (as "... - ETA: 0s...Predicting: ..." in the tutorial).
HOOK_MESSAGE = re.compile(
    r"(?:\.\.\.(?:Training|Evaluating|Predicting): (?:start|end) of batch \d+"
    r"|Starting training|Stop training|Start epoch \d+ of training"
    r"|End epoch \d+ of training|Start testing|Stop testing"
    r"|Start predicting|Stop predicting)"
    r"; got log keys: \[[^\]]*\]"
)
BATCH_LINE = re.compile(r"^Up to batch (\d+), the average loss is (.{7,})\.$")
EPOCH_LINE = re.compile(
    r"^The average loss for epoch (\d+) is (.{7,}) and mean absolute error is (.{7,})\.$"
)
LR_LINE = re.compile(r"^Epoch \d{5}: Learning rate is \d\.\d{4}\.$")


def hook_messages(text):
    return HOOK_MESSAGE.findall(text)


def loss_lines(text):
    """The LossAndErrorPrintingCallback lines, as ('batch', i, value) / ('epoch', e, loss, mae)."""
    found = []
    for line in text.splitlines():
        if match := BATCH_LINE.match(line):
            found.append(("batch", int(match[1]), match[2]))
        elif match := EPOCH_LINE.match(line):
            found.append(("epoch", int(match[1]), match[2], match[3]))
    return found


def f72(value):
    return "{:7.2f}".format(value)


@pytest.fixture
def no_mnist(tmp_path, monkeypatch):
    """An empty Keras home, so the examples use the embedded digits (the same on every machine)."""
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    return tmp_path


def run_example(name, capsys, data="UCI handwritten digits"):
    """Run hookfit/tutorial/<name> in this process, seeded; return (stdout, the script's globals)."""
    hookfit.utils.set_random_seed(SEED)
    script_globals = runpy.run_path(str(TUTORIAL / name), run_name="__main__")
    captured = capsys.readouterr()
    assert f"[data] {data}" in captured.err
    return captured.out, script_globals


def check_epoch_lines_against_history(out, history):
    """The epoch lines print the epoch logs, which History recorded."""
    epoch_lines = [line for line in loss_lines(out) if line[0] == "epoch"]
    assert [(line[2], line[3]) for line in epoch_lines] == [
        (f72(loss), f72(mae))
        for loss, mae in zip(history["loss"], history["mean_absolute_error"])
    ]


def check_example_1(out):
    assert hook_messages(out) == hook_messages(TUTORIAL_EXAMPLE_1_OUTPUT)


def check_example_2(out, n_train, n_test, evaluate_result):
    lines = loss_lines(out)
    batches = math.ceil(n_train / 128)
    expected_shape = []
    for epoch in range(2):
        expected_shape += [("batch", i) for i in range(batches)] + [("epoch", epoch)]
    expected_shape += [("batch", i) for i in range(math.ceil(n_test / 128))]
    assert [line[:2] for line in lines] == expected_shape
    # The printed values are the logs' running means: an epoch's loss is the
    # value after its last batch, and evaluate returns its last batch's value.
    # (model.history cannot be checked here: as in Keras 2, evaluate gives the
    # model a fresh History.)
    for index, line in enumerate(lines):
        if line[0] == "epoch":
            assert lines[index - 1][2] == line[2]
    assert lines[-1][2] == f72(evaluate_result[0])
    values = [float(line[2]) for line in lines]
    assert all(np.isfinite(values)) and min(values) > 0


def check_example_3(out, history):
    lines = out.splitlines()
    restore = "Restoring model weights from the end of the best epoch."
    assert restore in lines
    assert lines[-1].startswith("Epoch ") and lines[-1].endswith(": early stopping")
    assert lines[-2] == restore
    n_epochs = len(history["loss"])
    assert 2 <= n_epochs < 30  # it stopped early
    assert lines[-1] == "Epoch %05d: early stopping" % n_epochs
    # Patience 0: every epoch improved on the last, except the final one.
    losses = history["loss"]
    assert all(later < earlier for earlier, later in zip(losses[:-2], losses[1:-1]))
    assert not losses[-1] < min(losses[:-1])
    # 5 batch lines then the epoch line, for every epoch run.
    expected_shape = []
    for epoch in range(n_epochs):
        expected_shape += [("batch", i) for i in range(5)] + [("epoch", epoch)]
    assert [line[:2] for line in loss_lines(out)] == expected_shape
    check_epoch_lines_against_history(out, history)


def check_example_4(out, history):
    lines = out.splitlines()
    lr_lines = [line for line in lines if LR_LINE.match(line)]
    assert lr_lines == TUTORIAL_EXAMPLE_4_LR_LINES
    for lr_line in lr_lines:
        assert lines[lines.index(lr_line) - 1] == ""
    expected_shape = []
    for epoch in range(15):
        expected_shape += [("batch", i) for i in range(5)] + [("epoch", epoch)]
    assert [line[:2] for line in loss_lines(out)] == expected_shape
    check_epoch_lines_against_history(out, history)


def test_tutorial_output_parses_as_the_tutorial_shows():
    # Guards the parser itself: fit 22 messages, evaluate 18, predict 18; the bar
    # fragment and the WARNING line skipped.
    messages = hook_messages(TUTORIAL_EXAMPLE_1_OUTPUT)
    assert len(messages) == 58
    assert messages[0] == "Starting training; got log keys: []"
    assert messages[-1] == "Stop predicting; got log keys: []"
    assert "...Predicting: start of batch 1; got log keys: []" in messages


def test_example_1_custom_callback_hook_trace(no_mnist, capsys):
    out, _ = run_example("01_custom_callback.py", capsys)
    check_example_1(out)


def test_example_2_loss_and_error_printing(no_mnist, capsys):
    out, g = run_example("02_loss_and_error_printing.py", capsys)
    assert len(g["x_train"]) == 797 and len(g["x_test"]) == 1000
    check_example_2(out, len(g["x_train"]), len(g["x_test"]), g["res"])


def test_example_3_early_stopping_at_min_loss(no_mnist, capsys):
    out, g = run_example("03_early_stopping_at_min_loss.py", capsys)
    check_example_3(out, g["model"].history.history)


def test_example_4_custom_learning_rate_scheduler(no_mnist, capsys):
    out, g = run_example("04_custom_learning_rate_scheduler.py", capsys)
    check_example_4(out, g["model"].history.history)
    lr = hookfit.backend.get_value(g["model"].optimizer.learning_rate)
    assert float(lr) == pytest.approx(0.001)


def test_examples_use_mnist_when_the_user_has_it(no_mnist, capsys):
    # A synthetic file in Keras's mnist.npz format where Keras keeps it: with
    # 1000 training rows, example 2 runs the tutorial's 8 batches per epoch.
    folder = no_mnist / "keras_home" / "datasets"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.savez(
        folder / "mnist.npz",
        x_train=rng.integers(0, 256, (1200, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 1200, dtype=np.uint8),
        x_test=rng.integers(0, 256, (1000, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 1000, dtype=np.uint8),
    )
    out, g = run_example("02_loss_and_error_printing.py", capsys, data="MNIST")
    assert len(g["x_train"]) == 1000
    check_example_2(out, 1000, 1000, g["res"])
    assert sum(line[0] == "batch" for line in loss_lines(out)) == 8 + 8 + 8


def test_examples_are_reproducible_with_a_seed(no_mnist, capsys):
    first, _ = run_example("04_custom_learning_rate_scheduler.py", capsys)
    second, _ = run_example("04_custom_learning_rate_scheduler.py", capsys)
    assert loss_lines(first) == loss_lines(second)


def test_examples_folder_links_to_the_tutorial_files_the_demo_runs():
    # One copy of the tutorial's code: examples/NN_name.py are links to the
    # package's files (the installed ones hold the same text), and the demo
    # runs exactly those files, in order.
    scripts = sorted(path.name for path in TUTORIAL.glob("0*.py"))
    assert [name for name, _ in demo.EXAMPLES] == scripts
    assert len(scripts) == 4
    assert sorted(path.name for path in EXAMPLES.glob("*.py")) == scripts
    for name in scripts:
        link = EXAMPLES / name
        assert link.is_symlink()
        assert link.resolve() == REPO / "python" / "hookfit" / "tutorial" / name
        assert link.read_bytes() == (TUTORIAL / name).read_bytes()


@pytest.mark.slow
def test_example_scripts_run_as_scripts(no_mnist):
    # As a user runs them: `python examples/NN_name.py`, from another folder.
    env = dict(os.environ, KERAS_HOME=str(no_mnist / "keras_home"))
    for script in sorted(EXAMPLES.glob("0*.py")):
        result = subprocess.run(
            [sys.executable, str(script)],
            capture_output=True, text=True, env=env, cwd=no_mnist, timeout=300,
        )
        assert result.returncode == 0, (script.name, result.stderr)
        assert "[data] UCI handwritten digits" in result.stderr
        if script.name.startswith("01"):
            check_example_1(result.stdout)
        else:
            assert loss_lines(result.stdout)
    # And from the repository's root, by the relative path examples/README.md gives.
    result = subprocess.run(
        [sys.executable, "examples/01_custom_callback.py"],
        capture_output=True, text=True, env=env, cwd=REPO, timeout=300,
    )
    assert result.returncode == 0, result.stderr
    check_example_1(result.stdout)


def run_demo(keras_home, *args):
    env = dict(os.environ, KERAS_HOME=str(keras_home))
    result = subprocess.run(
        [sys.executable, "-m", "hookfit.demo", "--plot", str(keras_home / "history.png"), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture(scope="module")
def demo_keras_home(tmp_path_factory):
    """An empty Keras home: the demo then uses the embedded digits."""
    return tmp_path_factory.mktemp("keras_home")


@pytest.fixture(scope="module")
def demo_output(demo_keras_home):
    return run_demo(demo_keras_home)


@pytest.mark.slow
def test_python_m_hookfit_demo_runs_the_tutorial(demo_output):
    out = demo_output
    lines = out.splitlines()
    assert lines[0].startswith("hookfit demo:")
    assert lines[1].startswith("data: UCI handwritten digits")
    assert lines[2] == "seed: 1 (hookfit.utils.set_random_seed)"
    titles = [line for line in lines if line.startswith("== ")]
    assert [t.split()[1] for t in titles] == ["1/4", "2/4", "3/4", "4/4"]
    sections = re.split(r"^== .* ==$", out, flags=re.MULTILINE)[1:]
    check_example_1(sections[0])
    # No History object in a subprocess: check the shape of the printed lines.
    two = loss_lines(sections[1])
    assert [line[:2] for line in two] == (
        [("batch", i) for i in range(7)] + [("epoch", 0)]
        + [("batch", i) for i in range(7)] + [("epoch", 1)]
        + [("batch", i) for i in range(8)]
    )
    three = sections[2].rstrip().splitlines()
    assert three[-2] == "Restoring model weights from the end of the best epoch."
    assert re.fullmatch(r"Epoch \d{5}: early stopping", three[-1])
    four = [line for line in sections[3].splitlines() if LR_LINE.match(line)]
    assert four == TUTORIAL_EXAMPLE_4_LR_LINES


def test_demo_saves_a_history_plot(demo_output, demo_keras_home):
    pytest.importorskip("matplotlib", reason="History.plot() needs the 'plot' extra")
    png = demo_keras_home / "history.png"
    assert f"to {png}" in demo_output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_demo_is_reproducible_and_seeded(demo_output, demo_keras_home):
    assert loss_lines(run_demo(demo_keras_home)) == loss_lines(demo_output)
    other = run_demo(demo_keras_home, "--seed", "2")
    assert "seed: 2 (hookfit.utils.set_random_seed)" in other
    assert loss_lines(other) != loss_lines(demo_output)
