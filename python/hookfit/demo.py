"""``python -m hookfit.demo``: the Keras 2 callback tutorial, run on hookfit.

Runs the tutorial's four examples ("Writing your own callbacks", tf.keras) in
order, in this process: the scripts in ``hookfit/tutorial/`` (the files that
``examples/`` links to in the repository), each after a ``== n/4 ... ==``
title line. Their data is MNIST when Keras's ``mnist.npz`` is in
``~/.keras/datasets/``, else the UCI handwritten digits shipped with hookfit
(the tutorial downloads MNIST; hookfit never downloads). The run is seeded
once with ``hookfit.utils.set_random_seed``, so it is reproducible.
"""

import argparse
import runpy
from pathlib import Path

import hookfit as keras
from hookfit import tutorial
from hookfit.datasets import mnist_or_digits

DEFAULT_SEED = 1
DEFAULT_PLOT = "hookfit-demo-history.png"

# The tutorial's examples in its order, each with the title printed before it.
EXAMPLES = [
    ("01_custom_callback.py",
     "CustomCallback: the hooks of fit (with validation), evaluate, predict"),
    ("02_loss_and_error_printing.py",
     "LossAndErrorPrintingCallback: the logs dict"),
    ("03_early_stopping_at_min_loss.py",
     "EarlyStoppingAtMinLoss: self.model.stop_training"),
    ("04_custom_learning_rate_scheduler.py",
     "CustomLearningRateScheduler: self.model.optimizer.learning_rate"),
]


def main(seed=DEFAULT_SEED, plot=DEFAULT_PLOT):
    """Run the tutorial's four examples in order, printing what the tutorial
    prints; then save a History plot to ``plot`` (None: skip it)."""
    keras.utils.set_random_seed(seed)
    print("hookfit demo: the Keras callback tutorial, run with `import hookfit as keras`")
    print(f"data: {mnist_or_digits.describe()}")
    print(f"seed: {seed} (hookfit.utils.set_random_seed)")
    folder = Path(tutorial.__file__).parent
    for number, (script, title) in enumerate(EXAMPLES, start=1):
        print(f"\n== {number}/{len(EXAMPLES)} {title} ==", flush=True)
        runpy.run_path(str(folder / script), run_name="__main__")
    if plot is not None:
        save_history_plot(plot)


def save_history_plot(path):
    """Beyond the tutorial: the loss curves of a fit with validation, as a PNG."""
    print("\n-- beyond the tutorial: History.plot() --")
    (x_train, y_train), _ = mnist_or_digits.load_data()
    x = x_train.reshape(-1, 784).astype("float32")[:1000] / 255.0
    model = keras.Sequential([keras.layers.Dense(1, input_dim=784)])
    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=0.01),
        loss="mean_squared_error",
        metrics=["mean_absolute_error"],
    )
    history = model.fit(x, y_train[:1000], batch_size=64, epochs=15, validation_split=0.2, verbose=0)
    try:
        history.plot(path)
    except ImportError as e:
        print(f"History.plot() skipped: {e}")
        return
    print(f"saved the per-epoch loss and MAE (train and validation) to {path}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        prog="python -m hookfit.demo",
        description="Run the Keras callback tutorial on hookfit.",
    )
    parser.add_argument(
        "--seed", type=int, default=DEFAULT_SEED, help="random seed (default: %(default)s)"
    )
    parser.add_argument(
        "--plot",
        default=DEFAULT_PLOT,
        help="where History.plot() saves its PNG (default: %(default)s); 'none' skips it",
    )
    args = parser.parse_args()
    main(seed=args.seed, plot=None if args.plot.lower() == "none" else args.plot)
