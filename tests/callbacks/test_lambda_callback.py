"""LambdaCallback against the Keras 2 rules."""

import pytest

from hookfit.callbacks.lambda_callback import LambdaCallback


def test_functions_become_hooks_called_positionally():
    calls = []
    callback = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch, logs)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, logs)),
        on_batch_begin=lambda batch, logs: calls.append(("batch_begin", batch, logs)),
        on_batch_end=lambda batch, logs: calls.append(("batch_end", batch, logs)),
        on_train_begin=lambda logs: calls.append(("train_begin", logs)),
        on_train_end=lambda logs: calls.append(("train_end", logs)),
        on_test_end=lambda logs: calls.append(("test_end", logs)),
    )
    callback.on_train_begin({})
    callback.on_epoch_begin(0, {})
    callback.on_train_batch_begin(0, {})  # base class forwards to on_batch_begin
    callback.on_train_batch_end(0, {"loss": 1.0})
    callback.on_test_end({"loss": 2.0})
    callback.on_epoch_end(0, {"loss": 1.0})
    callback.on_train_end({"loss": 1.0})
    assert calls == [
        ("train_begin", {}),
        ("epoch_begin", 0, {}),
        ("batch_begin", 0, {}),
        ("batch_end", 0, {"loss": 1.0}),
        ("test_end", {"loss": 2.0}),
        ("epoch_end", 0, {"loss": 1.0}),
        ("train_end", {"loss": 1.0}),
    ]


def test_batch_hooks_requested_only_when_given():
    assert not LambdaCallback(on_epoch_end=lambda e, l: None)._implements_train_batch_hooks()
    assert LambdaCallback(on_batch_end=lambda b, l: None)._implements_train_batch_hooks()
    assert LambdaCallback(on_test_batch_end=lambda b, l: None)._implements_test_batch_hooks()


def test_unset_hooks_are_the_base_no_ops():
    callback = LambdaCallback()
    assert callback.on_epoch_end(0, {}) is None
    assert not callback._implements_train_batch_hooks()


def test_non_callable_hook_rejected():
    with pytest.raises(TypeError, match="on_epoch_end must be a function"):
        LambdaCallback(on_epoch_end=3)
