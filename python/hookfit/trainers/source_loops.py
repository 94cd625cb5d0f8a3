"""fit / evaluate / predict over a batch source (PyDataset, Sequence,
generator): one checked ``Dataset`` and one native call per batch.

End of data, as tf-keras 2 (``DataHandler``): the epoch length is
``steps_per_epoch``, else ``len()`` of a PyDataset, else (a generator) the
number of batches the first epoch got before the generator ran out. An
epoch that gets fewer batches than that logs Keras's "Your input ran out of
data" warning, finishes (metrics of the batches it had, validation,
``on_epoch_end``) and ends training. So a generator without
``steps_per_epoch`` trains one full epoch, then an empty one (metrics reset:
``loss`` 0.0, as tf-keras 2 logs it) with the warning, then stops.

Resuming (BackupAndRestore): the backup holds the epoch, the batch within
it and, for a shuffled PyDataset, the epoch's batch order, so a PyDataset
fit resumes exactly (as long as the dataset's own state, e.g. what its
``on_epoch_end`` changed, is rebuilt by the program). A generator cannot be
rewound or fast-forwarded: a resumed generator fit continues at the saved
epoch and batch counters, reading from the generator as it is given to the
new ``fit``.
"""

from __future__ import annotations

import logging

import numpy as np

from hookfit.callbacks.cost_details import PathNote
from hookfit.trainers import data_adapter as da
from hookfit.trainers import graceful_interrupt
from hookfit.trainers.batch_sources import is_batch_source, is_index_dataset, make_source, unpack_batch
from hookfit.trainers.validation import should_eval
from hookfit.utils import rng

logger = logging.getLogger("hookfit")


def _ran_out_warning(total_batches: int) -> None:
    logger.warning(
        "Your input ran out of data; interrupting training. Make sure that your dataset or "
        "generator can generate at least `steps_per_epoch * epochs` batches (in this "
        "case, %d batches). You may need to use the repeat() function when building "
        "your dataset.", total_batches,
    )


def _short_warning(steps: int, available: int) -> None:
    from hookfit.trainers.trainer import _warn_short  # the arrays' wording

    _warn_short(steps, available)


def batch_dataset(model, raw, where: str, *, need_y=True, class_weight=None, for_training=True):
    """One raw batch, checked, as the core's ``Dataset`` (zero-copy for
    C-contiguous float32 ``x``/``y``)."""
    x, y, sw = unpack_batch(raw, where)
    if not need_y:
        x = model._prepare_x(x, f"{where}: x")  # the model's inputs as one 2-D matrix
        return da.make_dataset(x, for_training=False)
    if y is None:
        raise ValueError(
            f"{where} gave no targets: to train or evaluate, each batch must be "
            "(x, y) or (x, y, sample_weight)"
        )
    x, y, sw = model._xy(x, y, sw, prefix=f"{where}: ")
    if class_weight is not None:
        sw = da.class_weights_to_sample_weight(class_weight, y, sw)
    return da.make_dataset(x, y, sw, for_training=for_training)


def _tell_progress_bars(cl, steps: int) -> None:
    """A bar with no target learns the epoch length once it is known, as
    tf-keras's ProgbarLogger reads the model's step counter (at verbose=2 it
    sees no batch, so it could not count them)."""
    from hookfit.callbacks.progbar_logger import ProgbarLogger

    for callback in cl:
        if isinstance(callback, ProgbarLogger) and callback.use_steps and callback.target is None:
            callback.target = steps
            if callback.progbar is not None:
                callback.progbar.target = steps


class BatchHooks:
    """A mode's batch hooks, once per ``steps_per_execution`` batches (Keras
    3's rule: begin with a chunk's first batch, end with its last one and
    that batch's logs; an epoch's final chunk may be shorter)."""

    def __init__(self, cl, mode, every):
        self.begin = getattr(cl, f"on_{mode}_batch_begin")
        self._end = getattr(cl, f"on_{mode}_batch_end")
        self.every = max(1, int(every))
        self.open = False  # a chunk has begun and not ended

    def before(self, batch):
        if not self.open:
            self.begin(batch, {})
            self.open = True

    def after(self, batch, make_logs):
        """``batch`` has run; end the chunk when it is full."""
        if (batch + 1) % self.every == 0:
            self.open = False
            self._end(batch, make_logs())

    def finish(self, batch, make_logs):
        """The epoch ended (or stopped) after ``batch``: close an open chunk."""
        if self.open:
            self.open = False
            self._end(batch, make_logs())


class OneProcess:
    """How a source's batches run on one process. A data-parallel run
    passes its own (``hookfit.distribute.source_shares.SourceShares``: each
    rank runs its share of every batch)."""

    def __init__(self, model):
        self.model = model

    def train(self, data) -> None:
        network, opt = self.model._loop_network(), self.model.optimizer
        network.train_batch(data, 0, data.n_rows, opt._rate_at(network.iterations))

    def test(self, data) -> None:
        self.model._loop_network().test_batch(data, 0, data.n_rows)

    def predict(self, data, out) -> None:
        self.model._network.predict_batch(data, 0, data.n_rows, out)

    def stopped(self) -> bool:
        return self.model.stop_training

    epoch_stopped = stopped

    def start_epoch(self, source) -> None:
        source.start_epoch()

    def batches(self, batches, source):
        return batches

    def after_train_begin(self, it) -> None:
        pass


class SourceEpochIterator:
    """The position of a fit over a batch source (what a backup saves)."""

    batch_size = 0  # batches come whole from the source

    def __init__(self, source, *, epochs, initial_epoch, steps_per_epoch):
        self.source = source
        self.epochs = epochs
        self.initial_epoch = initial_epoch
        self.steps_per_epoch = steps_per_epoch
        self.inferred_steps = steps_per_epoch or source.num_batches  # None: a generator's first epoch
        self.n_rows = -1 if source.num_batches is None else source.num_batches
        self.epoch = initial_epoch
        self.batch_in_epoch = 0

    def get_state(self) -> dict:
        return {
            "epoch": self.epoch,
            "batch_in_epoch": self.batch_in_epoch,
            "inferred_steps": -1 if self.inferred_steps is None else self.inferred_steps,
            "source": self.source.get_state(),
            "rng": rng.get_state(),
        }

    def set_state(self, state: dict) -> None:
        self.source.set_state(state["source"])
        self.epoch = int(state["epoch"])
        self.batch_in_epoch = int(state["batch_in_epoch"])
        inferred = int(state["inferred_steps"])
        self.inferred_steps = None if inferred < 0 else inferred
        rng.set_state(state["rng"])


def _run_train_epoch(model, cl, it, make_logs, class_weight, runner) -> int:
    """The epoch's batches; returns how many ran."""
    network, source = model._loop_network(), it.source
    logs = lambda: make_logs(network.metric_results())  # noqa: E731
    # Each batch is a Python step anyway: the hooks run per batch, as in Keras
    # (per chunk with steps_per_execution).
    hooks = BatchHooks(cl, "train", getattr(model, "_steps_per_execution", 1))
    train = cl.costs.timed("train", runner.train)
    guard = getattr(model, "_interrupt_guard", None)
    batch = it.batch_in_epoch
    batches = runner.batches(source.batches(it.steps_per_epoch, skip=batch), source)
    try:
        for raw in batches:
            if guard is not None and guard.requested:  # a graceful stop: at this batch boundary
                raise graceful_interrupt.Interrupted
            hooks.before(batch)
            data = batch_dataset(model, raw, f"x, batch {batch}", class_weight=class_weight)
            train(data)
            batch += 1
            it.batch_in_epoch = batch
            hooks.after(batch - 1, logs)
            if runner.stopped():
                break
    finally:
        batches.close()
    hooks.finish(batch - 1, logs)
    return batch


def _note_source_path(cl, mode: str) -> None:
    cl.costs.note_path(PathNote(mode, "per batch", ["a PyDataset, Sequence or generator "
                                                    "(one native call per batch it gives)"]))


def fit(model, source, *, epochs, initial_epoch, steps_per_epoch, verbose, callbacks,
        validation, validation_freq, class_weight, parallel=None, on_interrupt=None):
    """``validation`` is None, ``("arrays", Dataset, batch_size, steps)`` or
    ``("source", source, steps)``; ``parallel``: a data-parallel run (entered
    here, left after ``on_train_end``). ``on_interrupt="backup"``: Ctrl-C or
    SIGTERM stops at the next batch boundary (the running batch and its
    hooks finish), backs up, runs ``on_train_end`` and returns the History."""
    it = SourceEpochIterator(
        source, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch
    )
    runner = OneProcess(model) if parallel is None else parallel.source_shares()
    if parallel is not None:
        try:
            parallel.enter(callbacks)  # file-writing callbacks are adapted before the list is built
        except BaseException:
            source.close()
            if validation is not None and validation[0] == "source":
                validation[1].close()
            raise
    try:
        return _fit(model, source, it, runner, epochs, initial_epoch, verbose, callbacks,
                    validation, validation_freq, class_weight, on_interrupt)
    finally:
        if parallel is not None:
            parallel.exit()


def _fit(model, source, it, runner, epochs, initial_epoch, verbose, callbacks, validation,
         validation_freq, class_weight, on_interrupt):
    try:
        cl = model._callback_list(callbacks, verbose, epochs=epochs, steps=it.inferred_steps)
    except BaseException:
        _close(source, validation)
        raise
    return model._train_session(
        cl, it, on_interrupt,
        lambda: _fit_epochs(model, cl, it, runner, epochs, initial_epoch, validation, validation_freq,
                            class_weight),
        finalize=epochs > initial_epoch, close_before_end=lambda: _close(source, validation),
    )


def _close(source, validation) -> None:
    source.close()
    if validation is not None and validation[0] == "source":
        validation[1].close()


def _fit_epochs(model, cl, it, runner, epochs, initial_epoch, validation, validation_freq,
                class_weight) -> dict:
    from hookfit.trainers.trainer import logs_builder

    network, source = model._loop_network(), it.source
    make_logs = logs_builder(model.metrics_names)
    epoch_logs: dict = {}
    cl.on_train_begin({})  # a BackupAndRestore may move ``it`` here
    runner.after_train_begin(it)
    if it.batch_in_epoch and hasattr(network, "resumed_mid_epoch"):
        network.resumed_mid_epoch(it.epoch)  # custom metrics: not in the backup
    _note_source_path(cl, "train")
    while it.epoch < epochs:
        epoch = it.epoch
        first = it.batch_in_epoch
        if it.batch_in_epoch == 0:
            network.reset_metrics()
            runner.start_epoch(source)
        cl.on_epoch_begin(epoch, {})
        token = cl.costs.start_steps()
        try:
            ran = _run_train_epoch(model, cl, it, make_logs, class_weight, runner)
        finally:
            cl.costs.stop_steps(token, "train")
        cl.costs.count_steps("train", ran - first)
        ran_out = False
        if not runner.epoch_stopped():
            if it.inferred_steps is None:
                it.inferred_steps = ran  # a generator's first epoch sets the length
                _tell_progress_bars(cl, ran)
            elif ran < it.inferred_steps:
                ran_out = True
                _ran_out_warning((epochs - initial_epoch) * it.inferred_steps)
        epoch_logs = make_logs(network.metric_results())
        if validation is not None and should_eval(epoch, validation_freq):
            val_logs = _validate(model, cl, validation, runner)
            epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
        it.epoch += 1
        it.batch_in_epoch = 0
        cl.on_epoch_end(epoch, dict(epoch_logs))
        source.end_epoch()
        if runner.epoch_stopped() or ran_out:
            break
    return epoch_logs


def _validate(model, cl, validation, runner) -> dict:
    if validation[0] == "arrays":
        _, data, batch_size, steps = validation
        return model._test(cl, data, batch_size, steps, getattr(runner, "run", None))
    _, source, steps = validation
    return test(model, cl, source, steps, runner)


def test(model, cl, source, steps, runner=None) -> dict:
    """The test loop over a source (evaluate, or validation inside fit)."""
    from hookfit.trainers.trainer import logs_builder

    network = model._loop_network()
    names = model.metrics_names
    make_logs = logs_builder(names)
    logs = lambda: make_logs(network.metric_results())  # noqa: E731
    hooks = BatchHooks(cl, "test", getattr(model, "_steps_per_execution", 1))
    cl.on_test_begin({})
    _note_source_path(cl, "test")
    network.reset_metrics()
    token = cl.costs.start_steps()
    runner = runner or OneProcess(model)
    run_test = cl.costs.timed("test", runner.test)
    runner.start_epoch(source)
    ran = 0
    batches = runner.batches(source.batches(steps), source)
    try:
        for raw in batches:
            hooks.before(ran)
            data = batch_dataset(model, raw, f"batch {ran}", for_training=False)
            run_test(data)
            hooks.after(ran, logs)
            ran += 1
    finally:
        batches.close()
    hooks.finish(ran - 1, logs)
    cl.costs.count_steps("test", ran)
    cl.costs.stop_steps(token, "test")
    # A generator read again (validation each epoch) continues where it
    # stopped; its first full pass sets the length the later ones must give.
    expected = steps or source.num_batches or source.inferred_batches
    if expected is None:
        source.inferred_batches = ran
    elif ran < expected:
        _short_warning(expected, ran)
    source.end_epoch()
    # No batch at all: no results (tf-keras's evaluate gives empty logs).
    result = dict(zip(names, network.metric_results())) if ran else {}
    cl.on_test_end(dict(result))
    return result


def predict(model, cl, source, steps, runner=None) -> np.ndarray:
    """Outputs of every batch, concatenated (targets in a batch are ignored)."""
    network = model._network
    hooks = BatchHooks(cl, "predict", getattr(model, "_steps_per_execution", 1))
    cl.on_predict_begin({})
    token = cl.costs.start_steps()
    runner = runner or OneProcess(model)
    runner.start_epoch(source)
    outputs: list = []
    chunk_start = 0  # first output of the hooks' current chunk

    def chunk_logs():
        return {"outputs": np.concatenate(outputs[chunk_start:], axis=0)}

    batches = runner.batches(source.batches(steps), source)
    try:
        for batch, raw in enumerate(batches):
            if not hooks.open:
                chunk_start = len(outputs)
            hooks.before(batch)
            data = batch_dataset(model, raw, f"batch {batch}", need_y=False)
            out = np.empty((data.n_rows, network.output_dim), dtype=np.float32)
            runner.predict(data, out)
            outputs.append(out)
            hooks.after(batch, chunk_logs)
    finally:
        batches.close()
        source.close()
    hooks.finish(len(outputs) - 1, chunk_logs)
    cl.costs.stop_steps(token)
    expected = steps or source.num_batches
    if expected is not None and len(outputs) < expected:
        _short_warning(expected, len(outputs))
    source.end_epoch()
    cl.on_predict_end({})
    if not outputs:
        raise ValueError("predict got no batches: the generator or dataset was empty")
    return np.concatenate(outputs, axis=0)


# -- entry points from Model.fit / evaluate / predict ------------------------------------


def describe(x) -> str:
    from hookfit.utils.py_dataset import Sequence

    if isinstance(x, Sequence):
        return "a keras.utils.Sequence"
    if is_index_dataset(x):
        return "a PyDataset"
    return "a Python generator"


def reject_array_arguments(x, *, y=None, sample_weight=None, batch_size=None, argument="x",
                           batch_argument="batch_size"):
    """tf-keras's refusals for arguments that batches already carry."""
    kind = describe(x)
    if y is not None:
        raise ValueError(
            f"`y` argument is not supported when using {kind} as input: its batches "
            "carry the targets, as (x, y) or (x, y, sample_weight). Remove y."
        )
    if sample_weight is not None:
        raise ValueError(
            f"`sample_weight` argument is not supported when using {kind} as input: "
            "yield (x, y, sample_weight) batches instead."
        )
    if batch_size is not None:
        raise ValueError(
            f"The `{batch_argument}` argument must not be specified for the given input type "
            f"({kind} as {argument}): it gives whole batches, whose size it decides. "
            f"Remove {batch_argument}."
        )


def validation_source(model, validation_data, *, validation_batch_size, workers,
                      use_multiprocessing, max_queue_size):
    """The source for ``validation_data``, its first batch checked."""
    reject_array_arguments(
        validation_data, batch_size=validation_batch_size, argument="validation_data",
        batch_argument="validation_batch_size",
    )
    source = make_source(
        validation_data, workers=workers,
        use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
    )
    try:
        check_first_batch(model, source, "validation_data")
    except BaseException:
        source.close()
        raise
    return source


def check_first_batch(model, source, argument, *, need_y=True) -> None:
    """Check the first batch (and build an unbuilt model on it) before any
    hook runs or weight changes."""
    batch_dataset(model, source.peek(), f"{argument}, batch 0", need_y=need_y, for_training=False)


def fit_from_source(model, x, *, y, sample_weight, batch_size, epochs, verbose, callbacks,
                    validation_split, validation_data, shuffle, class_weight, initial_epoch,
                    steps_per_epoch, validation_steps, validation_batch_size, validation_freq,
                    max_queue_size, workers, use_multiprocessing, parallel=None,
                    on_interrupt=None):
    """``fit`` when ``x`` is a PyDataset, Sequence, generator or iterator
    (the arguments are already checked one by one)."""
    reject_array_arguments(x, y=y, sample_weight=sample_weight, batch_size=batch_size)
    if validation_split:
        raise ValueError(
            "`validation_split` is only supported for Tensors or NumPy arrays, found "
            f"{describe(x)} as x. Pass validation_data instead."
        )
    # tf-keras shuffles the batch order of a Sequence; a generator's order is its own.
    source = make_source(
        x, shuffle=bool(shuffle), workers=workers,
        use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
    )
    validation = None
    try:
        check_first_batch(model, source, "x")
        if validation_data is not None:
            if is_batch_source(validation_data):
                val_source = validation_source(
                    model, validation_data, validation_batch_size=validation_batch_size,
                    workers=workers, use_multiprocessing=use_multiprocessing,
                    max_queue_size=max_queue_size,
                )
                validation = ("source", val_source, validation_steps)
            else:
                vx, vy, vsw = da.unpack_validation_data(validation_data)
                vx, vy, vsw = model._xy(vx, vy, vsw, prefix="validation_data: ")
                n = vx.shape[0]
                val_batch_size = (
                    da.default_batch_size(None, n, validation_steps) if validation_batch_size is None
                    else da.check_batch_size(validation_batch_size, "validation_batch_size")
                )
                validation = ("arrays", da.make_dataset(vx, vy, vsw), min(val_batch_size, n), validation_steps)
        if parallel is not None:
            parallel.check_source(
                callbacks, source, validation=None if validation is None else validation[1],
                epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps, shuffle=bool(shuffle),
            )
            verbose = verbose if parallel.comm.is_chief else 0
    except BaseException:
        source.close()
        if validation is not None and validation[0] == "source":
            validation[1].close()
        raise
    return fit(
        model, source, epochs=epochs, initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
        verbose=verbose, callbacks=callbacks, validation=validation,
        validation_freq=validation_freq, class_weight=class_weight, parallel=parallel,
        on_interrupt=on_interrupt,
    )


def _telling_exceptions(cl, logs_now, run, *args):
    """``run(*args)``; an exception is told to the callbacks' ``on_exception``
    (with ``logs_now()``) before it propagates."""
    try:
        return run(*args)
    except BaseException as e:
        cl.on_exception(e, logs_now())
        raise


def evaluate_from_source(model, x, *, y, sample_weight, batch_size, verbose, steps, callbacks,
                         max_queue_size, workers, use_multiprocessing, parallel=None):
    """``evaluate`` over a source: the logs dict."""
    reject_array_arguments(x, y=y, sample_weight=sample_weight, batch_size=batch_size)
    source = make_source(
        x, workers=workers, use_multiprocessing=use_multiprocessing,
        max_queue_size=max_queue_size,
    )
    try:
        check_first_batch(model, source, "x")
        if parallel is None:
            cl = model._callback_list(callbacks, verbose, epochs=1, steps=steps or source.num_batches)
            return _telling_exceptions(cl, model._logs_now, test, model, cl, source, steps)
        parallel.check_source(callbacks, source, steps=steps)
        verbose = verbose if parallel.comm.is_chief else 0
        cl = model._callback_list(callbacks, verbose, epochs=1, steps=steps or source.num_batches)
        parallel.enter()
        try:
            return _telling_exceptions(cl, model._logs_now, test, model, cl, source, steps,
                                       parallel.source_shares())
        finally:
            parallel.exit()
    finally:
        source.close()


def predict_from_source(model, x, *, batch_size, verbose, steps, callbacks,
                        max_queue_size, workers, use_multiprocessing, parallel=None):
    """``predict`` over a source: every batch's outputs, concatenated."""
    reject_array_arguments(x, batch_size=batch_size)
    source = make_source(
        x, workers=workers, use_multiprocessing=use_multiprocessing,
        max_queue_size=max_queue_size,
    )
    try:
        check_first_batch(model, source, "x", need_y=False)
        if parallel is None:
            cl = model._callback_list(callbacks, verbose, epochs=1, steps=steps or source.num_batches)
            return _telling_exceptions(cl, dict, predict, model, cl, source, steps)
        parallel.check_source(callbacks, source, steps=steps)
        verbose = verbose if parallel.comm.is_chief else 0
        cl = model._callback_list(callbacks, verbose, epochs=1, steps=steps or source.num_batches)
        parallel.enter()
        try:
            return _telling_exceptions(cl, dict, predict, model, cl, source, steps,
                                       parallel.source_shares())
        finally:
            parallel.exit()
    finally:
        source.close()
