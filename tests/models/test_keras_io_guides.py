"""The dense-network code of keras-io's "Functional API" and "Training &
evaluation with the built-in methods" guides, run with only the import and the
data loading changed (small random MNIST-shaped arrays instead of the
download). Sections needing layers hookfit does not have (Conv2D, Embedding,
LSTM, custom layers with add_loss, tf.data) are left out; so is plot_model.
"""

import numpy as np
import pytest

import hookfit as keras
from hookfit import layers


def load_mnist_like(n_train=600, n_test=200):
    rng = np.random.default_rng(0)
    x_train = rng.integers(0, 256, (n_train, 28, 28)).astype("uint8")
    x_test = rng.integers(0, 256, (n_test, 28, 28)).astype("uint8")
    return (x_train, rng.integers(0, 10, n_train)), (x_test, rng.integers(0, 10, n_test))


def _from_logits_supported():
    try:
        keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    except ValueError:
        return False
    return True


def _keras_files_supported():
    import tempfile, os

    inputs = keras.Input(shape=(2,))
    model = keras.Model(inputs, keras.layers.Dense(1)(inputs))  # the guides' models are functional
    with tempfile.TemporaryDirectory() as d:
        try:
            model.save(os.path.join(d, "probe.keras"))
        except ValueError:
            return False
    return True


needs_keras_files = pytest.mark.skipif(
    not _keras_files_supported(), reason=".keras files of functional models are not in this build yet"
)
needs_from_logits = pytest.mark.skipif(
    not _from_logits_supported(), reason="from_logits=True losses are not in this build yet"
)


@needs_from_logits
@needs_keras_files
def test_functional_api_guide_mnist(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = keras.Input(shape=(784,))
    img_inputs = keras.Input(shape=(32, 32, 3))
    assert inputs.shape == (None, 784) and inputs.dtype == "float32"
    assert img_inputs.shape == (None, 32, 32, 3)

    dense = layers.Dense(64, activation="relu")
    x = dense(inputs)
    x = layers.Dense(64, activation="relu")(x)
    outputs = layers.Dense(10)(x)
    model = keras.Model(inputs=inputs, outputs=outputs, name="mnist_model")
    model.summary()

    (x_train, y_train), (x_test, y_test) = load_mnist_like()
    x_train = x_train.reshape(600, 784).astype("float32") / 255
    x_test = x_test.reshape(200, 784).astype("float32") / 255

    model.compile(
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        optimizer=keras.optimizers.RMSprop(),
        metrics=["accuracy"],
    )
    history = model.fit(x_train, y_train, batch_size=64, epochs=2, validation_split=0.2)
    test_scores = model.evaluate(x_test, y_test, verbose=2)
    print("Test loss:", test_scores[0])
    print("Test accuracy:", test_scores[1])
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}

    model.save("path_to_my_model.keras")
    before = model.predict(x_test, verbose=0)
    del model
    model = keras.models.load_model("path_to_my_model.keras")
    np.testing.assert_allclose(model.predict(x_test, verbose=0), before, rtol=1e-6)


def get_uncompiled_model():
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)
    return model


def get_compiled_model():
    model = get_uncompiled_model()
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )
    return model


def training_guide_data():
    (x_train, y_train), (x_test, y_test) = load_mnist_like(n_train=1200)
    x_train = x_train.reshape(1200, 784).astype("float32") / 255
    x_test = x_test.reshape(200, 784).astype("float32") / 255
    y_train = y_train.astype("float32")
    y_test = y_test.astype("float32")
    x_val = x_train[-200:]
    y_val = y_train[-200:]
    x_train = x_train[:-200]
    y_train = y_train[:-200]
    return x_train, y_train, x_val, y_val, x_test, y_test


def test_training_guide_end_to_end_example():
    x_train, y_train, x_val, y_val, x_test, y_test = training_guide_data()
    inputs = keras.Input(shape=(784,), name="digits")
    x = layers.Dense(64, activation="relu", name="dense_1")(inputs)
    x = layers.Dense(64, activation="relu", name="dense_2")(x)
    outputs = layers.Dense(10, activation="softmax", name="predictions")(x)
    model = keras.Model(inputs=inputs, outputs=outputs)

    model.compile(
        optimizer=keras.optimizers.RMSprop(),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    print("Fit model on training data")
    history = model.fit(x_train, y_train, batch_size=64, epochs=2,
                        validation_data=(x_val, y_val))
    assert sorted(history.history) == ["loss", "sparse_categorical_accuracy", "val_loss",
                                       "val_sparse_categorical_accuracy"]
    print("Evaluate on test data")
    results = model.evaluate(x_test, y_test, batch_size=128)
    print("test loss, test acc:", results)
    print("Generate predictions for 3 samples")
    predictions = model.predict(x_test[:3])
    print("predictions shape:", predictions.shape)
    assert predictions.shape == (3, 10)

    model.compile(
        optimizer=keras.optimizers.RMSprop(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=[keras.metrics.SparseCategoricalAccuracy()],
    )
    model.compile(
        optimizer="rmsprop",
        loss="sparse_categorical_crossentropy",
        metrics=["sparse_categorical_accuracy"],
    )


def test_training_guide_validation_split_and_weights():
    x_train, y_train, *_ = training_guide_data()
    model = get_compiled_model()
    model.fit(x_train, y_train, batch_size=64, validation_split=0.2, epochs=1)

    class_weight = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 1.0,
                    # Set weight "2" for class "5", making this class 2x more important
                    5: 2.0, 6: 1.0, 7: 1.0, 8: 1.0, 9: 1.0}
    print("Fit with class weight")
    model = get_compiled_model()
    model.fit(x_train, y_train, class_weight=class_weight, batch_size=64, epochs=1)

    sample_weight = np.ones(shape=(len(y_train),))
    sample_weight[y_train == 5] = 2.0
    print("Fit with sample weight")
    model = get_compiled_model()
    model.fit(x_train, y_train, sample_weight=sample_weight, batch_size=64, epochs=1)


def test_training_guide_callbacks(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x_train, y_train, *_ = training_guide_data()
    model = get_compiled_model()
    callbacks = [
        keras.callbacks.EarlyStopping(
            # Stop training when `val_loss` is no longer improving
            monitor="val_loss",
            # "no longer improving" being defined as "no better than 1e-2 less"
            min_delta=1e-2,
            # "no longer improving" being further defined as "for at least 2 epochs"
            patience=2,
            verbose=1,
        )
    ]
    history = model.fit(x_train, y_train, epochs=20, batch_size=64, callbacks=callbacks,
                        validation_split=0.2)
    assert len(history.history["loss"]) < 20  # random labels: val_loss stops improving


@needs_keras_files
def test_training_guide_checkpoints(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    x_train, y_train, *_ = training_guide_data()

    class LossHistory(keras.callbacks.Callback):
        def on_train_begin(self, logs):
            self.per_batch_losses = []

        def on_batch_end(self, batch, logs):
            self.per_batch_losses.append(logs.get("loss"))

    recorder = LossHistory()
    model = get_compiled_model()
    callbacks = [
        keras.callbacks.ModelCheckpoint(
            filepath="mymodel_{epoch}.keras",  # Keras 3 wants the .keras suffix
            save_best_only=True,
            monitor="val_loss",
            verbose=1,
        ),
        recorder,
    ]
    model.fit(x_train, y_train, epochs=2, batch_size=64, callbacks=callbacks, validation_split=0.2)
    assert len(recorder.per_batch_losses) == 2 * 13
    assert (tmp_path / "mymodel_1.keras").exists()
    restored = keras.models.load_model("mymodel_1.keras")
    assert [l.name for l in restored.layers] == ["digits", "dense_1", "dense_2", "predictions"]
