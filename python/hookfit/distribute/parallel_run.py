"""One data-parallel fit, evaluate or predict: what the trainer's loop asks
of the ranks, and nothing when the run has one process (``start`` returns
None and the loop takes today's path).

- At the start the ranks compare a signature of the run (``signature.py``),
  then rank 0's weights, optimizer slots and iteration count are broadcast:
  every rank starts from the same state.
- A training step: each rank runs ``grad_batch`` on its contiguous share of
  the global batch (Dropout draws the share's rows of the global masks,
  with rank 0's Dropout seeds), one in-place Allreduce sums
  ``reduce_buffer`` (gradients, metric deltas, and the stop flag in its
  last float), trainable BatchNormalization's moving statistics are
  averaged (``moving_statistics.py``), then ``update_batch``: every rank
  holds the same weights and running metrics.
- Test batches: each rank accumulates its share from zero, the deltas are
  summed and added to the running state. Predict: each rank predicts its
  share, an Allgather completes the batch on every rank.
- Batch hooks run as on one process: at every batch, or at the boundaries
  of chunks of batches (``steps_per_execution``, scheduled callbacks, the
  progress bar's redraws); train chunks are rank 0's (``agreed_chunks.py``:
  the progress bar exists on rank 0 only), so the loop's ``stop_training``
  reads are the same collective calls on every rank. When a callback has
  train batch hooks (other than the progress bar), each read after a
  dispatched boundary is an OR over ranks (``StopAgreement``); a stop set
  before a batch (at epoch begin) rides that batch's Allreduce in the
  buffer's last float, at no cost; and every epoch end ORs too. A callback
  that stops on one rank stops all at the same boundary, as on one process.
- The shuffle seed of each pass is drawn on rank 0 from hookfit's stream and
  broadcast: the permutations are the ones a single process with the same
  seed makes.
"""

from __future__ import annotations

import functools
import logging
import threading
from typing import TYPE_CHECKING

import numpy as np

from hookfit.distribute.data_parallel import DataParallel, shard_bounds
from hookfit.distribute.signature import check_same_run, sample_checksum

if TYPE_CHECKING:
    from hookfit.distribute.chief_files import ChiefFiles
    from hookfit.distribute.moving_statistics import MovingStatistics

# Callbacks that write files (adapted by chief_files.py for the fit).
_FILE_WRITERS = ("ModelCheckpoint", "CSVLogger", "TensorBoard", "BackupAndRestore")
# The calls that train: they start from rank 0's optimizer state and Dropout seeds.
_TRAINING = ("fit", "train_on_batch")


def strategy_for(distribute) -> DataParallel | None:
    """The strategy of a call: the argument, else the launcher's default;
    None when the run has one process (today's path)."""
    if distribute is None:
        from hookfit.distribute.launch import default_strategy

        distribute = default_strategy()
        if distribute is None:
            return None
    elif not isinstance(distribute, DataParallel):
        raise TypeError(
            "distribute must be a hookfit.distribute.DataParallel (or None); "
            f"got {type(distribute).__name__}"
        )
    return distribute if distribute.size > 1 else None


class _NotChief(logging.Filter):
    """hookfit's warnings (slow callbacks, data ran out) once, from rank 0:
    drops the records of this rank's thread (replicas may be threads of one
    process sharing the logger)."""

    def __init__(self):
        super().__init__()
        self._thread = threading.get_ident()

    def filter(self, record):
        return record.thread != self._thread


class ParallelRun:
    def __init__(self, strategy: DataParallel, model, what: str):
        self.strategy = strategy
        self.comm = strategy.comm
        self.model = model
        self.what = what
        self.agreed_stop = False
        self.watch_batch_stops = False
        self._filter: logging.Filter | None = None
        self._files: ChiefFiles | None = None  # during a fit
        self._moving: MovingStatistics | None = None  # BatchNormalization's, found at the first step
        self._lent: tuple | None = None  # (network, the communicator's buffer it uses) while entered
        self._own_buffer: np.ndarray | None = None  # the network's buffer before

    # -- start and end ---------------------------------------------------------

    def check(self, callbacks, **signature) -> None:
        """The same run on every rank (before anything changes)."""
        from hookfit.callbacks.callback_list import CallbackList

        if isinstance(callbacks, CallbackList) and any(
            type(cb).__name__ in _FILE_WRITERS for cb in callbacks.callbacks
        ):
            raise NotImplementedError(
                f"{self.what}() on {self.comm.size} ranks: pass the callbacks as a list, not a "
                "CallbackList, when it holds file-writing callbacks (each rank must adapt them "
                "before the list is built)"
            )
        check_same_run(self.comm, self.what, signature)

    def check_source(self, callbacks, source, validation=None, **signature) -> None:
        """``check`` for a run over a batch source (PyDataset, generator):
        its length and first batch; a validation source or Dataset too."""
        from hookfit.distribute.source_shares import source_signature

        model = self.model
        if validation is not None:
            signature["validation"] = (
                source_signature(validation, validation.peek()) if hasattr(validation, "peek")
                else data_signature(validation.x, validation.y)
            )
        self.check(
            callbacks, data=source_signature(source, source.peek()), metrics=model.metrics_names,
            n_params=model._network.n_params, optimizer=model.optimizer.get_config()
            if self.what == "fit" else None, **signature,
        )

    def source_shares(self):
        from hookfit.distribute.source_shares import SourceShares

        return SourceShares(self)

    def enter(self, callbacks=None) -> "ParallelRun":
        """Rank 0's weights, slots and iteration count everywhere; files and
        warnings from rank 0 only. Call ``exit`` after ``on_train_end``."""
        from hookfit.distribute.chief_files import ChiefFiles

        if callbacks is not None and not hasattr(callbacks, "callbacks"):
            files = ChiefFiles(self.comm)
            self._files = files
            files.apply(list(callbacks))
        self.watch_batch_stops = _may_stop_in_batch_hooks(callbacks)
        training = self.what in _TRAINING
        if training:
            self._same_dropout_seeds()
        network = self.model._network
        self.comm.bcast_(network.params)
        if training:
            for slot in network.optimizer_slots():
                self.comm.bcast_(slot)
            network.iterations = int(self.comm.bcast_bytes(str(network.iterations).encode()))
            self._borrow_reduce_buffer(network)
        if not self.comm.is_chief:
            not_chief = _NotChief()
            self._filter = not_chief
            logging.getLogger("hookfit").addFilter(not_chief)
        return self

    def _same_dropout_seeds(self) -> None:
        """Rank 0's Dropout seeds everywhere (a layer built without a seed
        drew one from this process's stream): the ranks draw their rows of
        the same global masks. A rank whose seeds differ rebuilds its
        network (its weights and slots come from rank 0 next)."""
        import json

        from hookfit.layers.dropout import Dropout

        layers = [c.layer for c in getattr(self.model, "_calls", ()) if isinstance(c.layer, Dropout)]
        mine = [int(layer._seed) for layer in layers]
        chief = json.loads(self.comm.bcast_bytes(json.dumps(mine).encode() if self.comm.is_chief else None))
        if self.comm.any_(len(chief) != len(mine)):
            raise RuntimeError(
                f"{self.what}() on {self.comm.size} ranks: the ranks' models have different "
                "numbers of Dropout layers; every rank must build the same model"
            )
        if chief != mine:
            for layer, seed in zip(layers, chief):
                layer._seed = seed
            self.model._build_network()

    def _borrow_reduce_buffer(self, network) -> None:
        """The step's gradients in memory the communicator sums with no copy
        (ranks on one machine: a shared window), when it has such memory."""
        lent = self.comm.lend_reduce_buffer(network.reduce_buffer.shape[0])
        if lent is not None:
            self._own_buffer = network.use_reduce_buffer(lent)
            self._lent = (network, lent)

    def exit(self) -> None:
        if self._lent is not None:
            network, lent = self._lent
            self._lent = None
            # Unless configure replaced it since (a new optimizer mid-fit).
            if network.reduce_buffer is lent:
                network.use_reduce_buffer(self._own_buffer)
            self._own_buffer = None
            self.comm.return_reduce_buffer(lent)
        if self._files is not None:
            self._files.undo()
            self._files = None
        if self._filter is not None:
            logging.getLogger("hookfit").removeFilter(self._filter)
            self._filter = None

    # -- what the loop calls -----------------------------------------------------

    def dispatcher(self, cl, mode):
        """The batch hooks around a mode's batches. Test and predict batches
        hold their collectives inside each batch, so each rank chunks them
        its own way; train chunks end where ``stop_training`` is agreed, so
        every rank takes rank 0's (``agreed_chunks.py``)."""
        spe = getattr(self.model, "_steps_per_execution", 1)
        if mode != "train":
            return cl.batch_dispatcher(mode, spe)
        from hookfit.distribute.agreed_chunks import agreed_dispatcher

        return agreed_dispatcher(cl, mode, spe, self.comm)

    def agree_stop(self) -> bool:
        """``stop_training`` OR-ed over ranks (set on the model too)."""
        model = self.model
        self.agreed_stop = self.comm.any_(model.stop_training)
        model.stop_training = self.agreed_stop
        return self.agreed_stop

    @property
    def stop_view(self):
        return StopAgreement(self)

    def shuffle_seed(self, draw) -> int:
        """A pass's shuffle seed: drawn on rank 0, the same everywhere."""
        seed = draw() if self.comm.is_chief else 0
        return int(self.comm.bcast_bytes(str(seed).encode()).decode())

    def after_train_begin(self, it) -> None:
        """Rank 0's training state everywhere once every callback began: a
        callback that read a file only rank 0 has (ModelCheckpoint's
        load_weights_on_restart) leaves every rank the same. The position
        in the data must already agree (BackupAndRestore restores the same
        bytes on every rank); if a callback moved it on some ranks only,
        every rank raises."""
        self.sync_training_state(
            (it.epoch, it.step, it.epoch_start_step,
             None if it.order is None else sample_checksum(it.order))
        )

    def sync_training_state(self, position) -> None:
        import pickle

        network, comm = self.model._network, self.comm
        comm.bcast_(network.params)
        for slot in network.optimizer_slots():
            comm.bcast_(slot)
        state = pickle.dumps(
            (network.iterations, network.metric_state(), bool(self.model.stop_training), position)
        ) if comm.is_chief else None
        # Our own ranks' bytes, never a file: pickle is safe here.
        iterations, metric_state, stop, chief_position = pickle.loads(comm.bcast_bytes(state))
        if comm.any_(position != chief_position):
            raise RuntimeError(
                "the ranks start this fit at different positions in the data (a callback moved "
                "it on some ranks only); every rank must restore the same state"
            )
        if not comm.is_chief:
            network.iterations = iterations
            network.set_metric_state(metric_state)
            self.model.stop_training = stop

    def train_share(self, data, start, rows) -> None:
        """One global batch of ``rows`` rows at ``start`` of ``data``: this
        rank's share (Dropout draws its rows of the global masks), the sum,
        BatchNormalization's moving statistics averaged, the update."""
        network, opt, model = self.model._network, self.model.optimizer, self.model
        lo, hi = shard_bounds(rows, self.comm.rank, self.comm.size)
        network.grad_batch(data, start + lo, hi - lo, rows, lo)
        self._python_metrics_see(data, start, rows, hi > lo)
        buf = network.reduce_buffer
        buf[-1] = 1.0 if model.stop_training else 0.0
        self.comm.allreduce_sum_(buf)
        if buf[-1] > 0.0:  # set before this batch on some rank: it runs, then all stop
            self.agreed_stop = model.stop_training = True
        if self._moving is None:
            from hookfit.distribute.moving_statistics import MovingStatistics

            self._moving = MovingStatistics(model, self.comm)
        if self._moving:
            self._moving.average(hi > lo)
        rate = getattr(opt, "_rate_at", None)  # a learning-rate schedule's rate at an iteration
        network.update_batch(rate(network.iterations) if rate is not None else opt._learning_rate)

    def test_share(self, data, start, rows) -> None:
        """One global test batch: this rank's share accumulated from zero,
        the deltas summed and added to the running state."""
        network, comm = self.model._network, self.comm
        lo, hi = shard_bounds(rows, comm.rank, comm.size)
        running = network.metric_state()
        network.reset_metrics()
        if hi > lo:
            network.test_batch(data, start + lo, hi - lo)
        self._python_metrics_see(data, start, rows, hi > lo)
        delta = np.ascontiguousarray(network.metric_state(), dtype=np.float32)
        if hi - lo not in (0, rows) and self._summed_loss():
            # The loss tracker [total, count] weighs a batch's loss by its
            # rows: a summed share S_r counts as S_r * rows / share, so the
            # ranks add the global sum times rows, as one process does.
            delta[0] *= np.float32(rows / (hi - lo))
        comm.allreduce_sum_(delta.reshape(-1))
        network.set_metric_state(running + delta)

    def _python_metrics_see(self, data, start, rows, ran: bool) -> None:
        """Metrics run in Python (custom ones) get the whole global batch on
        every rank: the shares' outputs gathered, then the same update as on
        one process, so their state (whatever it is) agrees everywhere."""
        loop = self._loop
        if loop is None:
            return
        network = self.model._network
        share = network.last_batch_output() if ran else np.zeros((0, network.output_dim), np.float32)
        loop._update(data, start, rows, self.comm.allgather_rows(share))

    @functools.cached_property
    def _loop(self):
        """The loop's network when custom metrics run in Python, else None
        (once per run: compile is refused while it lasts)."""
        loop = self.model._loop_network()
        return loop if getattr(loop, "has_python_metrics", False) else None

    def _summed_loss(self) -> bool:
        from hookfit import losses

        return losses.spec_of(self.model.loss).get("reduction") in ("sum", 1)

    def predict_share(self, data, start, rows, out) -> None:
        """One global predict batch: this rank's share, then every rank's
        rows of ``out[start:start + rows]`` everywhere."""
        lo, hi = shard_bounds(rows, self.comm.rank, self.comm.size)
        if hi > lo:
            self.model._network.predict_batch(data, start + lo, hi - lo, out)
        out[start : start + rows] = self.comm.allgather_rows(out[start + lo : start + hi])

    def train_steps(self, it, make_logs):
        from hookfit.trainers.batch_runner import Steps

        self.after_train_begin(it)
        data = it.dataset
        batch_size, n_rows = it.batch_size, it.n_rows
        results = self.model._loop_network().metric_results  # custom metrics' results merged

        def step(j):
            start = j * batch_size
            self.train_share(data, start, min(batch_size, n_rows - start))

        hit = [False]  # the last many() stopped on a NaN/inf loss

        def many(j, k, stop_on_nonfinite):
            hit[0] = False
            for i in range(k):
                step(j + i)
                it.step += 1
                if stop_on_nonfinite and not np.isfinite(results()[0]):
                    hit[0] = True
                    return i + 1
                if self.agreed_stop:  # a stop set before this batch rode its Allreduce
                    return i + 1
            return k

        def one(j):
            step(j)
            it.step += 1

        def logs(j):
            return make_logs(results())

        # many() advances the position itself (per batch, so an error keeps it exact).
        return Steps(many, one, logs, None, metric_logs=(make_logs, results), stopped=lambda: hit[0])

    def test_steps(self, data, batch_size, make_logs):
        from hookfit.trainers.batch_runner import Steps

        n = data.n_rows
        results = self.model._loop_network().metric_results  # custom metrics' results merged

        def one(j):
            start = j * batch_size
            self.test_share(data, start, min(batch_size, n - start))

        def many(j, k, _stop_on_nonfinite):
            for i in range(k):
                one(j + i)
            return k

        def logs(j):
            return make_logs(results())

        return Steps(many, one, logs, metric_logs=(make_logs, results))

    def predict_steps(self, data, batch_size, out):
        from hookfit.trainers.batch_runner import Steps

        n = out.shape[0]

        def one(j):
            start = j * batch_size
            self.predict_share(data, start, min(batch_size, n - start), out)

        def many(j, k, _stop_on_nonfinite):
            for i in range(k):
                one(j + i)
            return k

        def logs(j):
            start = j * batch_size
            return {"outputs": out[start : start + batch_size]}

        return Steps(many, one, logs)


class StopAgreement:
    """What ``run_batches`` reads ``stop_training`` from in a data-parallel
    fit: every read is the OR over ranks (the reads happen at the same
    batches on every rank: after each batch's hooks)."""

    __slots__ = ("_run",)

    def __init__(self, run: ParallelRun):
        self._run = run

    @property
    def stop_training(self) -> bool:
        run = self._run
        return run.agree_stop() if run.watch_batch_stops else run.agreed_stop


def _may_stop_in_batch_hooks(callbacks) -> bool:
    """True when some callback other than the progress bar has train batch
    hooks (the same answer on every rank: only the progress bar differs)."""
    from hookfit.callbacks.callback import overrides
    from hookfit.callbacks.progbar_logger import ProgbarLogger

    listed = getattr(callbacks, "callbacks", callbacks) or []
    hooks = ("on_train_batch_begin", "on_train_batch_end", "on_batch_begin", "on_batch_end")
    return any(
        not isinstance(cb, ProgbarLogger) and any(overrides(cb, h) for h in hooks) for cb in listed
    )


def data_signature(*arrays) -> dict:
    return {
        "shapes": [None if a is None else [list(np.shape(a)), str(np.asarray(a).dtype)] for a in arrays],
        "checksum": sample_checksum(*arrays),
    }


def start(model, distribute, what: str):
    """The ParallelRun of a call, or None for one process."""
    strategy = strategy_for(distribute)
    return None if strategy is None else ParallelRun(strategy, model, what)


__all__ = ["ParallelRun", "StopAgreement", "data_signature", "start", "strategy_for"]
