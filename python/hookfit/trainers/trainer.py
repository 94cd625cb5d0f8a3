"""``Trainer``: compile, the fit/evaluate/predict loops and the single-batch calls.

Design
------
a) Python holds no numeric loop: the batches run in native chunks, as long
   as nothing in Python must run in between; one batch runner
   (``batch_runner.py``) serves train, test and predict. What must run, and
   when, comes from ``CallbackList.batch_dispatcher``: nothing (a whole
   pass per call), every batch (a callback overriding batch hooks, as in
   Keras), or a schedule (the progress bar's redraws, ``save_freq``/
   ``update_freq`` every N batches, ``steps_per_execution``, callbacks
   declaring ``batch_every``); ``TerminateOnNaN`` is checked inside the
   native call. When every epoch hook can wait and every batch hook is due
   a known number of steps ahead (History, fit's bar, TensorBoard,
   ModelCheckpoint every N batches, TerminateOnNaN; validation on arrays
   allowed), the epochs run back to back (``back_to_back.py``); an ``evaluate``/``predict``
   with no callback and no bar skips the callback list altogether. Python
   run between two passes over the data runs cold (the pass has streamed
   the data through the caches), so every call it skips counts.
b) Arrays are checked and converted once per call into ``Dataset`` objects
   (training and validation separately); shuffling installs one permutation
   per pass; no per-batch slicing in Python. Every size is checked before
   anything trains.
c) Batch logs dicts are built only when some callback's batch-end hook is
   dispatched. The learning rate is read from the optimizer at every chunk
   (callbacks, which may change it, run only between chunks).
d) Keras 2 semantics hold on every path: ``stop_training`` reset before
   ``on_train_begin``, checked after every batch end and epoch end (so when
   it is already set at an epoch's start exactly one batch runs), a
   mid-epoch stop still validates, exceptions propagate and leave the model
   usable.
e) A rejected call changes nothing (compile checks everything first), and
   while a fit runs, the calls that would change what it trains (compile,
   set_weights from another thread, adding layers, a nested fit) are refused
   with a clear error.
"""

from __future__ import annotations

import contextlib
import functools
import sys
import threading
import time
from typing import Any

import numpy as np

from hookfit import _native
from hookfit import losses as _losses
from hookfit import metrics as _metrics
from hookfit import optimizers as _optimizers
from hookfit.callbacks import native_progbar
from hookfit.callbacks.callback_list import CallbackList
from hookfit.callbacks.cost_details import PathNote
from hookfit.callbacks.history import History
from hookfit.trainers import data_adapter as da
from hookfit.trainers import back_to_back, graceful_interrupt, source_loops
from hookfit.trainers.batch_sources import is_batch_source
from hookfit.trainers.batch_runner import Steps, core_hooked, core_whole_pass, run_batches
from hookfit.trainers.epoch_iterator import EpochIterator
from hookfit.trainers.validation import (
    check_validation_freq as _check_validation_freq,
    should_eval as _should_eval,
    test_batch_count as _test_batch_count,
    validates_before as _validates_before,
)
from hookfit.utils.arguments import is_integer

_clock = time.perf_counter_ns


def parallel_data_signature(*arrays):
    from hookfit.distribute.parallel_run import data_signature

    return data_signature(*arrays)


def _parallel(model, distribute, what):
    """The call's data-parallel run, or None (one process: today's path;
    hookfit.distribute imports no MPI for it)."""
    if distribute is None:
        # Only ``python -m hookfit.distribute`` sets a default strategy, and
        # it imports the launcher first: no launcher module, no default (one
        # dictionary lookup on every call of one process).
        launch = sys.modules.get("hookfit.distribute.launch")
        if launch is None or launch.default_strategy() is None:
            return None
    from hookfit.distribute import parallel_run

    return parallel_run.start(model, distribute, what)


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate called before compile (Keras raises RuntimeError)."""


class FitInProgressError(RuntimeError):
    """A call that would change the model while one of its fits runs."""


def _resolve_verbose(verbose, argument="verbose") -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{argument} must be 0, 1, 2 or 'auto'; got {verbose!r}")
    return int(verbose)


def _check_steps_per_execution(value) -> int:
    if value is None:
        return 1
    if not is_integer(value) or value < 1:
        raise ValueError(
            f"steps_per_execution must be a positive integer (batches per batch-hook call); "
            f"got {value!r}"
        )
    return int(value)


def _no_callbacks(callbacks) -> bool:
    """No callback given (None, or an empty list or tuple; a CallbackList,
    even empty, takes the usual path)."""
    return callbacks is None or (type(callbacks) in (list, tuple) and not callbacks)


def _at_most_rows(batch_size: int, n: int) -> int:
    return min(batch_size, max(n, 1))


def logs_builder(names):
    """A function ``results -> {names[0]: results[0], ...}``.

    Batch-end logs are built once per batch; a generated dict display is about
    twice as fast as ``dict(zip(names, results))``. The names are embedded with
    ``repr``, so any string is safe. Compiled once per list of names.
    """
    return _logs_builder(tuple(names))


@functools.lru_cache(maxsize=256)
def _logs_builder(names):
    body = ", ".join(f"{name!r}: r[{i}]" for i, name in enumerate(names))
    return eval(f"lambda r: {{{body}}}")  # noqa: S307 - built from reprs only


def _flatten_in_order(logs: dict, names: list):
    """Keras 2's evaluate return: values in metrics_names order, then the
    other keys sorted; a single value is returned bare."""
    values = [logs[n] for n in names if n in logs]
    values += [logs[k] for k in sorted(k for k in logs if k not in names)]
    return values[0] if len(values) == 1 else values


def _results_in_order(results: list, names: list, return_dict: bool):
    """What ``_flatten_in_order`` (or ``return_dict``) gives for logs built
    as ``dict(zip(names, results))``, without the dict: the results come in
    ``names``' order already."""
    if return_dict:
        return dict(zip(names, results))
    values = list(results[: len(names)])
    return values[0] if len(values) == 1 else values


def _warn_short(steps, available):
    import logging

    logging.getLogger("hookfit").warning(
        "Your input ran out of data; interrupting evaluation. Make sure that your "
        "dataset or generator can generate at least `steps` batches (in this case, "
        "%d batches); the data gives %d.", steps, available,
    )


class Trainer:
    """compile, fit/evaluate/predict and ``*_on_batch`` over ``self._network``.

    The model class provides ``_network`` (the compiled core network, or
    None before build), ``_prepare_x(x, argument)`` (the inputs as the one x
    matrix, building the network if needed), and for freezing
    ``_apply_trainable()`` / ``_check_trainable_consistency()``.
    """

    _network: Any  # provided by the model class

    def __init__(self):
        self.optimizer = None
        self.loss = None
        self._loss_code = None
        self._metric_specs = []  # as given to compile (checked)
        self._weighted_metric_specs = []
        self._metric_names = []  # logs keys after 'loss', once configured
        self._compiled_metrics = None  # metrics.CompiledMetrics, once configured
        self._metrics_used = False  # model.metrics lists them after a first fit/evaluate
        self._compiled = False
        self._steps_per_execution = 1
        self.stop_training = False
        self.history = None
        self._epoch_iterator = None  # the running fit's position
        self._fit_thread = None  # ident of the thread running fit, if any

    # -- the fit-in-progress guard ------------------------------------------------

    def _refuse_while_fitting(self, what: str, *, same_thread_ok: bool = False) -> None:
        owner = self._fit_thread
        if owner is None:
            return
        if owner != threading.get_ident():
            raise FitInProgressError(
                f"cannot {what}: model {getattr(self, 'name', '')!r} is training in another "
                "thread; wait for its fit to return (or use a copy of the model)"
            )
        if not same_thread_ok:
            raise FitInProgressError(
                f"cannot {what} while this model's fit is running (called from a callback?); "
                "do it before fit or after it returns"
            )

    # -- compile ---------------------------------------------------------------

    def compile(
        self,
        optimizer="rmsprop",
        loss=None,
        metrics=None,
        loss_weights=None,
        weighted_metrics=None,
        run_eagerly=None,
        steps_per_execution=None,
        jit_compile=None,
        **kwargs,
    ):
        """Configure the model for training (Keras 2 arguments).

        Args:
            optimizer: a name (``"rmsprop"``, ``"sgd"``, ``"adam"``) or an
                optimizer object.
            loss: a loss name (``"mean_squared_error"``/``"mse"``, ...), a
                ``hookfit.losses`` function or loss object.
            metrics: a list of metric names (e.g. ``["mae"]``,
                ``["accuracy"]``) or ``hookfit.metrics`` objects.
            steps_per_execution: N > 1 calls the batch hooks of callbacks
                once per N batches (begin with the chunk's first batch
                index, end with its last and that batch's logs), as Keras 3
                does; the batches in between run in one native call.

        A call that raises leaves the model exactly as it was.

        >>> model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])  # doctest: +SKIP
        """
        self._refuse_while_fitting("compile")
        if kwargs:
            raise TypeError(f"compile() got unexpected argument(s) {sorted(kwargs)}")
        if loss_weights is not None:
            raise ValueError("loss_weights is not supported: hookfit models have one output")
        steps_per_execution = _check_steps_per_execution(steps_per_execution)
        optimizer = _optimizers.get(optimizer)
        loss_code, _ = _losses.resolve(loss)
        metric_specs = _metrics.normalize(metrics)
        weighted_specs = _metrics.normalize(weighted_metrics)
        _losses.spec_of(loss)  # a loss that cannot train (reduction='none') fails here
        # Resolve against the real output width when there is one (the metric
        # kinds may depend on it), so that whatever can fail fails before
        # anything changes.
        width = self._network.output_dim if self._network is not None else 1
        names = _metrics.compiled(metric_specs, weighted_specs, width, loss_code).names
        before = (
            self.optimizer, self.loss, self._loss_code, self._metric_specs,
            self._weighted_metric_specs, self._compiled, self._metric_names,
            self._steps_per_execution,
        )
        self.optimizer = optimizer
        self.loss = loss
        self._loss_code = loss_code
        self._metric_specs = metric_specs
        self._weighted_metric_specs = weighted_specs
        self._compiled = True
        self._metric_names = names
        self._steps_per_execution = steps_per_execution
        try:
            self._apply_trainable()  # trainable flags take effect at compile, as in Keras
            if self._network is not None:
                self._configure()
        except BaseException:
            (
                self.optimizer, self.loss, self._loss_code, self._metric_specs,
                self._weighted_metric_specs, self._compiled, self._metric_names,
                self._steps_per_execution,
            ) = before
            if self._compiled and self._network is not None:
                self._configure()  # the network back to the old configuration
            raise

    def _configure(self) -> None:
        network = self._network
        compiled = _metrics.compiled(self._metric_specs, self._weighted_metric_specs,
                                     network.output_dim, self._loss_code)
        opt = self.optimizer
        if self._compiled_metrics is not None:  # they keep their last values
            self._compiled_metrics.unbind()
            self._compiled_metrics = None
        network.configure(_losses.spec_of(self.loss), compiled.specs, opt._spec())
        output = next(iter(getattr(self, "outputs", ())), None)
        _losses.warn_logits_of_activation(self.loss, getattr(output, "_layer", None))
        opt._bind(network)
        compiled.bind(network)
        self._compiled_metrics = compiled
        self._metric_names = compiled.names
        self._metrics_used = False

    def _loop_network(self):
        """The network the loops call: the compiled one, wrapped when the logs
        need Python per batch (custom or vector-valued metrics)."""
        self._metrics_used = True
        compiled = self._compiled_metrics
        if compiled is not None and compiled.needs_python:
            from hookfit.metrics_loop import MetricsNetwork

            return MetricsNetwork(self._network, compiled)
        return self._network

    @property
    def metrics(self) -> list:
        """Keras 2's ``model.metrics``: after a first fit/evaluate, the loss
        tracker ``Mean(name='loss')`` and the compiled metric objects (the
        very objects given to compile, updated by the runs)."""
        compiled = self._compiled_metrics
        if compiled is None or not self._metrics_used:
            return []
        return [compiled.loss_tracker, *compiled.objects]

    def _assert_compiled(self, what: str) -> None:
        if not self._compiled:
            raise NotCompiledError(
                f"You must compile your model before {what}. Call "
                "`model.compile(optimizer, loss)` first."
            )

    @property
    def metrics_names(self) -> list:
        """``['loss', <metric names>]`` once compiled (the logs keys)."""
        return ["loss", *self._metric_names] if self._compiled else []

    def reset_metrics(self) -> None:
        if self._network is not None and self._compiled:
            self._loop_network().reset_metrics()

    def get_compile_config(self) -> dict | None:
        """What ``compile`` was given, as plain data (for saving)."""
        if not self._compiled:
            return None
        opt = self.optimizer
        loss = self.loss if isinstance(self.loss, str) else _losses.resolve(self.loss)[1]
        return {
            "optimizer": {"class_name": type(opt).__name__, "config": opt.get_config()},
            "loss": loss,
            "metrics": list(self._metric_names),
            "steps_per_execution": self._steps_per_execution,
        }

    # -- data preparation -------------------------------------------------------

    def _xy(self, x, y, sample_weight, *, prefix=""):
        """Checked arrays (x, y as (n, columns), sample_weight) for the core."""
        x = self._prepare_x(x, prefix + "x")  # the model's inputs as one 2-D matrix
        n = x.shape[0]
        if y is None:
            raise ValueError(
                f"{prefix}y is required to train or evaluate (targets for each sample of {prefix}x)"
            )
        y = da.check_targets(
            da.as_array(y, prefix + "y"), n, self._network.output_dim, self._loss_code, prefix + "y"
        )
        sample_weight = da.check_sample_weight(sample_weight, n, prefix + "sample_weight")
        return x, y, sample_weight

    def _callback_list(self, callbacks, verbose, **params):
        if isinstance(callbacks, CallbackList):
            return callbacks
        return CallbackList(
            callbacks, add_history=True, add_progbar=verbose != 0, model=self,
            verbose=verbose, **params,
        )

    # -- fit -----------------------------------------------------------------------

    def fit(
        self,
        x=None,
        y=None,
        batch_size=None,
        epochs=1,
        verbose="auto",
        callbacks=None,
        validation_split=0.0,
        validation_data=None,
        shuffle=True,
        class_weight=None,
        sample_weight=None,
        initial_epoch=0,
        steps_per_epoch=None,
        validation_steps=None,
        validation_batch_size=None,
        validation_freq=1,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        on_interrupt=None,
        distribute=None,
    ):
        """Train the model for a fixed number of epochs (Keras 2 semantics).

        ``distribute``: a ``hookfit.distribute.DataParallel`` to train
        data-parallel (``batch_size`` is the global batch); None: the one of
        ``python -m hookfit.distribute``, if any, else one process.

        Beyond Keras, ``on_interrupt="backup"`` turns the first Ctrl-C or
        SIGTERM into a clean end: the running batch finishes, every
        ``BackupAndRestore`` writes a backup of that point, ``on_train_end``
        runs and the History so far is returned (a second Ctrl-C stops at
        once). See ``hookfit.trainers.graceful_interrupt``.

        Returns:
            the ``History`` (also ``model.history``).

        >>> history = model.fit(x, y, batch_size=128, epochs=2, verbose=0)  # doctest: +SKIP
        """
        self._refuse_while_fitting("start another fit of this model")
        self._assert_compiled("training/testing")
        self._check_trainable_consistency()
        verbose = _resolve_verbose(verbose)
        on_interrupt = graceful_interrupt.check_mode(on_interrupt)
        if not is_integer(epochs) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {epochs!r}")
        if not is_integer(initial_epoch) or initial_epoch < 0:
            raise ValueError(f"initial_epoch must be a non-negative integer; got {initial_epoch!r}")
        steps_per_epoch = da.check_positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = da.check_positive_int(validation_steps, "validation_steps")
        validation_freq = _check_validation_freq(validation_freq)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}")
        # Sizes first: nothing may train before a bad size is refused.
        if batch_size is not None:
            da.check_batch_size(batch_size)
        if validation_batch_size is not None:
            da.check_batch_size(validation_batch_size, "validation_batch_size")

        if is_batch_source(x):  # PyDataset, Sequence, generator: batch by batch
            parallel = _parallel(self, distribute, "fit")
            if parallel is not None and on_interrupt is not None:
                raise NotImplementedError(
                    "on_interrupt does not run data-parallel yet; use on_interrupt=None"
                )
            return source_loops.fit_from_source(
                self, x, y=y, sample_weight=sample_weight, batch_size=batch_size, epochs=epochs,
                verbose=verbose, callbacks=callbacks, validation_split=validation_split,
                validation_data=validation_data, shuffle=shuffle, class_weight=class_weight,
                initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                validation_steps=validation_steps, validation_batch_size=validation_batch_size,
                validation_freq=validation_freq, max_queue_size=max_queue_size, workers=workers,
                use_multiprocessing=use_multiprocessing, parallel=parallel, on_interrupt=on_interrupt,
            )
        x, y, sample_weight = self._xy(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = da.class_weights_to_sample_weight(class_weight, y, sample_weight)
        n = x.shape[0]
        val = val_source = None
        if validation_data is not None and is_batch_source(validation_data):
            val_source = source_loops.validation_source(
                self, validation_data, validation_batch_size=validation_batch_size, workers=workers,
                use_multiprocessing=use_multiprocessing, max_queue_size=max_queue_size,
            )
        elif validation_data is not None:
            vx, vy, vsw = da.unpack_validation_data(validation_data)
            val = self._xy(vx, vy, vsw, prefix="validation_data: ")
        elif validation_split:
            at = da.split_at(n, validation_split)
            val = (x[at:], y[at:], None if sample_weight is None else sample_weight[at:])
            x, y = x[:at], y[:at]
            sample_weight = None if sample_weight is None else sample_weight[:at]
            n = at
        else:
            da.check_split(validation_split)
        batch_size = da.default_batch_size(batch_size, n, steps_per_epoch)
        val_batch_size = (
            batch_size if validation_batch_size is None
            else da.check_batch_size(validation_batch_size, "validation_batch_size")
        )
        # A batch larger than the data is the whole data (same batches), and
        # keeps every row offset in the core's 64-bit range.
        batch_size = _at_most_rows(batch_size, n)
        if val is not None:
            val_batch_size = _at_most_rows(val_batch_size, val[0].shape[0])

        parallel = _parallel(self, distribute, "fit")
        if parallel is not None:
            try:
                if on_interrupt is not None:
                    raise NotImplementedError(
                        "on_interrupt does not run data-parallel yet (a signal reaches the "
                        "ranks at different batches); use on_interrupt=None"
                    )
                parallel.check(
                    callbacks, data=parallel_data_signature(x, y, sample_weight),
                    validation=None if val is None else parallel_data_signature(*val),
                    batch_size=batch_size, validation_batch_size=val_batch_size, epochs=epochs,
                    initial_epoch=initial_epoch, steps_per_epoch=steps_per_epoch,
                    validation_steps=validation_steps, shuffle=shuffle,
                    metrics=self.metrics_names, n_params=self._network.n_params,
                    optimizer=self.optimizer.get_config(),
                )
            except BaseException:
                if val_source is not None:
                    val_source.close()
                raise
            if not parallel.comm.is_chief:
                verbose = 0  # one progress bar: rank 0's

        train_data = da.make_dataset(x, y, sample_weight)
        val_data = val_source if val is None else da.make_dataset(*val)

        iterator = EpochIterator(
            train_data,
            batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=shuffle,
        )
        if self.optimizer._network is not self._network:
            # model.optimizer was replaced since compile: train with it (fresh
            # slots), as Keras does; a backup may then restore its slots.
            self._configure()
        if parallel is not None:
            draw = iterator.draw_seed
            iterator.draw_seed = lambda: parallel.shuffle_seed(draw)
            # File-writing callbacks are adapted before the list is built.
            parallel.enter(callbacks)
        try:
            cl = self._callback_list(callbacks, verbose, epochs=epochs, steps=iterator.steps_per_epoch)
        except BaseException:
            if parallel is not None:
                parallel.exit()
            raise

        def close_after():
            if val_source is not None:
                val_source.close()
            if parallel is not None:
                parallel.exit()  # after on_train_end / on_exception

        return self._train_session(
            cl, iterator, on_interrupt,
            lambda: self._fit_loop(cl, iterator, epochs, val_data, val_batch_size, validation_steps,
                                   validation_freq, parallel),
            finalize=epochs > 0, close_after=close_after,
        )

    def _train_session(self, cl, iterator, on_interrupt, run_epochs, *, finalize: bool,
                       close_before_end=None, close_after=None):
        """What every fit does around its epochs (arrays or a batch source):
        the fit state that guards and callbacks read, the graceful-interrupt
        guard, EMA's final weights (``finalize``: as Keras 2, when epochs ran
        or were asked), ``on_train_end`` or ``on_exception`` with the running
        logs, and the fit state cleared. ``close_before_end()`` runs right
        after the epochs (a source's workers), ``close_after()`` last."""
        self.stop_training = False
        self._epoch_iterator = iterator
        self._fit_thread = threading.get_ident()
        guard = self._interrupt_guard = (
            graceful_interrupt.GracefulInterrupt() if on_interrupt is not None else None
        )
        try:
            with guard or contextlib.nullcontext():
                try:
                    epoch_logs = run_epochs()
                except graceful_interrupt.Interrupted:
                    epoch_logs = self._save_interrupted(cl)
                finally:
                    if close_before_end is not None:
                        close_before_end()
                if finalize:  # use_ema: the weights take their moving averages, as Keras 2 does
                    self.optimizer.finalize_variable_values()
                cl.on_train_end(dict(epoch_logs))
        except BaseException as e:
            cl.on_exception(e, self._logs_now())
            raise
        finally:
            self._epoch_iterator = None
            self._fit_thread = None
            self._interrupt_guard = None
            if close_after is not None:
                close_after()
        return self.history

    def _logs_now(self) -> dict:
        """The running metrics (for on_exception), or {} if there are none."""
        try:
            return dict(zip(self.metrics_names, self._loop_network().metric_results()))
        except Exception:
            return {}

    def _save_interrupted(self, cl) -> dict:
        """A graceful stop at a batch boundary: every BackupAndRestore backs
        up this exact point; the logs are the epoch's running metrics."""
        logs = self._logs_now()
        for cb in cl.callbacks:
            save = getattr(cb, "_save_interrupted", None)
            if save is not None:
                save(logs)
        return logs

    def _fit_loop(self, cl, it, epochs, val_data, val_batch_size, val_steps, val_freq, parallel=None):
        network = self._loop_network()
        make_logs = logs_builder(self.metrics_names)
        cl.on_train_begin({})  # a callback may restore the iterator's position here
        if not it.at_epoch_start and hasattr(network, "resumed_mid_epoch"):
            network.resumed_mid_epoch(it.epoch)  # custom metrics: not in the backup
        guard = getattr(self, "_interrupt_guard", None)
        if val_data is not None and not _validates_before(epochs, it.epoch, val_freq):
            val_data = None  # (as the per-epoch loop, which never touches it then)
        logger = cl.progbar_logger
        drawn = None if logger is None else native_progbar.drawable(logger, self._steps_per_execution)
        plan = back_to_back.eligible(self, cl, it, epochs, val_data, parallel, guard, network, drawn)
        if plan is not None:
            bar = None
            if drawn is not None:  # the core draws it, if it can on this stream
                names = self.metrics_names
                bar = native_progbar.open_bar(
                    _native.core, verbose=drawn.verbose, target=drawn.target, epochs=drawn.epochs,
                    keys=native_progbar.fit_keys(names, val_data is not None), n_train=len(names))
            if drawn is None or bar is not None:
                validation = None if val_data is None else (val_data, val_batch_size, val_steps, val_freq)
                # Every epoch ran, or another thread set stop_training: done either way.
                return self._plain_epochs(cl, it, epochs, network, make_logs, plan, validation, drawn, bar)
        if parallel is None:
            steps = self._train_steps(it, make_logs)
        else:
            steps = parallel.train_steps(it, make_logs)
        if guard is not None:  # the safe points of a graceful interrupt
            steps.many, steps.one = guard.guard(steps.many), guard.guard(steps.one, inside=False)
            steps.hooked = None  # its batches are guarded one by one
        # Outside the guard: its handler looks for the guarded run's own frame.
        steps.many, steps.one = cl.costs.timed("train", steps.many), cl.costs.timed("train", steps.one)
        if steps.hooked is not None:
            steps.hooked = cl.costs.timed_hooked("train", steps.hooked)
        epoch_logs = {}
        while it.epoch < epochs:
            # A restored backup may sit after an epoch's last batch, before its
            # end work (which still runs), or in a run that had stopped.
            if it.at_epoch_start and (it.stopped or it.exhausted):
                if not it.stopped:
                    it.warn_ran_out()
                break
            epoch = it.epoch
            if it.at_epoch_start:
                network.reset_metrics()
            cl.on_epoch_begin(epoch, {})
            if parallel is None:
                dispatch = cl.batch_dispatcher("train", self._steps_per_execution)
            else:
                dispatch = parallel.dispatcher(cl, "train")
            token = cl.costs.start_steps()
            first = it.batch_in_epoch
            last = first + it.batches_left_in_epoch - 1
            if not it.stopped:  # a resumed run that had stopped: only the epoch's end is left
                ran = run_batches(steps, dispatch, it.segments(), first, last,
                                  model=self if parallel is None else parallel.stop_view)
                cl.costs.count_steps("train", ran)
            cl.costs.stop_steps(token, "train")
            epoch_logs = make_logs(network.metric_results())
            ran_out = it.ran_out and it.exhausted  # not when stop_training cut it
            if ran_out:
                it.warn_ran_out()
            if val_data is not None and _should_eval(epoch, val_freq):
                val_logs = self._test(cl, val_data, val_batch_size, val_steps, parallel)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            it.end_epoch()
            cl.on_epoch_end(epoch, dict(epoch_logs))
            stop = self.stop_training if parallel is None else parallel.agree_stop()
            if stop or ran_out:
                break
        return epoch_logs

    def _plain_epochs(self, cl, it, epochs, network, make_logs, plan, validation=None, drawn=None,
                      bar=None) -> dict:
        """The remaining epochs back to back (``back_to_back.run``)."""
        return back_to_back.run(self, cl, it, epochs, network, make_logs, plan, validation, drawn, bar)

    @staticmethod
    def _epoch_logs(make_logs, train_values, val_values) -> dict:
        logs = make_logs(train_values)
        if val_values is not None:
            logs.update({"val_" + k: v for k, v in make_logs(val_values).items()})
        return logs

    def _train_steps(self, it, make_logs, bar=None) -> Steps:
        """``bar``: the core's progress bar, drawn by ``many``'s runs."""
        network, data, opt = self._loop_network(), it.dataset, self.optimizer
        batch_size, n_rows = it.batch_size, it.n_rows
        results = network.metric_results

        drawn = {} if bar is None else {"bar": bar}  # (only the compiled network draws one)

        def many(j, k, stop_on_nonfinite):
            start = j * batch_size
            rows = min(n_rows, start + k * batch_size) - start
            before = network.iterations
            try:
                return network.train_batches(
                    data, start, rows, batch_size, opt._rates_for(network.iterations, k),
                    stop_on_nonfinite=stop_on_nonfinite, **drawn,
                )
            except BaseException as e:
                # Ctrl-C between batches keeps the position exact: count the
                # batches that really ran (none if raised before the run began).
                ran = int(network.iterations) - int(before)
                it.step += ran
                if isinstance(e, graceful_interrupt.Interrupted):
                    e.ran = ran  # their due hooks still run (batch_runner._scheduled)
                raise

        def one(j):
            start = j * batch_size
            network.train_batch(data, start, min(batch_size, n_rows - start),
                                opt._rate_at(network.iterations))
            it.step += 1

        def logs(j):
            return make_logs(results())

        def advance(n):
            it.step += n

        hooked = whole_pass = None
        if network is self._network:  # not with custom metrics (their update is Python's)
            # (names: the logs make_logs would build; it.step += 1 per batch)
            run = (network.train_batches_hooked, data, n_rows, batch_size, (opt,), (tuple(self.metrics_names), it))
            hooked = core_hooked(network, *run, reads_model=True)
            whole_pass = core_whole_pass(*run, reads_model=True)

        def stopped():
            return network.last_run_nonfinite

        return Steps(many, one, logs, advance, metric_logs=(make_logs, results), hooked=hooked, stopped=stopped,
                     whole_pass=whole_pass)

    # -- evaluate -----------------------------------------------------------------

    def _test(self, cl, data, batch_size, steps, parallel=None) -> dict:
        """The test loop (evaluate, or validation inside fit with fit's list)."""
        if hasattr(data, "batches"):  # a validation source (PyDataset, generator)
            return source_loops.test(self, cl, data, steps,
                                     None if parallel is None else parallel.source_shares())
        network = self._loop_network()
        names = self.metrics_names
        n = data.n_rows
        n_batches = _test_batch_count(n, batch_size, steps)
        cl.on_test_begin({})
        network.reset_metrics()
        if parallel is not None:
            dispatch = parallel.dispatcher(cl, "test")
        else:
            dispatch = cl.batch_dispatcher("test", self._steps_per_execution)
        token = cl.costs.start_steps()
        make_logs = logs_builder(names)
        results = network.metric_results

        def many(j, k, _stop_on_nonfinite):
            start = j * batch_size
            return network.test_batches(data, start, min(n, start + k * batch_size) - start, batch_size)

        def one(j):
            start = j * batch_size
            network.test_batch(data, start, min(batch_size, n - start))

        def logs(j):
            return make_logs(results())

        if parallel is not None:
            steps = parallel.test_steps(data, batch_size, make_logs)
        else:
            hooked = None
            if network is self._network:  # (not with Python metrics: their update runs in Python)
                hooked = cl.costs.timed_hooked("test", core_hooked(
                    network, network.test_batches_hooked, data, n, batch_size, after=(tuple(names),)))
            steps = Steps(many, one, logs, metric_logs=(make_logs, results), hooked=hooked)
        steps.many, steps.one = cl.costs.timed("test", steps.many), cl.costs.timed("test", steps.one)
        ran = run_batches(steps, dispatch, [(0, n_batches)], 0, n_batches - 1)
        cl.costs.count_steps("test", ran)
        cl.costs.stop_steps(token, "test")
        results_logs = dict(zip(names, network.metric_results()))
        cl.on_test_end(dict(results_logs))
        return results_logs

    def _fresh_history(self, **params) -> None:
        """What an evaluate or predict with no callback leaves visible of
        its callback list (tf-keras's list sets a new, empty History as
        ``model.history``; params: verbose, epochs, steps); it keeps no
        cost table."""
        history = History()
        history.set_params({"verbose": 0, **params})
        history.set_model(self)
        self.history = history

    def _test_plain(self, data, batch_size, n_batches, bar=None):
        """``_test`` with no callback: nothing can see a batch boundary, so
        the batches run in one native call without the callback list's
        bookkeeping (its cost is paid again on every call, and after the
        batches have streamed the data through the caches it runs cold);
        ``bar``: the core's progress bar in place of the ``ProgbarLogger``.
        Returns the results in ``metrics_names`` order."""
        network = self._loop_network()
        network.reset_metrics()
        rows = min(data.n_rows, n_batches * batch_size)
        if bar is None:
            network.test_batches(data, 0, rows, batch_size)
            return network.metric_results()
        with native_progbar.flushed(bar):
            bar.start(0)
            network.test_batches(data, 0, rows, batch_size, bar=bar)
            results = network.metric_results()
            bar.finish(results)
        return results

    def _plain_bar(self, verbose, steps, keys):
        """For an evaluate/predict with no callback and a bar: whether it can
        skip the callback list (False, None: no), and the core's bar (not
        with Python metrics: their loop is Python's)."""
        if keys and self._loop_network() is not self._network:
            return False, None
        bar = native_progbar.open_bar(_native.core, verbose=verbose, target=steps, epochs=1,
                                      keys=keys, n_train=len(keys))
        return bar is not None, bar

    def evaluate(
        self,
        x=None,
        y=None,
        batch_size=None,
        verbose="auto",
        sample_weight=None,
        steps=None,
        callbacks=None,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        return_dict=False,
        distribute=None,
        **kwargs,
    ):
        """Loss and metrics on ``x``/``y``: a float when there is only the
        loss, else a list in ``metrics_names`` order (a dict with
        ``return_dict=True``)."""
        if kwargs:
            raise TypeError(f"evaluate() got unexpected argument(s) {sorted(kwargs)}")
        self._refuse_while_fitting("evaluate", same_thread_ok=True)
        self._assert_compiled("training/testing")
        verbose = _resolve_verbose(verbose)
        steps = da.check_positive_int(steps, "steps")
        if batch_size is not None:
            da.check_batch_size(batch_size)
        if is_batch_source(x):
            logs = source_loops.evaluate_from_source(
                self, x, y=y, sample_weight=sample_weight, batch_size=batch_size, verbose=verbose,
                steps=steps, callbacks=callbacks, max_queue_size=max_queue_size, workers=workers,
                use_multiprocessing=use_multiprocessing, parallel=_parallel(self, distribute, "evaluate"),
            )
            return logs if return_dict else _flatten_in_order(logs, self.metrics_names)
        x, y, sample_weight = self._xy(x, y, sample_weight)
        batch_size = _at_most_rows(da.default_batch_size(batch_size, x.shape[0], steps), x.shape[0])
        parallel = _parallel(self, distribute, "evaluate")
        if parallel is not None:
            parallel.check(callbacks, data=parallel_data_signature(x, y, sample_weight),
                           batch_size=batch_size, steps=steps, metrics=self.metrics_names)
            verbose = verbose if parallel.comm.is_chief else 0
        data = da.make_dataset(x, y, sample_weight, for_training=False)
        n_batches = -(-x.shape[0] // batch_size)
        if steps is not None and steps > n_batches:
            _warn_short(steps, n_batches)
        ran = _test_batch_count(x.shape[0], batch_size, steps)
        plain, bar = False, None
        if parallel is None and _no_callbacks(callbacks):
            plain, bar = (True, None) if verbose == 0 else self._plain_bar(verbose, ran, self.metrics_names)
        if plain:
            self._fresh_history(verbose=verbose, epochs=1, steps=ran)
            return _results_in_order(self._test_plain(data, batch_size, ran, bar), self.metrics_names, return_dict)
        cl = self._callback_list(callbacks, verbose, epochs=1, steps=ran)
        try:
            if parallel is None:
                logs = self._test(cl, data, batch_size, steps)
            else:
                try:
                    parallel.enter()
                    logs = self._test(cl, data, batch_size, steps, parallel)
                finally:
                    parallel.exit()
        except BaseException as e:
            cl.on_exception(e, self._logs_now())
            raise
        if return_dict:
            return logs
        return _flatten_in_order(logs, self.metrics_names)

    # -- predict ------------------------------------------------------------------

    def predict(
        self,
        x,
        batch_size=None,
        verbose="auto",
        steps=None,
        callbacks=None,
        max_queue_size=10,
        workers=1,
        use_multiprocessing=False,
        distribute=None,
    ):
        """The model's outputs for ``x``, a float32 array (samples, units);
        data-parallel with ``distribute`` (every rank gets all outputs)."""
        self._refuse_while_fitting("predict", same_thread_ok=True)
        verbose = _resolve_verbose(verbose)
        steps = da.check_positive_int(steps, "steps")
        if batch_size is not None:
            da.check_batch_size(batch_size)
        if is_batch_source(x):
            return source_loops.predict_from_source(
                self, x, batch_size=batch_size, verbose=verbose, steps=steps, callbacks=callbacks,
                max_queue_size=max_queue_size, workers=workers, use_multiprocessing=use_multiprocessing,
                parallel=_parallel(self, distribute, "predict"),
            )
        x = self._prepare_x(x, "x")
        n = x.shape[0]
        batch_size = _at_most_rows(da.default_batch_size(batch_size, n, steps), n)
        data = da.make_dataset(x, for_training=False)
        n_batches = -(-n // batch_size)
        if steps is not None:
            if steps > n_batches:
                _warn_short(steps, n_batches)
            n_batches = min(steps, n_batches)
        rows = min(n, n_batches * batch_size)
        parallel = _parallel(self, distribute, "predict")
        if parallel is not None:
            parallel.check(callbacks, data=parallel_data_signature(x), batch_size=batch_size,
                           steps=steps)
            verbose = verbose if parallel.comm.is_chief else 0
        plain, bar = False, None
        if parallel is None and _no_callbacks(callbacks):
            plain, bar = (True, None) if verbose == 0 else self._plain_bar(verbose, n_batches, ())
        if plain:
            # As in evaluate: nothing sees a batch boundary, one native call.
            self._fresh_history(verbose=verbose, epochs=1, steps=n_batches)
            out = np.empty((n, self._network.output_dim), dtype=np.float32)
            if bar is None:
                self._network.predict_batches(data, 0, rows, batch_size, out)
            else:
                with native_progbar.flushed(bar):
                    bar.start(0)
                    self._network.predict_batches(data, 0, rows, batch_size, out, bar=bar)
                    bar.finish([])
            return out if rows == n else out[:rows]
        cl = self._callback_list(callbacks, verbose, epochs=1, steps=n_batches)
        try:
            if parallel is None:
                return self._predict(cl, data, n, n_batches, batch_size, rows)
            try:
                parallel.enter()
                return self._predict(cl, data, n, n_batches, batch_size, rows, parallel)
            finally:
                parallel.exit()
        except BaseException as e:
            cl.on_exception(e, {})
            raise

    def _predict(self, cl, data, n, n_batches, batch_size, rows, parallel=None):
        network = self._network
        out = np.empty((n, network.output_dim), dtype=np.float32)
        cl.on_predict_begin({})
        if parallel is not None:
            dispatch = parallel.dispatcher(cl, "predict")
        else:
            dispatch = cl.batch_dispatcher("predict", self._steps_per_execution)
        token = cl.costs.start_steps()

        def many(j, k, _stop_on_nonfinite):
            start = j * batch_size
            return network.predict_batches(data, start, min(n, start + k * batch_size) - start, batch_size, out)

        def one(j):
            start = j * batch_size
            network.predict_batch(data, start, min(batch_size, n - start), out)

        def logs(j):
            start = j * batch_size
            return {"outputs": out[start : start + batch_size]}

        if parallel is not None:
            steps = parallel.predict_steps(data, batch_size, out)
        else:
            hooked = core_hooked(network, network.predict_batches_hooked, data, n, batch_size, before=(out,))
            steps = Steps(many, one, logs, hooked=cl.costs.timed_hooked("predict", hooked))
        ran = run_batches(steps, dispatch, [(0, n_batches)], 0, n_batches - 1)
        cl.costs.count_steps("predict", ran)
        cl.costs.stop_steps(token)
        cl.on_predict_end({})
        return out if rows == n else out[:rows]

    # -- single batches --------------------------------------------------------------

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True,
                       return_dict=False, *, distribute=None):
        """One optimizer step on exactly this batch; returns its loss/metrics.

        Data-parallel (``distribute``, or under ``python -m hookfit.distribute``):
        every rank passes the same batch, each computes the gradient of its
        share, and the step is the one a single process takes on the whole
        batch (as one batch of ``fit``)."""
        self._refuse_while_fitting("train_on_batch")
        self._assert_compiled("training/testing")
        self._check_trainable_consistency()
        x, y, sample_weight = self._xy(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = da.class_weights_to_sample_weight(class_weight, y, sample_weight)
        parallel = _parallel(self, distribute, "train_on_batch")
        if parallel is not None:
            parallel.check(None, data=parallel_data_signature(x, y, sample_weight),
                           metrics=self.metrics_names, n_params=self._network.n_params,
                           optimizer=self.optimizer.get_config(), reset_metrics=bool(reset_metrics))
        data = da.make_dataset(x, y, sample_weight)
        if self.optimizer._network is not self._network:
            self._configure()  # model.optimizer replaced since compile (as fit does)
        network = self._loop_network()
        if parallel is None:
            if reset_metrics:
                network.reset_metrics()
            network.train_batch(data, 0, x.shape[0], self.optimizer._rate_at(network.iterations))
        else:
            try:
                parallel.enter()  # rank 0's weights, slots and iteration count everywhere
                if reset_metrics:
                    network.reset_metrics()
                parallel.train_share(data, 0, x.shape[0])
            finally:
                parallel.exit()
        return _results_in_order(network.metric_results(), self.metrics_names, return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        """Loss/metrics on exactly this batch (no weight change)."""
        self._refuse_while_fitting("test_on_batch", same_thread_ok=True)
        self._assert_compiled("training/testing")
        x, y, sample_weight = self._xy(x, y, sample_weight)
        data = da.make_dataset(x, y, sample_weight, for_training=False)
        network = self._loop_network()
        if reset_metrics:
            network.reset_metrics()
        network.test_batch(data, 0, x.shape[0])
        return _results_in_order(network.metric_results(), self.metrics_names, return_dict)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch."""
        self._refuse_while_fitting("predict_on_batch", same_thread_ok=True)
        x = self._prepare_x(x, "x")
        data = da.make_dataset(x, for_training=False)
        out = np.empty((x.shape[0], self._network.output_dim), dtype=np.float32)
        self._network.predict_batch(data, 0, x.shape[0], out)
        return out
