"""The per-batch Python path of custom metrics inside the loops, and how
vector-valued metrics (several thresholds) go through the callbacks, as
tf-keras 2.21 does: the progress bar shows the vector's mean, CSVLogger
writes it as a quoted "[a, b]" string, EarlyStopping on it fails as Keras's
comparison of arrays does."""

import logging

import numpy as np
import pytest

import hookfit
from hookfit import metrics as hm
from hookfit.callbacks.backup_and_restore import BackupAndRestore


def abs_error(y_true, y_pred):
    return np.mean(np.abs(y_true - y_pred), axis=-1)


class Counting(hm.Metric):
    """Counts the rows it saw (its value is checked against the batches run)."""

    def __init__(self, name="rows"):
        super().__init__(name=name)
        self.n = self.add_weight("n")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.n.assign_add(len(y_pred))

    def result(self):
        return self.n.numpy()


def data(n=40):
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = (rng.uniform(size=(n, 1)) < 0.5).astype(np.float32)
    return x, y


def model(metrics, seed=5):
    hookfit.utils.set_random_seed(seed)
    m = hookfit.Sequential([hookfit.layers.Dense(4, activation="tanh"), hookfit.layers.Dense(1, activation="sigmoid")])
    m.build((None, 3))
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=metrics)
    return m


def test_custom_metric_sees_the_train_steps_own_predictions_in_the_shuffled_order():
    x, y = data()
    seen = []

    def record(y_true, y_pred):
        seen.append((np.array(y_true), np.array(y_pred)))
        return np.zeros(len(y_pred), np.float32)

    m = model([record])
    weights = []
    m.fit(x, y, batch_size=8, epochs=1, verbose=0,
          callbacks=[hookfit.callbacks.LambdaCallback(on_train_batch_begin=lambda b, l: weights.append(m.get_weights()))])
    assert len(seen) == 5
    for (y_true, y_pred), w in zip(seen, weights):
        # The rows match: y_pred is the model with the batch's starting weights
        # on the rows whose labels came with it (recover them by prediction).
        probe = hookfit.Sequential([hookfit.layers.Dense(4, activation="tanh"),
                                    hookfit.layers.Dense(1, activation="sigmoid")])
        probe.build((None, 3))
        probe.set_weights(w)
        all_pred = probe.predict(x, verbose=0)
        rows = [int(np.argmin(np.abs(all_pred[:, 0] - p))) for p in y_pred[:, 0]]
        np.testing.assert_allclose(all_pred[rows], y_pred, rtol=1e-6)
        np.testing.assert_array_equal(y[rows], y_true)


def test_logs_order_and_resets_follow_keras2():
    x, y = data()
    rows = Counting()
    m = model([abs_error, "mae", rows])
    hh = m.fit(x, y, batch_size=8, epochs=2, verbose=0, validation_data=(x[:10], y[:10])).history
    assert list(hh) == ["loss", "abs_error", "mae", "rows", "val_loss", "val_abs_error", "val_mae", "val_rows"]
    assert hh["rows"] == [40.0, 40.0] and hh["val_rows"] == [10.0, 10.0]  # reset each epoch / test
    assert m.metrics_names == ["loss", "abs_error", "mae", "rows"]
    assert float(rows.result()) == 10.0  # the last run was the validation
    m.evaluate(x, y, batch_size=7, verbose=0)
    assert float(rows.result()) == 40.0
    # train_on_batch with reset_metrics=False accumulates, as Keras's
    m.train_on_batch(x[:5], y[:5])
    logs = m.train_on_batch(x[:5], y[:5], reset_metrics=False, return_dict=True)
    assert logs["rows"] == 10.0
    assert m.metrics[3] is rows


def test_steps_per_execution_and_batch_hooks_keep_the_custom_values_exact():
    x, y = data()
    a = model([abs_error, Counting()])
    b = model([abs_error, Counting()])
    ha = a.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False).history
    logs = []
    b.compile(optimizer="adam", loss="binary_crossentropy", metrics=[abs_error, Counting()], steps_per_execution=2)
    hb = b.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False,
               callbacks=[hookfit.callbacks.LambdaCallback(on_train_batch_end=lambda i, l: logs.append(l))]).history
    assert ha == hb
    assert [entry["rows"] for entry in logs[:3]] == [16.0, 32.0, 40.0]


def test_custom_metric_errors_propagate_and_leave_the_model_usable():
    x, y = data()

    def broken(y_true, y_pred):
        raise RuntimeError("my metric is broken")

    m = model([broken])
    with pytest.raises(RuntimeError, match="my metric is broken"):
        m.fit(x, y, batch_size=8, epochs=1, verbose=0)
    m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["mae"])
    assert np.isfinite(m.fit(x, y, batch_size=8, epochs=1, verbose=0).history["loss"][0])


def test_mid_epoch_resume_restarts_the_custom_metrics_with_a_warning(tmp_path, caplog):
    # tf-keras saves no metric state in its backup either; hookfit's built-in
    # accumulators are restored exactly, custom ones restart at the resume.
    x, y = data()

    class Stop(hookfit.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 2:
                raise KeyboardInterrupt

    m = model([Counting(), "mae"])
    with pytest.raises(KeyboardInterrupt):
        m.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
              callbacks=[Stop(), BackupAndRestore(str(tmp_path), save_freq=1)])
    reference = model([Counting(), "mae"]).fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False).history
    resumed = model([Counting(), "mae"])
    with caplog.at_level(logging.WARNING, logger="hookfit"):
        hh = resumed.fit(x, y, batch_size=8, epochs=1, verbose=0, shuffle=False,
                         callbacks=[BackupAndRestore(str(tmp_path), save_freq=1)]).history
    assert "custom metrics ['rows'] is not in the backup" in caplog.text
    # The last backup is batch 1's end (Stop raised before the backup of
    # batch 2 was written): the custom metric saw batches 2..4 only.
    assert hh["rows"] == [24.0]
    assert hh["mae"] == reference["mae"] and hh["loss"] == reference["loss"]


def test_vector_metrics_through_progress_bar_csv_logger_and_early_stopping(tmp_path, capsys):
    x, y = data()
    m = model([hm.Precision(thresholds=[0.2, 0.8], name="p")])
    csv = tmp_path / "log.csv"
    hh = m.fit(x, y, batch_size=40, epochs=1, verbose=2,
               callbacks=[hookfit.callbacks.CSVLogger(str(csv))]).history
    p = hh["p"][0]
    assert isinstance(p, np.ndarray) and p.shape == (2,)
    assert f"p: {p.mean():.4f}" in capsys.readouterr().out
    row = csv.read_text().splitlines()[1]
    assert f'"""[{str(p[0])}, {str(p[1])}]"""' in row  # tf-keras's handle_value, csv-quoted
    with pytest.raises(ValueError, match="truth value of an array"):
        m.fit(x, y, epochs=2, verbose=0, callbacks=[hookfit.callbacks.EarlyStopping(monitor="p")])


def test_one_process_data_parallel_runs_the_ordinary_path_with_custom_metrics():
    # Several ranks refuse custom and vector metrics (NotImplementedError in
    # trainer._parallel); one process is the ordinary fit.
    x, y = data()
    from hookfit.distribute import DataParallel

    hh = model([Counting()]).fit(x, y, batch_size=8, epochs=1, verbose=0, distribute=DataParallel()).history
    assert hh["rows"] == [40.0]


def test_last_batch_output_is_the_steps_own_output_and_refused_before_any_batch():
    from hookfit.errors import PositionError
    from hookfit.trainers import data_adapter as da

    x, y = data()
    m = model(["mae"])
    network = m._network
    with pytest.raises(PositionError, match="no train or test batch"):
        network.last_batch_output()
    before = m.predict(x[:13], verbose=0)
    d = da.make_dataset(x, y)
    network.train_batch(d, 0, 13, 0.01)
    np.testing.assert_allclose(network.last_batch_output(), before, rtol=1e-6, atol=1e-7)
    network.train_batches(d, 0, 40, 16, 0.01)  # the last batch: rows 32..39
    assert network.last_batch_output().shape == (8, 1)
    network.test_batch(d, 5, 7)
    np.testing.assert_allclose(network.last_batch_output(), m.predict(x[5:12], verbose=0), rtol=1e-6, atol=1e-7)
    m.predict(x, verbose=0)
    with pytest.raises(PositionError, match="no train or test batch"):
        network.last_batch_output()
