"""Run by test_mpi.py as ``python -m hookfit.distribute fit_job.py N BATCH
OUT``: an unchanged Keras-style script (no distribute argument) whose fit,
evaluate, predict and train_on_batch the launcher makes data-parallel. Rank 0 writes what
the test compares with one process to OUT (JSON); the progress bar prints."""

import hashlib
import json
import sys

import numpy as np

import hookfit as keras
import hookfit.distribute as hd

def data(n):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.float32)
    return x, y


def model():
    keras.utils.set_random_seed(3 + 100 * hd.rank())  # rank 0's weights are broadcast
    m = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_dim=8),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def train_on_batches(m, x, y):
    """A custom loop of train_on_batch calls (data-parallel under the
    launcher): an uneven batch, a one-row batch (one rank gets no rows),
    class weights, and metrics kept across calls."""
    return [
        m.train_on_batch(x[:37], y[:37]),
        m.train_on_batch(x[5:6], y[5:6]),
        m.train_on_batch(x[10:42], y[10:42], class_weight={0: 1.0, 1: 2.0, 2: 0.5}),
        m.train_on_batch(x[:20], y[:20], reset_metrics=False, return_dict=True),
    ]


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append([batch, logs["loss"], logs["accuracy"]])


def in_shared_window(m):
    """Whether the model's gradients live in the node shared window (the
    ranks share this machine: the sum needs no Allreduce)."""
    shared = hd.world()._shared
    buf = m._network.reduce_buffer
    return shared is not None and shared.lent is not None and shared.holds(buf)


class WindowCheck(keras.callbacks.Callback):
    def on_train_batch_begin(self, batch, logs=None):
        self.seen = in_shared_window(self.model)


if __name__ == "__main__":
    n, batch_size, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    x, y = data(n)
    m = model()
    keras.utils.set_random_seed(7)  # the shuffle stream (rank 0's is used)
    rec, window = BatchLogs(), WindowCheck()
    history = m.fit(x, y, batch_size=batch_size, epochs=3, verbose=2, callbacks=[rec, window],
                    validation_split=0.25, sample_weight=np.linspace(0.5, 1.5, n).astype(np.float32))
    ev = m.evaluate(x, y, batch_size=batch_size, verbose=0)
    pred = m.predict(x, batch_size=batch_size, verbose=0)
    on_batch = train_on_batches(m, x, y)
    digest = hashlib.sha256(b"".join(w.tobytes() for w in m.get_weights())).hexdigest()
    digests = [d.decode() for d in hd.world().allgather_bytes(digest.encode())]
    if hd.is_chief():
        with open(out, "w") as f:
            json.dump({"history": history.history, "batches": rec.logs, "evaluate": ev,
                       "predict": pred.tolist(), "train_on_batch": on_batch, "weights": [w.tolist() for w in m.get_weights()],
                       "digests": digests,
                       "shared_window": [window.seen, in_shared_window(m)]}, f)
