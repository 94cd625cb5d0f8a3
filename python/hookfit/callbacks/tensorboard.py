"""``TensorBoard``: scalars (and weight histograms) for TensorBoard.

Event files are written by hookfit's own small writer
(``tensorboard_events.py``: scalars are a few bytes each, and tensorboardX's
queue cost ~100 us per scalar in the loop); histograms are built by
tensorboardX (the optional extra ``hookfit[tensorboard]``, needed only with
``histogram_freq``). The files are written every 120 s and complete at the
end of the fit (``on_train_end`` / ``on_exception`` close them), as with
TensorFlow's summary writers. The layout is Keras 2's: ``log_dir/train`` and ``log_dir/validation`` runs
(each created only when first written to), ``epoch_<key>`` scalars at step
= epoch, ``evaluation_<key>_vs_iterations`` at each evaluation end, and
``batch_<key>`` every ``update_freq`` batches.

Event files are append-only logs made of checksummed records, so they are
the one kind of file hookfit does not write through a temporary file:
TensorBoard's reader skips a torn last record.
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from hookfit.callbacks.callback import Callback, Due, Schedule, has_epoch_hooks_of
from hookfit.callbacks.tensorboard_events import ScalarEventWriter
from hookfit.utils.atomic import check_can_write

logger = logging.getLogger("hookfit")

# Arguments of older Keras versions that only earn a warning.
_LEGACY_KWARGS = ("write_grads", "embeddings_layer_names", "embeddings_data", "batch_size")


def _is_scalar(value) -> bool:
    """Whether a log entry is one number (TensorBoard's scalars cannot show
    arrays). The loop logs Python floats: they skip NumPy's dispatch."""
    return type(value) is float or np.ndim(value) == 0


def _epoch_tags(keys):
    """The epoch records' tags for epoch logs with ``keys`` (as
    ``on_epoch_end`` names them): ``((train tags, their positions in keys,
    None for all), (validation tags, their positions))``."""
    train = [i for i, k in enumerate(keys) if k[:4] != "val_"]
    val = [i for i, k in enumerate(keys) if k[:4] == "val_"]
    return ((tuple("epoch_" + keys[i] for i in train), None if len(train) == len(keys) else train),
            (tuple("epoch_" + keys[i][4:] for i in val), val))


def _histogram_summary():
    try:
        from tensorboardX.summary import histogram
    except ImportError as e:
        raise ImportError(
            "TensorBoard(histogram_freq=...) needs tensorboardX to build histograms: "
            "pip install 'hookfit[tensorboard]' (or use histogram_freq=0)."
        ) from e
    return histogram


def _tensorflow_bucket_limits():
    # TensorFlow's histogram buckets: edges growing by 10% from 1e-12 to
    # 1e20, mirrored for negative values, with 0 in the middle.
    positive = 1e-12 * 1.1 ** np.arange(int(np.ceil(np.log(1e32) / np.log(1.1))))
    positive = positive[positive < 1e20]
    return np.concatenate([-positive[::-1], [0.0], positive])


class TensorBoard(Callback):
    """Write logs for TensorBoard.

    Args:
        log_dir: the directory of the runs (``train/``, ``validation/``).
        histogram_freq: every this many epochs (0: never), a histogram of
            each layer's kernel and bias (``dense/kernel_0/histogram``).
        write_graph: accepted for compatibility; hookfit has no graph to draw.
        write_images: accepted for compatibility; unused.
        write_steps_per_second: also log ``epoch_steps_per_second``.
        update_freq: ``"epoch"``, ``"batch"`` or N: write ``batch_<key>``
            scalars when the global batch counter (1-based, running across
            epochs) is a multiple of N.
        profile_batch: must be 0 (no profiler in hookfit).
        embeddings_freq: must be 0 (no embedding layers in hookfit).
        embeddings_metadata: accepted for compatibility; unused.

    Unlike tf-keras (keras-team/tf-keras#641), ``update_freq`` batch scalars
    are written whatever the verbosity: this callback asks for the batch
    hooks itself when it needs them.

    >>> tensorboard = TensorBoard(log_dir="logs", update_freq=10)
    """

    def __init__(
        self,
        log_dir="logs",
        histogram_freq=0,
        write_graph=True,
        write_images=False,
        write_steps_per_second=False,
        update_freq="epoch",
        profile_batch=0,
        embeddings_freq=0,
        embeddings_metadata=None,
        **kwargs,
    ):
        super().__init__()
        for key in list(kwargs):
            if key in _LEGACY_KWARGS:
                kwargs.pop(key)
                logger.warning(
                    "`%s` is deprecated in the TensorBoard callback and will be ignored.", key
                )
        if kwargs:
            raise ValueError(
                f"Unrecognized arguments in `TensorBoard` Callback: {sorted(kwargs)}. "
                "Supported: log_dir, histogram_freq, write_graph, write_images, "
                "write_steps_per_second, update_freq, profile_batch, embeddings_freq, "
                "embeddings_metadata."
            )
        self.log_dir = os.fspath(log_dir)
        if isinstance(histogram_freq, bool) or not isinstance(histogram_freq, int) or histogram_freq < 0:
            raise ValueError(f"histogram_freq must be an integer >= 0; got {histogram_freq!r}.")
        self.histogram_freq = histogram_freq
        self.write_graph = write_graph
        self.write_images = write_images
        self.write_steps_per_second = write_steps_per_second
        if update_freq == "batch":
            update_freq = 1
        if update_freq != "epoch" and (
            isinstance(update_freq, bool) or not isinstance(update_freq, int) or update_freq < 1
        ):
            raise ValueError(
                f"update_freq must be 'epoch', 'batch' or a positive integer; got {update_freq!r}."
            )
        self.update_freq = update_freq
        if profile_batch not in (0, None, (0, 0)):
            raise ValueError(
                f"profile_batch={profile_batch!r}: hookfit has no profiler; use 0. Per-callback "
                "costs are in history.callback_costs instead."
            )
        if embeddings_freq:
            raise ValueError(
                f"embeddings_freq={embeddings_freq!r}: hookfit has no embedding layers; use 0."
            )
        self.embeddings_freq = embeddings_freq
        self.embeddings_metadata = embeddings_metadata
        # Fail at construction, not mid-fit.
        self._histogram = _histogram_summary() if histogram_freq else None
        self._writers = {}
        self._global_train_batch = 0
        self._epoch_start = None
        self._epoch_steps = 0
        self._tags_by_keys: dict = {}  # epoch logs' keys -> _epoch_tags(keys)
        self._batch_tags: dict = {}  # batch logs' keys -> their tags

    # -- writers -----------------------------------------------------------------

    def _writer(self, run):
        writer = self._writers.get(run)
        if writer is None:
            writer = ScalarEventWriter(os.path.join(self.log_dir, run))
            self._writers[run] = writer
        return writer

    def _close_writers(self):
        self._in_fit = False
        for writer in self._writers.values():
            writer.close()
        self._writers = {}

    # -- hooks -------------------------------------------------------------------

    def _implements_train_batch_hooks(self):
        return self.update_freq != "epoch"

    def on_train_begin(self, logs=None):
        check_can_write(self.log_dir, what="TensorBoard log directory", directory=True)
        self._global_train_batch = 0
        self._in_fit = True

    _late_epoch_reads_times = True

    def _epoch_hooks_can_wait(self):
        # The epoch records are buffered anyway (flushed every 120 s); the
        # weight histograms need the weights of that very epoch.
        return not self.histogram_freq and has_epoch_hooks_of(self, TensorBoard)

    def on_epoch_begin(self, epoch, logs=None):
        late = self._late_epoch
        self._epoch_start = time.perf_counter() if late is None else late.began
        self._epoch_steps = 0

    def _batch_schedule(self, mode):
        # Only the batches whose scalars are written need this callback; the
        # others are counted by ``_skip_batches``.
        if self.update_freq == "epoch":
            return Schedule(skip=self._skip_batches, passes=self._skip_passes)
        return Schedule(due=self._next_write_batch, skip=self._skip_batches, steps=self._steps_to_write,
                        period=self.update_freq, passes=self._skip_passes)

    def _batch_end_can_wait(self):
        # Its batch scalars are buffered like the epoch records.
        return type(self).on_train_batch_end is TensorBoard.on_train_batch_end and self._epoch_hooks_can_wait()

    def _next_write_batch(self, batch, last):
        return Due(batch=batch + self._steps_to_write() - 1)

    def _steps_to_write(self):
        f = self.update_freq
        return f - self._global_train_batch % f

    def _skip_batches(self, batch, count):
        self._global_train_batch += count
        self._epoch_steps = batch + count

    def _skip_passes(self, count, per_pass):
        self._global_train_batch += count * per_pass
        self._epoch_steps = per_pass

    def on_train_batch_end(self, batch, logs=None):
        # Counted here rather than in on_train_batch_begin (as tf-keras does):
        # the same count wherever it is read, and no begin hook to call.
        self._global_train_batch += 1
        self._epoch_steps = batch + 1
        if self.update_freq == "epoch" or self._global_train_batch % self.update_freq:
            return
        logs = logs or {}
        keys = tuple(logs)
        tags = self._batch_tags.get(keys)
        if tags is None:  # (the same keys at every batch of a fit)
            tags = self._batch_tags[keys] = tuple("batch_" + k for k in keys)
        # (fit's logs hold floats: no call for them)
        values = [v if type(v) is float else float(v) for v in logs.values() if type(v) is float or _is_scalar(v)]
        if len(values) == len(tags):
            self._writer("train").add_scalar_rows(tags, (values,), (self._global_train_batch,), (time.time(),))
        else:  # (some value is not a number)
            self._writer("train").add_scalars(
                {"batch_" + k: float(v) for k, v in logs.items() if _is_scalar(v)}, self._global_train_batch)

    def on_epoch_end(self, epoch, logs=None):
        train, validation = {}, {}
        for key, value in (logs or {}).items():
            # (fit's logs hold floats: no call for them, at every epoch)
            if type(value) is float or _is_scalar(value):
                if key[:4] == "val_":
                    validation["epoch_" + key[4:]] = value if type(value) is float else float(value)
                else:
                    train["epoch_" + key] = value if type(value) is float else float(value)
        late = self._late_epoch
        if self.write_steps_per_second and self._epoch_start is not None:
            steps = self._epoch_steps or (self.params or {}).get("steps") or 0
            elapsed = (time.perf_counter() if late is None else late.ended) - self._epoch_start
            train["epoch_steps_per_second"] = steps / elapsed if elapsed > 0 else 0.0
        # No flush per epoch: like TensorFlow's summary writers, the writer
        # flushes on an interval (120 s); the files are complete at
        # on_train_end / on_exception, which close the writers.
        wall = None if late is None else late.wall
        if train:
            self._writer("train").add_scalars(train, epoch, wall_time=wall)
        if validation:
            self._writer("validation").add_scalars(validation, epoch, wall_time=wall)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            self._log_weights(epoch)

    def _late_epochs(self, run):
        # on_epoch_begin and on_epoch_end for each epoch of the run: its
        # records, in one call per run directory.
        tags = self._tags_by_keys.get(run.keys)
        if tags is None:
            tags = self._tags_by_keys[run.keys] = _epoch_tags(run.keys)
        (train_tags, train_at), (val_tags, val_at) = tags
        rows, walls = run.rows, run.walls()
        train = rows if train_at is None else [[r[i] for i in train_at] for r in rows]
        seconds = run.seconds() if self.write_steps_per_second else None
        if seconds is not None:
            steps = self._epoch_steps or (self.params or {}).get("steps") or 0
            train = [[*r, steps / s if s > 0 else 0.0] for r, s in zip(train, seconds)]
            train_tags += ("epoch_steps_per_second",)
        if train_tags:
            self._writer("train").add_scalar_rows(train_tags, train, run.epochs, walls)
        if val_tags:
            val = [[r[i] for i in val_at] for r in rows]
            self._writer("validation").add_scalar_rows(val_tags, val, run.epochs, walls)

    def on_test_end(self, logs=None):
        optimizer = getattr(self.model, "optimizer", None)
        if optimizer is None or not logs:
            return
        writer = self._writer("validation")
        writer.add_scalars(
            {f"evaluation_{k}_vs_iterations": float(v) for k, v in logs.items() if _is_scalar(v)},
            int(optimizer.iterations),
        )
        # Flushed only by a standalone evaluate(): inside fit the writers are
        # closed at on_train_end (see on_epoch_end).
        if not getattr(self, "_in_fit", False):
            writer.flush()

    def on_train_end(self, logs=None):
        self._close_writers()

    def on_exception(self, exception, logs=None):
        # The run is about to raise: put what was logged so far on disk.
        self._close_writers()

    def _log_weights(self, epoch):
        writer = self._writer("train")
        for layer in self.model.layers:
            for name, weight in zip(("kernel", "bias"), layer.get_weights()):
                built = self._histogram(
                    f"{layer.name}/{name}_0/histogram", np.asarray(weight), _tensorflow_bucket_limits()
                )
                writer.add_summary(built.SerializeToString(), epoch)

    # Stateful-callback protocol: a resumed run continues the batch steps.
    def get_state(self):
        return {"global_train_batch": self._global_train_batch}

    def set_state(self, state):
        self._global_train_batch = int(state["global_train_batch"])
