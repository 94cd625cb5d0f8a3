"""``LambdaCallback``: a callback made of plain functions."""

from __future__ import annotations

from hookfit.callbacks.callback import Callback

_HOOKS = (
    "on_epoch_begin",
    "on_epoch_end",
    "on_batch_begin",
    "on_batch_end",
    "on_train_begin",
    "on_train_end",
)


class LambdaCallback(Callback):
    """Build a callback from functions, called positionally as Keras 2 does:
    ``on_epoch_begin(epoch, logs)``, ``on_epoch_end(epoch, logs)``,
    ``on_batch_begin(batch, logs)``, ``on_batch_end(batch, logs)``,
    ``on_train_begin(logs)``, ``on_train_end(logs)``. Any other hook (e.g.
    ``on_test_end=f``) may be given as a keyword argument too.

    A function given here counts as an overridden hook, so batch hooks are
    dispatched only when one is given.

    >>> print_epoch = LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch))
    """

    def __init__(
        self,
        on_epoch_begin=None,
        on_epoch_end=None,
        on_batch_begin=None,
        on_batch_end=None,
        on_train_begin=None,
        on_train_end=None,
        **kwargs,
    ):
        super().__init__()
        given = dict(
            on_epoch_begin=on_epoch_begin,
            on_epoch_end=on_epoch_end,
            on_batch_begin=on_batch_begin,
            on_batch_end=on_batch_end,
            on_train_begin=on_train_begin,
            on_train_end=on_train_end,
        )
        for name, fn in list(given.items()) + list(kwargs.items()):
            if fn is None:
                continue
            if name.startswith("on_") and not callable(fn):
                raise TypeError(
                    f"LambdaCallback: {name} must be a function; got {type(fn).__name__} {fn!r}."
                )
        # Keras copies every keyword into the instance, hooks or not.
        self.__dict__.update(kwargs)
        for name in _HOOKS:
            if given[name] is not None:
                setattr(self, name, given[name])
