"""Run by test_mpi.py as ``python -m hookfit.distribute layers_sources_job.py
OUT``: data-parallel fits over a shuffled PyDataset (uneven last batch,
steps_per_execution=2, a PyDataset for validation) of a model with Dropout,
over a generator, and a model with BatchNormalization on arrays. Rank 0
writes what the test compares (with one process, or with the thread
backend for BatchNormalization) to OUT (JSON)."""

import hashlib
import json
import sys

import numpy as np

import hookfit as keras
import hookfit.distribute as hd


def data(n, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    y = ((x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)).astype(np.float32)
    return x, y


class Batches(keras.utils.PyDataset):
    def __init__(self, x, y, batch_size):
        super().__init__()
        self.x, self.y, self.batch_size = x, y, batch_size

    def __len__(self):
        return -(-self.x.shape[0] // self.batch_size)

    def __getitem__(self, i):
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[s], self.y[s]


class BatchLogs(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.logs = []

    def on_train_batch_end(self, batch, logs=None):
        self.logs.append([batch, logs["loss"], logs["accuracy"]])


def dropout_model(seed):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_dim=8),
        keras.layers.Dropout(0.3),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"], steps_per_execution=2)
    return m


def bn_model(seed):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.layers.Dense(16, input_dim=8),
        keras.layers.BatchNormalization(momentum=0.8),
        keras.layers.Activation("relu"),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def pydataset_fit(m):
    x, y = data(101)
    vx, vy = data(33, seed=1)
    keras.utils.set_random_seed(7)  # the shuffle stream (rank 0's is used)
    rec = BatchLogs()
    hist = m.fit(Batches(x, y, 20), epochs=3, verbose=2, shuffle=True, callbacks=[rec],
                 validation_data=Batches(vx, vy, 10))
    return hist.history, rec.logs


def generator_fit(m):
    x, y = data(95)
    return m.fit(((x[i : i + 20], y[i : i + 20]) for i in range(0, 95, 20)), epochs=1,
                 verbose=0).history


def bn_fit(m):
    x, y = data(101, seed=2)
    return m.fit(x, y, batch_size=25, epochs=2, verbose=0, shuffle=False).history


def digest(m):
    d = hashlib.sha256(b"".join(w.tobytes() for w in m.get_weights())).hexdigest()
    return [s.decode() for s in hd.world().allgather_bytes(d.encode())]


if __name__ == "__main__":
    out = sys.argv[1]
    result = {}
    # Rank 0's initial weights are broadcast: the other ranks start elsewhere.
    m = dropout_model(3 + 100 * hd.rank())
    result["pydataset"] = pydataset_fit(m)
    result["pydataset_digests"] = digest(m)
    m = dropout_model(3 + 100 * hd.rank())
    result["generator"] = generator_fit(m)
    result["generator_weights"] = [w.tolist() for w in m.get_weights()]
    m = bn_model(5 + 100 * hd.rank())
    result["bn"] = bn_fit(m)
    result["bn_weights"] = [w.tolist() for w in m.get_weights()]
    result["bn_digests"] = digest(m)
    if hd.is_chief():
        with open(out, "w") as f:
            json.dump(result, f)
