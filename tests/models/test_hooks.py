"""Hook order and logs for fit (with validation), evaluate and predict, as Keras 2."""

import numpy as np
import pytest

import hookfit as keras

LOSS_KEYS = ["loss", "mae"]
VAL_KEYS = ["loss", "mae", "val_loss", "val_mae"]


def test_fit_with_validation_hook_order(make_model, recorder_cls, data):
    x, y = data  # 50 rows, split 0.5 -> 25 train / 25 validation, batch 10 -> 3 + 3
    rec = recorder_cls()
    make_model().fit(x, y, batch_size=10, epochs=2, verbose=0, validation_split=0.5, callbacks=[rec])
    expected = [("on_train_begin", None)]
    for epoch in range(2):
        expected.append(("on_epoch_begin", epoch))
        for b in range(3):
            expected += [("on_train_batch_begin", b), ("on_train_batch_end", b)]
        expected.append(("on_test_begin", None))
        for b in range(3):
            expected += [("on_test_batch_begin", b), ("on_test_batch_end", b)]
        expected += [("on_test_end", None), ("on_epoch_end", epoch)]
    expected.append(("on_train_end", None))
    assert rec.hooks() == expected


def test_evaluate_and_predict_hook_order(make_model, recorder_cls, data):
    x, y = data
    model = make_model()
    rec = recorder_cls()
    model.evaluate(x, y, batch_size=20, verbose=0, callbacks=[rec])
    assert rec.hooks() == [("on_test_begin", None)] + [
        (h, b) for b in range(3) for h in ("on_test_batch_begin", "on_test_batch_end")
    ] + [("on_test_end", None)]
    rec = recorder_cls()
    model.predict(x, batch_size=20, verbose=0, callbacks=[rec])
    assert rec.hooks() == [("on_predict_begin", None)] + [
        (h, b) for b in range(3) for h in ("on_predict_batch_begin", "on_predict_batch_end")
    ] + [("on_predict_end", None)]


def test_logs_at_every_hook(make_model, recorder_cls, data):
    x, y = data
    rec = recorder_cls()
    model = make_model()
    model.fit(x, y, batch_size=10, epochs=1, verbose=0, validation_split=0.5, callbacks=[rec])
    model.predict(x, batch_size=20, verbose=0, callbacks=[rec])
    for hook, _, logs, _ in rec.calls:
        if hook.endswith("_begin") or hook == "on_predict_end":
            assert logs == {}, hook
        elif hook in ("on_train_batch_end", "on_test_batch_end", "on_test_end"):
            assert list(logs) == LOSS_KEYS, hook
            assert all(type(v) is float for v in logs.values())
        elif hook in ("on_epoch_end", "on_train_end"):
            assert list(logs) == VAL_KEYS, hook
            assert all(type(v) is float for v in logs.values())
        elif hook == "on_predict_batch_end":
            assert list(logs) == ["outputs"]
            assert logs["outputs"].dtype == np.float32 and logs["outputs"].shape[1] == 1
        else:
            raise AssertionError(hook)
    outputs = [logs["outputs"] for h, _, logs, _ in rec.calls if h == "on_predict_batch_end"]
    assert [len(o) for o in outputs] == [20, 20, 10]


def test_predict_batch_outputs_are_the_predictions(make_model, data):
    x, y = data
    model = make_model()
    seen = []

    class Grab(keras.callbacks.Callback):
        def on_predict_batch_end(self, batch, logs=None):
            seen.append(np.array(logs["outputs"]))

    out = model.predict(x, batch_size=16, verbose=0, callbacks=[Grab()])
    np.testing.assert_array_equal(np.concatenate(seen), out)


def test_train_end_gets_last_epoch_logs_without_callback_added_keys(make_model, data):
    x, y = data
    got = {}

    class AddKey(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["extra"] = 1.0
            logs["loss"] = -5.0

        def on_train_end(self, logs=None):
            got.update(logs)

    history = make_model().fit(x, y, epochs=2, verbose=0, callbacks=[AddKey()])
    # History (after AddKey) sees the mutation; on_train_end gets the trainer's logs.
    assert history.history["extra"] == [1.0, 1.0]
    assert history.history["loss"] == [-5.0, -5.0]
    assert "extra" not in got and got["loss"] != -5.0


def test_callback_order_and_shared_logs_dict(make_model, data):
    x, y = data
    order = []

    class A(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append(("A", id(logs)))
            logs["from_a"] = 1.0

        def on_train_batch_end(self, batch, logs=None):
            order.append(("A", id(logs)))

    class B(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            order.append(("B", id(logs)))
            assert logs["from_a"] == 1.0

        def on_train_batch_end(self, batch, logs=None):
            order.append(("B", id(logs)))

    model = make_model()
    cl = keras.callbacks.CallbackList([A(), B()], add_history=True, add_progbar=True, model=model,
                                      verbose=1, epochs=1, steps=2)
    assert [type(c).__name__ for c in cl.callbacks] == ["A", "B", "History", "ProgbarLogger"]
    model.fit(x, y, batch_size=25, epochs=1, verbose=0, callbacks=[A(), B()])
    names = [n for n, _ in order]
    assert names == ["A", "B"] * 3  # 2 batches + 1 epoch end
    ids = [i for _, i in order]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]
    assert model.history.history["from_a"] == [1.0]


def test_user_history_and_progbar_keep_their_positions():
    h, p = keras.callbacks.History(), keras.callbacks.ProgbarLogger()

    class C(keras.callbacks.Callback):
        pass

    c = C()
    cl = keras.callbacks.CallbackList([h, c, p], add_history=True, add_progbar=True)
    assert cl.callbacks == [h, c, p]


def test_non_overridden_hooks_are_never_called(make_model, data, monkeypatch):
    x, y = data
    calls = []

    class OnlyEpochEnd(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            calls.append("on_epoch_end")

    cb = OnlyEpochEnd()
    # Instrument every inherited no-op: none of them may run.
    for hook in ("on_train_begin", "on_train_end", "on_epoch_begin", "on_test_begin",
                 "on_test_end", "on_predict_begin", "on_predict_end", "on_train_batch_begin",
                 "on_train_batch_end", "on_test_batch_begin", "on_test_batch_end",
                 "on_predict_batch_begin", "on_predict_batch_end", "on_batch_begin",
                 "on_batch_end"):
        base = getattr(keras.callbacks.Callback, hook)

        def spy(*args, _hook=hook, **kwargs):
            calls.append(_hook)

        spy._is_default = True  # still "not overridden"
        monkeypatch.setattr(cb, hook, spy)
        assert base._is_default
    model = make_model()
    model.fit(x, y, epochs=2, verbose=0, validation_split=0.2, callbacks=[cb])
    model.evaluate(x, y, verbose=0, callbacks=[cb])
    model.predict(x, verbose=0, callbacks=[cb])
    assert calls == ["on_epoch_end", "on_epoch_end"]


def test_batch_aliases_only_for_train_batches(make_model, data):
    x, y = data
    seen = []

    class Alias(keras.callbacks.Callback):
        def on_batch_begin(self, batch, logs=None):
            seen.append(("begin", batch, dict(logs)))

        def on_batch_end(self, batch, logs=None):
            seen.append(("end", batch, sorted(logs)))

    model = make_model()
    model.fit(x, y, batch_size=25, epochs=1, verbose=0, validation_split=0.5, callbacks=[Alias()])
    model.evaluate(x, y, verbose=0, callbacks=[Alias()])
    model.predict(x, verbose=0, callbacks=[Alias()])
    assert seen == [("begin", 0, {}), ("end", 0, ["loss", "mae"])]


def test_params_and_model_attributes(make_model, data):
    x, y = data
    got = []

    class P(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            got.append(("fit", dict(self.params), self.model))

        def on_test_begin(self, logs=None):
            got.append(("test", dict(self.params), self.model))

        def on_predict_begin(self, logs=None):
            got.append(("predict", dict(self.params), self.model))

    model = make_model()
    cb = P()
    model.fit(x, y, batch_size=16, epochs=3, verbose=0, validation_split=0.2, callbacks=[cb])
    model.evaluate(x, y, batch_size=8, verbose=0, callbacks=[cb])
    model.predict(x, batch_size=8, callbacks=[cb], verbose=0)
    assert got[0] == ("fit", {"verbose": 0, "epochs": 3, "steps": 3}, model)
    # Validation inside fit keeps fit's params.
    assert got[1] == ("test", {"verbose": 0, "epochs": 3, "steps": 3}, model)
    assert got[-2] == ("test", {"verbose": 0, "epochs": 1, "steps": 7}, model)
    assert got[-1] == ("predict", {"verbose": 0, "epochs": 1, "steps": 7}, model)


def test_verbose_auto_resolves_to_1(make_model, data, capsys):
    x, y = data
    params = []

    class P(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            params.append(self.params["verbose"])

    make_model().fit(x, y, epochs=1, callbacks=[P()])
    assert params == [1]
    assert "2/2 [==============================]" in capsys.readouterr().out
