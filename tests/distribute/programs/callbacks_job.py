"""Run by test_mpi.py as ``python -m hookfit.distribute callbacks_job.py
DIR MODE``: Keras callbacks in a data-parallel fit. MODE is ``straight``,
``interrupt`` (raises at epoch 2, batch 1 on every rank, after a mid-epoch
backup; caught here) or ``resume`` (fresh weights: all from the backup).
Rank 0 writes DIR/MODE.json."""

import hashlib
import json
import os
import sys

import numpy as np

import hookfit as keras
import hookfit.distribute as hd

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fit_job import data  # noqa: E402

out_dir, mode = sys.argv[1], sys.argv[2]


class Interrupt(keras.callbacks.Callback):
    def __init__(self, active):
        super().__init__()
        self.active, self.epoch = active, 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.active and (self.epoch, batch) == (2, 1):
            raise RuntimeError("interrupted on purpose")


def model(seed):
    keras.utils.set_random_seed(seed)
    m = keras.Sequential([
        keras.layers.Dense(16, activation="relu", input_dim=8),
        keras.layers.Dense(3, activation="softmax"),
    ])
    m.compile(optimizer=keras.optimizers.Adam(0.02), loss="sparse_categorical_crossentropy",
              metrics=["accuracy"])
    return m


def callbacks(tag, backup, interrupt):
    return [
        keras.callbacks.EarlyStopping(monitor="val_loss", patience=1, min_delta=0.05),
        keras.callbacks.ReduceLROnPlateau(monitor="loss", patience=0, min_delta=0.2, factor=0.5),
        keras.callbacks.CSVLogger(os.path.join(out_dir, f"{tag}.csv")),
        keras.callbacks.ModelCheckpoint(os.path.join(out_dir, f"{tag}-ck.weights.npz"),
                                        save_weights_only=True),
        keras.callbacks.BackupAndRestore(backup, save_freq=3),
        Interrupt(interrupt),
    ]


def run(m, tag, backup, interrupt, verbose=1):
    x, y = data(120)
    keras.utils.set_random_seed(11)
    history = m.fit(x, y, batch_size=20, epochs=8, verbose=verbose, validation_split=0.2,
                    callbacks=callbacks(tag, backup, interrupt))
    return history.history, m.get_weights()


if __name__ == "__main__":
    backup = os.path.join(out_dir, "backup-" + ("straight" if mode == "straight" else "resumed"))
    seed = 3 if mode != "resume" else 40 + hd.rank()
    try:
        history, weights = run(model(seed), mode, backup, mode == "interrupt")
    except RuntimeError as e:
        history, weights = {"error": str(e)}, []
    digest = hashlib.sha256(b"".join(w.tobytes() for w in weights)).hexdigest()
    digests = [d.decode() for d in hd.world().allgather_bytes(digest.encode())]
    if hd.is_chief():
        with open(os.path.join(out_dir, f"{mode}.json"), "w") as f:
            json.dump({"history": history, "weights": [w.tolist() for w in weights],
                       "digests": digests}, f, default=float)
