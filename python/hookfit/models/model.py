"""``Model``: compile, the fit/evaluate/predict loops and weight access.

Design
------
a) Python holds no numeric loop: one ``Network`` call per batch, or one per
   epoch (or per evaluate/predict) when no callback wants that mode's batch
   hooks and no progress bar redraws per batch.
b) Arrays are checked and converted once per call into ``Dataset`` objects
   (training and validation separately); shuffling installs one permutation
   per pass (``Dataset.set_order``); no per-batch slicing in Python.
c) Batch logs dicts are built only when some callback's batch-end hook is
   dispatched. The learning rate is read from the optimizer at every batch.
d) Keras 2 semantics hold on both paths: ``stop_training`` reset before
   ``on_train_begin``, checked after every batch end and epoch end (so when
   it is already set at an epoch's start exactly one batch runs), a
   mid-epoch stop still validates, exceptions propagate and leave the model
   usable.
"""

from __future__ import annotations

import functools
import numbers

import numpy as np

from hookfit import losses as _losses
from hookfit import metrics as _metrics
from hookfit import optimizers as _optimizers
from hookfit._native import core
from hookfit.callbacks.callback_list import CallbackList
from hookfit.trainers import data_adapter as da
from hookfit.trainers.epoch_iterator import EpochIterator
from hookfit.utils import naming


class NotCompiledError(RuntimeError, ValueError):
    """fit/evaluate called before compile (Keras raises RuntimeError)."""


def _resolve_verbose(verbose, argument="verbose") -> int:
    if verbose == "auto":
        return 1
    if isinstance(verbose, bool) or verbose not in (0, 1, 2):
        raise ValueError(f"{argument} must be 0, 1, 2 or 'auto'; got {verbose!r}")
    return int(verbose)


def _should_eval(epoch: int, validation_freq) -> bool:
    if isinstance(validation_freq, numbers.Integral):
        return (epoch + 1) % validation_freq == 0
    return epoch + 1 in validation_freq


def _check_validation_freq(validation_freq):
    if isinstance(validation_freq, bool):
        raise ValueError(f"validation_freq must be an int or a list of ints; got {validation_freq!r}")
    if isinstance(validation_freq, numbers.Integral):
        if validation_freq < 1:
            raise ValueError(f"validation_freq must be >= 1; got {validation_freq}")
        return int(validation_freq)
    if isinstance(validation_freq, (list, tuple, set)) and all(
        isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in validation_freq
    ):
        return frozenset(int(v) for v in validation_freq)
    raise ValueError(
        f"validation_freq should be an integer or a list of epoch numbers (1-based); "
        f"got {validation_freq!r}"
    )


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


class Model:
    """Base of hookfit's models (``Sequential`` is the one to use).

    Subclasses provide the layer stack: ``_weighted_layers()`` and
    ``_declared_input_dim()``.
    """

    def __init__(self, name=None):
        if name is not None and not isinstance(name, str):
            raise TypeError(f"name must be a string; got {type(name).__name__}")
        self.name = name or naming.unique_name("model")
        self._network = None
        self.optimizer = None
        self.loss = None
        self._loss_code = None
        self._metric_specs = []  # as given to compile (checked)
        self._weighted_metric_specs = []
        self._metric_names = []  # logs keys after 'loss', once configured
        self._compiled = False
        self.stop_training = False
        self.history = None
        self._epoch_iterator = None  # the running fit's position

    # -- structure (provided by subclasses) ------------------------------------

    def _weighted_layers(self) -> list:
        raise NotImplementedError

    def _declared_input_dim(self):
        raise NotImplementedError

    @property
    def built(self) -> bool:
        return self._network is not None

    @property
    def input_dim(self):
        return self._network.input_dim if self._network is not None else self._declared_input_dim()

    def build(self, input_shape=None):
        """Create the weights for ``input_shape=(None, features)`` (or the
        shape declared by the first layer)."""
        if input_shape is None:
            input_dim = self._declared_input_dim()
            if input_dim is None:
                raise ValueError(
                    "the model's input size is unknown: pass input_shape=(None, features), "
                    "give the first layer input_dim=..., or start with keras.Input(shape=...)"
                )
        else:
            shape = tuple(input_shape)
            if len(shape) == 2:
                shape = shape[1:]
            from hookfit.layers.input_layer import feature_count

            input_dim = feature_count(shape, "input_shape")
        self._build_network(input_dim)

    def _build_network(self, input_dim: int) -> None:
        """(Re)create the compiled network; layers keep weights they had."""
        layers = self._weighted_layers()
        if not layers:
            raise ValueError(
                f"model {self.name!r} has no layers; add at least one Dense layer"
            )
        old = self._network
        old_weights = {}
        if old is not None:
            old_weights = {
                id(layer): layer.get_weights()
                for layer in layers
                if layer._model is self and layer._index is not None and layer._index < old.n_layers
            }
        network = core.Network(
            input_dim,
            [l.units for l in layers],
            [l._activation_code for l in layers],
            [l.use_bias for l in layers],
        )
        fan_in = input_dim
        initial = []
        for layer in layers:
            weights = old_weights.get(id(layer))
            if weights is None or weights[0].shape[0] != fan_in:
                weights = [w for w in layer._initial_weights(fan_in) if w is not None]
            initial.append(weights)
            fan_in = layer.units
        self._network = network
        for i, (layer, weights) in enumerate(zip(layers, initial)):
            layer._attach(self, i)
            layer._fan_in = network.layer_weights(i)[0].shape[0]
            layer.set_weights(weights)
        if self._compiled:
            self._configure()

    def _ensure_built(self, x: np.ndarray) -> None:
        if self._network is None:
            da.check_features(x, self._declared_input_dim())
            self._build_network(x.shape[1])

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

        >>> model.compile(optimizer="rmsprop", loss="mse", metrics=["mae"])  # doctest: +SKIP
        """
        if kwargs:
            raise TypeError(f"compile() got unexpected argument(s) {sorted(kwargs)}")
        if loss_weights is not None:
            raise ValueError("loss_weights is not supported: hookfit models have one output")
        if steps_per_execution not in (None, 1):
            raise ValueError("steps_per_execution must be 1 (each batch is one native call already)")
        optimizer = _optimizers.get(optimizer)
        loss_code, _ = _losses.resolve(loss)
        metric_specs = _metrics.normalize(metrics)
        weighted_specs = _metrics.normalize(weighted_metrics)
        _losses.spec_of(loss)  # a loss that cannot train (reduction='none') fails here
        # Resolve now so that bad names fail before anything changes (the
        # names do not depend on the output width; the kinds may).
        width = self._network.output_dim if self._network is not None else 1
        names = [s["name"] for s in _metrics.specs(metric_specs, width, loss_code, weighted_specs)]
        self.optimizer = optimizer
        self.loss = loss
        self._loss_code = loss_code
        self._metric_specs = metric_specs
        self._weighted_metric_specs = weighted_specs
        self._compiled = True
        self._metric_names = names
        if self._network is not None:
            self._configure()

    def _configure(self) -> None:
        network = self._network
        specs = _metrics.specs(self._metric_specs, network.output_dim, self._loss_code,
                               self._weighted_metric_specs)
        opt = self.optimizer
        network.configure(_losses.spec_of(self.loss), specs, opt._spec())
        opt._bind(network)
        self._metric_names = [s["name"] for s in specs]

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
            self._network.reset_metrics()

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
        }

    # -- data preparation -------------------------------------------------------

    def _xy(self, x, y, sample_weight, *, prefix=""):
        """Checked arrays (x, y as (n, columns), sample_weight) for the core."""
        x = da.check_features(da.as_array(x, prefix + "x"), self.input_dim, prefix + "x")
        self._ensure_built(x)
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
    ):
        """Train the model for a fixed number of epochs (Keras 2 semantics).

        Returns:
            the ``History`` (also ``model.history``).

        >>> history = model.fit(x, y, batch_size=128, epochs=2, verbose=0)  # doctest: +SKIP
        """
        self._assert_compiled("training/testing")
        verbose = _resolve_verbose(verbose)
        if isinstance(epochs, bool) or not isinstance(epochs, numbers.Integral) or epochs < 1:
            raise ValueError(f"epochs must be a positive integer; got {epochs!r}")
        if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, numbers.Integral) or initial_epoch < 0:
            raise ValueError(f"initial_epoch must be a non-negative integer; got {initial_epoch!r}")
        steps_per_epoch = da.check_positive_int(steps_per_epoch, "steps_per_epoch")
        validation_steps = da.check_positive_int(validation_steps, "validation_steps")
        validation_freq = _check_validation_freq(validation_freq)
        if shuffle not in (True, False, "batch"):
            raise ValueError(f"shuffle must be True, False or 'batch'; got {shuffle!r}")

        x, y, sample_weight = self._xy(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = da.class_weights_to_sample_weight(class_weight, y, sample_weight)
        n = x.shape[0]
        val = None
        if validation_data is not None:
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

        train_data = da.make_dataset(x, y, sample_weight)
        val_data = None if val is None else da.make_dataset(*val)

        iterator = EpochIterator(
            train_data,
            batch_size,
            epochs=epochs,
            initial_epoch=initial_epoch,
            steps_per_epoch=steps_per_epoch,
            shuffle=shuffle,
        )
        params = {"verbose": verbose, "epochs": epochs, "steps": iterator.steps_per_epoch}
        if isinstance(callbacks, CallbackList):
            cl = callbacks
        else:
            cl = CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self, **params
            )
        self.stop_training = False
        self._epoch_iterator = iterator
        try:
            epoch_logs = self._fit_loop(
                cl, iterator, epochs, val_data, val_batch_size, validation_steps, validation_freq
            )
        finally:
            self._epoch_iterator = None
        if epochs > 0:  # use_ema: the weights take their moving averages, as Keras 2 does
            self.optimizer.finalize_variable_values()
        cl.on_train_end(dict(epoch_logs))
        return self.history

    def _fit_loop(self, cl, it, epochs, val_data, val_batch_size, val_steps, val_freq):
        network = self._network
        names = self.metrics_names
        make_logs = logs_builder(names)
        cl.on_train_begin({})  # a callback may restore the iterator's position here
        epoch_logs = {}
        while it.epoch < epochs:
            if it.exhausted:
                it.warn_ran_out()
                break
            epoch = it.epoch
            if it.at_epoch_start:
                network.reset_metrics()
            cl.on_epoch_begin(epoch, {})
            begin, end, _ = cl.batch_hooks("train")
            steps = cl.costs.start_steps(hooks_inside=bool(begin or end))
            if begin or end:
                self._train_batches(cl, it, make_logs)
            else:
                self._train_epoch(it)
            cl.costs.stop_steps(steps)
            epoch_logs = make_logs(network.metric_results())
            ran_out = it.ran_out and it.exhausted  # not when stop_training cut it
            if ran_out:
                it.warn_ran_out()
            if val_data is not None and _should_eval(epoch, val_freq):
                val_logs = self._test(cl, val_data, val_batch_size, val_steps)
                epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
            it.end_epoch()
            cl.on_epoch_end(epoch, dict(epoch_logs))
            if self.stop_training or ran_out:
                break
        return epoch_logs

    def _train_epoch(self, it) -> None:
        """The epoch's batches in one native call per pass they span."""
        network, data, opt = self._network, it.dataset, self.optimizer
        one_batch = self.stop_training  # set before the epoch: one batch still runs
        for first, n_batches in it.segments():
            if one_batch:
                start, rows = it.batch_rows(first, 1)
                network.train_batch(data, start, rows, opt._rate_at(network.iterations))
                it.step += 1
                return
            start, rows = it.batch_rows(first, n_batches)
            network.train_batches(data, start, rows, it.batch_size,
                                  opt._rates_for(network.iterations, n_batches))
            it.step += n_batches

    def _train_batches(self, cl, it, make_logs) -> None:
        """One native call per batch, with the batch hooks around it."""
        network, data, opt = self._network, it.dataset, self.optimizer
        train, results = network.train_batch, network.metric_results
        on_begin, on_end, logs_needed = cl.batch_hooks("train")
        timed = cl._timing  # the timed hooks are swapped for lean ones once checked
        batch_size, n_rows = it.batch_size, it.n_rows
        last_rows = n_rows - (it.batches_per_pass - 1) * batch_size
        last = it.batches_per_pass - 1
        batch = it.batch_in_epoch
        for first, n_batches in it.segments():
            for j in range(first, first + n_batches):
                if on_begin is not None:
                    on_begin(batch, {})
                train(data, j * batch_size, batch_size if j != last else last_rows,
                      opt._rate_at(network.iterations))
                it.step += 1
                if on_end is not None:
                    on_end(batch, make_logs(results()) if logs_needed else {})
                if self.stop_training:
                    return
                batch += 1
                if timed and not cl._timing:
                    timed = False
                    on_begin, on_end, logs_needed = cl.batch_hooks("train")

    # -- evaluate -----------------------------------------------------------------

    def _test(self, cl, data, batch_size, steps) -> dict:
        """The test loop (evaluate, or validation inside fit with fit's list)."""
        network = self._network
        names = self.metrics_names
        n = data.n_rows
        n_batches = -(-n // batch_size)
        if steps is not None and steps < n_batches:
            n_batches = steps
        rows = min(n, n_batches * batch_size)
        cl.on_test_begin({})
        network.reset_metrics()
        on_begin, on_end, logs_needed = cl.batch_hooks("test")
        steps = cl.costs.start_steps(hooks_inside=bool(on_begin or on_end))
        if on_begin or on_end:
            test, results = network.test_batch, network.metric_results
            make_logs = logs_builder(names)
            for batch in range(n_batches):
                start = batch * batch_size
                if on_begin is not None:
                    on_begin(batch, {})
                test(data, start, min(batch_size, n - start))
                if on_end is not None:
                    on_end(batch, make_logs(results()) if logs_needed else {})
        else:
            network.test_batches(data, 0, rows, batch_size)
        cl.costs.stop_steps(steps)
        logs = dict(zip(names, network.metric_results()))
        cl.on_test_end(dict(logs))
        return logs

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
        **kwargs,
    ):
        """Loss and metrics on ``x``/``y``: a float when there is only the
        loss, else a list in ``metrics_names`` order (a dict with
        ``return_dict=True``)."""
        if kwargs:
            raise TypeError(f"evaluate() got unexpected argument(s) {sorted(kwargs)}")
        self._assert_compiled("training/testing")
        verbose = _resolve_verbose(verbose)
        steps = da.check_positive_int(steps, "steps")
        x, y, sample_weight = self._xy(x, y, sample_weight)
        batch_size = da.default_batch_size(batch_size, x.shape[0], steps)
        data = da.make_dataset(x, y, sample_weight, for_training=False)
        n_batches = -(-x.shape[0] // batch_size)
        if steps is not None and steps > n_batches:
            self._warn_short(steps, n_batches)
        if isinstance(callbacks, CallbackList):
            cl = callbacks
        else:
            cl = CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                verbose=verbose, epochs=1, steps=min(steps or n_batches, n_batches),
            )
        logs = self._test(cl, data, batch_size, steps)
        if return_dict:
            return logs
        return _flatten_in_order(logs, self.metrics_names)

    @staticmethod
    def _warn_short(steps, available):
        import logging

        logging.getLogger("hookfit").warning(
            "Your input ran out of data; interrupting evaluation. Make sure that your "
            "dataset or generator can generate at least `steps` batches (in this case, "
            "%d batches); the data gives %d.", steps, available,
        )

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
    ):
        """The model's outputs for ``x``, a float32 array (samples, units)."""
        verbose = _resolve_verbose(verbose)
        steps = da.check_positive_int(steps, "steps")
        x = da.check_features(da.as_array(x, "x"), self.input_dim)
        self._ensure_built(x)
        n = x.shape[0]
        batch_size = da.default_batch_size(batch_size, n, steps)
        data = da.make_dataset(x, for_training=False)
        n_batches = -(-n // batch_size)
        if steps is not None:
            if steps > n_batches:
                self._warn_short(steps, n_batches)
            n_batches = min(steps, n_batches)
        rows = min(n, n_batches * batch_size)
        if isinstance(callbacks, CallbackList):
            cl = callbacks
        else:
            cl = CallbackList(
                callbacks, add_history=True, add_progbar=verbose != 0, model=self,
                verbose=verbose, epochs=1, steps=n_batches,
            )
        network = self._network
        out = np.empty((n, network.output_dim), dtype=np.float32)
        cl.on_predict_begin({})
        on_begin, on_end, logs_needed = cl.batch_hooks("predict")
        steps = cl.costs.start_steps(hooks_inside=bool(on_begin or on_end))
        if on_begin or on_end:
            step = network.predict_batch
            for batch in range(n_batches):
                start = batch * batch_size
                count = min(batch_size, n - start)
                if on_begin is not None:
                    on_begin(batch, {})
                step(data, start, count, out)
                if on_end is not None:
                    on_end(batch, {"outputs": out[start : start + count]} if logs_needed else {})
        else:
            network.predict_batches(data, 0, rows, batch_size, out)
        cl.costs.stop_steps(steps)
        cl.on_predict_end({})
        return out if rows == n else out[:rows]

    # -- single batches --------------------------------------------------------------

    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, reset_metrics=True, return_dict=False):
        """One optimizer step on exactly this batch; returns its loss/metrics."""
        self._assert_compiled("training/testing")
        x, y, sample_weight = self._xy(x, y, sample_weight)
        if class_weight is not None:
            sample_weight = da.class_weights_to_sample_weight(class_weight, y, sample_weight)
        data = da.make_dataset(x, y, sample_weight)
        if reset_metrics:
            self._network.reset_metrics()
        self._network.train_batch(data, 0, x.shape[0], self.optimizer._rate_at(self._network.iterations))
        logs = dict(zip(self.metrics_names, self._network.metric_results()))
        return logs if return_dict else _flatten_in_order(logs, self.metrics_names)

    def test_on_batch(self, x, y=None, sample_weight=None, reset_metrics=True, return_dict=False):
        """Loss/metrics on exactly this batch (no weight change)."""
        self._assert_compiled("training/testing")
        x, y, sample_weight = self._xy(x, y, sample_weight)
        data = da.make_dataset(x, y, sample_weight, for_training=False)
        if reset_metrics:
            self._network.reset_metrics()
        self._network.test_batch(data, 0, x.shape[0])
        logs = dict(zip(self.metrics_names, self._network.metric_results()))
        return logs if return_dict else _flatten_in_order(logs, self.metrics_names)

    def predict_on_batch(self, x):
        """The outputs for exactly this batch."""
        x = da.check_features(da.as_array(x, "x"), self.input_dim)
        self._ensure_built(x)
        data = da.make_dataset(x, for_training=False)
        out = np.empty((x.shape[0], self._network.output_dim), dtype=np.float32)
        self._network.predict_batch(data, 0, x.shape[0], out)
        return out

    # -- weights ------------------------------------------------------------------

    def get_weights(self) -> list:
        """Copies of every layer's weights: [kernel, bias, kernel, bias, ...]."""
        return [w for layer in self._weighted_layers() for w in layer.get_weights()] if self.built else []

    def set_weights(self, weights) -> None:
        """Set all weights from a list shaped like ``get_weights()``."""
        if not self.built:
            raise ValueError(
                "the model has no weights yet: give the first layer input_dim=..., "
                "or call build()/fit() first"
            )
        weights = list(weights)
        layers = self._weighted_layers()
        expected = sum(2 if l.use_bias else 1 for l in layers)
        if len(weights) != expected:
            raise ValueError(
                f"set_weights expects {expected} arrays (kernel and bias per layer, as "
                f"get_weights() returns); got {len(weights)}"
            )
        groups, k = [], 0
        for layer in layers:
            m = 2 if layer.use_bias else 1
            groups.append(weights[k : k + m])
            k += m
        # Check every shape before writing any.
        for layer, group in zip(layers, groups):
            for what, dst, src in zip(("kernel", "bias"), layer.weights, group):
                shape = np.shape(src)
                if shape != dst.shape:
                    raise ValueError(
                        f"layer {layer.name!r}: {what} must have shape {dst.shape}; got {shape}"
                    )
        for layer, group in zip(layers, groups):
            layer.set_weights(group)

    @property
    def weights(self) -> list:
        """Views of every layer's weights (writable; ``get_weights`` copies)."""
        return [w for layer in self._weighted_layers() for w in layer.weights] if self.built else []

    trainable_weights = weights

    def __call__(self, x):
        """The outputs for ``x`` as one batch (NumPy in, NumPy out)."""
        return self.predict_on_batch(x)

    def count_params(self) -> int:
        return self._network.n_params if self.built else 0

    def save_weights(self, filepath, overwrite=True, save_format=None, options=None):
        """Write the weights: ``.weights.h5`` (Keras 3), ``.h5`` (Keras 2) or ``.npz``.
        ``overwrite=False`` refuses an existing file (Keras would prompt)."""
        from hookfit import saving

        return saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch=False, by_name=False, options=None):
        """Read weights written by ``save_weights`` or by Keras (shapes are checked;
        ``by_name`` for Keras 2 ``.h5`` files; ``skip_mismatch`` skips layers that do not fit)."""
        from hookfit import saving

        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch, by_name=by_name)

    def save(self, filepath, overwrite=True, include_optimizer=True, **kwargs):
        """Architecture, weights and optimizer state in one file: ``.keras``
        (Keras 3), ``.h5`` (Keras 2) or ``.npz`` (hookfit)."""
        from hookfit import saving

        kwargs.pop("save_format", None)  # the suffix decides, as in Keras 3
        # TensorFlow SavedModel settings: accepted at their defaults only.
        for key, default in (("signatures", None), ("options", None), ("save_traces", True)):
            if kwargs.pop(key, default) != default:
                raise ValueError(f"save(): {key} applies to TensorFlow SavedModel files, which hookfit does not write")
        if kwargs:
            raise TypeError(f"save() got unexpected argument(s) {sorted(kwargs)}")
        return saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)
