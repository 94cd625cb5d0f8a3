"""A fit's epochs back to back: one native call per pass, epoch hooks later.

Between two passes that stream the data through the caches, Python runs
cold: on the tutorial's 8-batch epochs the per-epoch callback machinery
cost ~15% of the epoch, and a ModelCheckpoint + TensorBoard pair ~50%. So
when every callback with epoch hooks can wait for them
(``Callback._epoch_hooks_can_wait``: History, TensorBoard without
histograms, ModelCheckpoint saving every N batches, CSVLogger) and every batch hook
is due after a number of steps known ahead (``Schedule.steps_to_due``:
``save_freq``/``update_freq`` every N batches, TerminateOnNaN), the
remaining epochs run in a loop with nothing else in it:

- an epoch where no batch hook is due is one native call (which also
  watches the loss for TerminateOnNaN and draws fit's own bar);
- an epoch where one is due (or the loss went NaN/inf) runs as the
  per-epoch loop runs it: native chunks up to that batch, the hooks with
  that batch's logs, its epoch hooks at its start and end;
- with a callback that needs every batch's hooks (``PerBatch``), every
  epoch runs live: its epoch hooks at its start and end, its pass one
  native call that calls the batch hooks around each batch;
- the waiting epochs' hooks are given, in order, with the logs and the
  times of their epochs (``Callback._late_epoch``), before any other hook
  runs, at least once a second, before the weights taken for them would
  pass 64 MB, at the end, and before an exception leaves.

So every callback gets the calls, logs and counters the per-epoch loop
gives it; only when its epoch hooks run differs (a thread reading
``model.history`` meanwhile sees the epochs up to a second late).
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import time
from typing import Any

import numpy as np

from hookfit.callbacks import native_progbar
from hookfit.callbacks.callback import EpochTimes, LateEpochs
from hookfit.callbacks.callback_costs import SAMPLE_EVERY
from hookfit.callbacks.cost_details import PathNote
from hookfit.trainers.batch_runner import run_batches
from hookfit.trainers.validation import should_eval, test_batch_count

logger = logging.getLogger("hookfit")
_clock = time.perf_counter_ns
GIVE_EVERY_NS = 1_000_000_000  # the waiting hooks run at least this often,
MAX_WAITING_BYTES = 64 << 20  # and before the weights taken for them pass this


def eligible(trainer, cl, it, epochs, val_data, parallel, guard, network, drawn=None):
    """Whether the fit's remaining epochs can run back to back: None if
    not, else ``(watchers, dispatch)``: the callbacks with epoch hooks
    (all can wait) and the train batches' dispatcher (None: no batch hook;
    a ``Scheduled`` one; or a ``PerBatch`` one, whose epochs all run live).

    Needed: some epoch is left, each a whole pass of the data not shuffled
    by batch; one process, no graceful-interrupt guard, no Python metrics;
    every callback with epoch hooks can wait for them; every batch hook is
    due a known number of steps ahead (and none is a begin hook), or some
    callback needs every batch (then no bar drawn by the core); no test
    hooks when a validation (on arrays) will run. ``drawn``: a
    ``ProgbarLogger`` whose hooks do not count (the core draws its bar)."""
    no = None
    if (parallel is not None or guard is not None or network is not trainer._network
            or trainer.stop_training or it.epoch >= epochs):
        return no
    if not it.at_epoch_start or it.stopped or it.shuffle == "batch":
        return no
    per_pass = it.batches_per_pass
    if it.steps_per_epoch != per_pass or it.step % per_pass:
        return no
    if it.total_steps - it.step < (epochs - it.epoch) * per_pass:
        return no
    watchers = _epoch_watchers(cl, drawn)
    for c in watchers:
        if not c._epoch_hooks_can_wait():
            return no
    if val_data is not None and (
            hasattr(val_data, "batches")  # a batch source: its own loop
            or cl.implementers("on_test_begin", besides=drawn)
            or cl.implementers("on_test_end", besides=drawn)
            or cl.batch_members("test", besides=drawn)):
        return no
    if not cl.batch_members("train", besides=drawn):
        return watchers, None
    if trainer._steps_per_execution != 1:
        return no
    dispatch = cl.batch_dispatcher("train", besides=drawn)
    if dispatch is not None and dispatch.per_batch:
        # Every batch's hooks: each epoch runs live (nothing waits), with
        # less Python around it than the per-epoch loop's (the bar's draws
        # would need that loop's ProgbarLogger).
        return (watchers, dispatch) if drawn is None else no
    if dispatch is None or dispatch.steps_to_due() is None:
        return no
    if drawn is not None and drawn.verbose == 1 and not all(
            _waits(cl, e) or e.schedule.steps_to_due() == math.inf for e in dispatch.entries):
        # The bar's draws come after the other callbacks' batch hooks
        # (which may print), and the core draws inside its runs: only hooks
        # that wait, or run where a NaN/inf loss stopped the run (the draw
        # then comes after them: ``NativeProgbar.batch_end``), go with it.
        return no
    return watchers, dispatch


def _one_block(views):
    """When the weights are views of one float32 array (the network's
    parameters are): ``(a view of the span holding them all, [(offset in
    it, size, shape)])``, so that a take is one copy; else None."""
    base = views[0].base if views else None
    if base is None or not isinstance(base, np.ndarray) or base.dtype != np.float32 or base.ndim != 1 \
            or not base.flags.c_contiguous:
        return None
    start = base.__array_interface__["data"][0]
    at = []
    for v in views:
        if v.base is not base or v.dtype != np.float32 or not v.flags.c_contiguous:
            return None
        at.append((v.__array_interface__["data"][0] - start) // 4)
    lo, hi = min(at), max(a + v.size for a, v in zip(at, views))
    return base[lo:hi], [(a - lo, v.size, v.shape) for a, v in zip(at, views)]


def _waits(cl, entry) -> bool:
    """Whether a scheduled callback's batch-end hook waits (is given later)."""
    return entry.schedule.period is not None and cl.callbacks[entry.index]._batch_end_can_wait()


def _epoch_watchers(cl, drawn) -> list:
    """The callbacks with epoch hooks (but ``drawn``), each once."""
    end = cl.implementers("on_epoch_end", besides=drawn)
    begin = cl.implementers("on_epoch_begin", besides=drawn)
    return end + [c for c in begin if c not in end] if begin else end


def run(trainer, cl, it, epochs, network, make_logs, plan, validation=None, drawn=None, bar=None) -> dict:
    """Run the remaining epochs; ``plan``: what ``eligible`` returned.
    ``validation``: ``(data, batch_size, steps, freq)`` or None. ``bar``:
    the core's bar (``native_progbar``) drawn in place of the
    ``ProgbarLogger`` ``drawn``, whose hooks are not called. Returns the
    last epoch's logs."""
    return _Epochs(trainer, cl, it, epochs, network, make_logs, plan, validation, drawn, bar).run(epochs)


class _Epochs:
    """The loop of ``run`` and its state. Step numbers are ``it.step``
    values: a hook due at step ``s`` is due after the batch that makes the
    step count ``s``. Waiting epochs are (epoch, train values, validation
    values, (start, end) clock readings or None, [(batch, metric results,
    weights or None, the due entries)] taken for the waiting batch hooks)
    in ``waiting``."""

    # Defaults (a fit with no batch hook changes none of these but counters).
    steps: Any = None  # the per-epoch loop's Steps, for the epochs run as it runs them
    watch = False  # the native runs stop after a NaN/inf loss
    stopped = False  # the last native run stopped on one
    live_due = math.inf  # the step where a hook that cannot wait is due
    next_take = math.inf  # the first step where a waiting batch hook is due
    wait_due: dict = {}  # waiting Entry -> the step where it is next due (replaced, never changed)
    wait_ways: dict = {}  # waiting Entry -> (its period, whether it takes the weights)
    _copies = 0  # the weight copies the takes found by _takes_in need
    _wall_at = (0.0, 0)  # (time.time(), the clock) as the waiting hooks are given
    wants_weights: tuple | list = ()  # callbacks whose waiting batch hook takes the weights
    waiting_callbacks: tuple | list = ()  # callbacks with a waiting batch hook
    timed = False  # some waiting epoch hook reads the epoch's times
    given = 0  # the waiting epochs before this one were given
    waiting_bytes = 0  # weights taken and not written yet
    failed = False  # a waiting hook raised: the fit ends with its error
    # As the per-epoch loop counts them: native time and calls (also of a
    # call that raised), steps, and the wall time of each mode's part
    # (without the epoch hooks, which that loop runs outside it).
    weight_bytes = 0  # one copy of the model's weights
    weight_views: list = []  # the model's weights (views), when a waiting hook takes them
    weight_block = None  # _one_block(weight_views)
    bind_pass = None  # the trainer's Steps.whole_pass, for every batch's hooks (a PerBatch dispatch)
    lean = None  # its (begin, end) hook tables, once Keras's slow-callback check is over
    whole_pass = None  # then a pass of every batch's hooks, one bound native call (bind_pass's)
    ran = train_ns = train_calls = ran_until = 0
    test_ns = test_calls = validated = test_wall = hooks_wall = 0

    def __init__(self, trainer, cl, it, epochs, network, make_logs, plan, validation, drawn, bar):
        self.trainer, self.cl, self.it, self.network = trainer, cl, it, network
        self.late, dispatch = plan  # (the callbacks whose epoch hooks wait)
        self.make_logs, self.bar, self.dispatch = make_logs, bar, dispatch
        self.per_pass = it.batches_per_pass
        self.validation = validation
        if validation is not None:
            val_data, val_batch_size, val_steps, _ = validation
            self.val_batches = test_batch_count(val_data.n_rows, val_batch_size, val_steps)
            self.val_rows = min(val_data.n_rows, self.val_batches * val_batch_size)
        if epochs - it.epoch > SAMPLE_EVERY:
            # Epoch hooks called many times in a row: each callback timed at
            # one call in eight (CallbackList.sampled; set up once per fit);
            # None where no callback has the hook (usually on_epoch_begin).
            self.begin, self.end = cl.sampled("on_epoch_begin"), cl.sampled("on_epoch_end")
        else:
            self.begin, self.end = cl.on_epoch_begin, cl.on_epoch_end
        if drawn is not None:  # its bar is drawn by the core
            self.begin = functools.partial(cl.call_without, "on_epoch_begin", drawn)
            self.end = functools.partial(cl.call_without, "on_epoch_end", drawn)
        for c in self.late:
            if c._late_epoch_reads_times:
                self.timed = True
        # The waiting epochs are given a run at a time to each callback (a
        # run breaks where a batch was taken), when every one with epoch
        # hooks can take them so.
        self.runs = cl.epoch_runs(besides=drawn)
        self.run_ns = [0] * len(self.runs or ())  # per callback of ``runs``, not yet counted
        self.run_epochs = self.begun_apart = 0  # (their begin hooks called apart: batches taken)
        self.run_keys: dict = {}  # not validated?  -> the epoch logs' keys
        self.waiting: list = []
        self.cuts: list = []  # the waiting epochs that start a run: taken, or validated unlike the one before
        if dispatch is None:
            cl.costs.note_path(PathNote("train", "native"))
        else:
            self.watch = dispatch.stop_on_nonfinite
            self.steps = trainer._train_steps(it, make_logs, bar=bar)
            self.steps.many = cl.costs.timed("train", self.steps.many)
            if dispatch.per_batch:  # every epoch live, each pass one hooked native call
                self.steps.one = cl.costs.timed("train", self.steps.one)  # (while Keras's check is armed)
                self.bind_pass = self.steps.whole_pass  # (its time and steps counted in this loop's counters)
                self.steps.hooked = cl.costs.timed_hooked("train", self.steps.hooked)
                self.live_due = -math.inf
            else:
                self._scheduled_set_up(cl, dispatch, trainer, bar)
        if validation is not None:
            cl.costs.note_path(PathNote("test", "native"))

    def _scheduled_set_up(self, cl, dispatch, trainer, bar) -> None:
        """For scheduled batch hooks: which wait (and take the weights),
        and where each is due."""
        if bar is not None:
            logs_at = self.steps.logs

            def bar_then_logs(j):
                # Called just before due hooks, which may print: the
                # bar's kept text goes out first.
                bar.flush()
                return logs_at(j)

            self.steps.logs = bar_then_logs
        self.waits = [e for e in dispatch.entries if _waits(cl, e)]
        # (read at every take, right after a native pass: kept at hand)
        self.wait_ways = {e: (e.schedule.period, cl.callbacks[e.index]._batch_end_wants_weights) for e in self.waits}
        self.waiting_callbacks = [cl.callbacks[e.index] for e in self.waits]
        self.wants_weights = [cl.callbacks[e.index] for e in self.waits
                              if cl.callbacks[e.index]._batch_end_wants_weights]
        for c in self.wants_weights:  # (two writing one file must write in batch order)
            c._late_alone = len(self.wants_weights) == 1
        if self.wants_weights:
            # Views of the network's parameters in ``get_weights()`` order,
            # fixed for the fit (no layer changes while it runs; a layer's
            # trainable weights come first whatever its flag): a take copies
            # them without walking the layers' properties again.
            self.weight_views = trainer.weights
            self.weight_bytes = sum(w.nbytes for w in self.weight_views)
            self.weight_block = _one_block(self.weight_views)
        self._due_from_counters()

    def _due_from_counters(self) -> None:
        """Where the batch hooks are due next, from the callbacks' counters
        (up to date: every waiting hook given)."""
        step = self.it.step
        waits = self.waits
        self.wait_due = {e: step + e.schedule.steps_to_due() for e in waits}
        self.next_take = min(self.wait_due.values(), default=math.inf)
        self.live_due = step + min((e.schedule.steps_to_due() for e in self.dispatch.entries if e not in waits),
                                   default=math.inf)

    # -- the loop ---------------------------------------------------------------

    def run(self, epochs) -> dict:
        it, network, trainer, bar = self.it, self.network, self.trainer, self.bar
        costs = self.cl.costs
        start = _clock()
        give_at = start + GIVE_EVERY_NS
        last = None  # (train values, validation values) of the last epoch
        try:
            with native_progbar.flushed(bar):
                while it.epoch < epochs:
                    epoch = it.epoch
                    began = _clock() if self.timed else 0
                    network.reset_metrics()
                    if bar is not None:
                        bar.start(epoch)
                    live, taken = False, None
                    if self.live_due <= it.step + self.per_pass:
                        live = True
                        self._live_pass(epoch)
                    elif self.next_take <= it.step + self.per_pass:
                        live, taken = self._quiet_pass(epoch)
                    else:  # (most epochs: one native call, nothing else)
                        it.install_pass()  # (each epoch a whole pass: eligible)
                        ran = self._native(0, self.per_pass)
                        if ran < self.per_pass or self.stopped:
                            live = True
                            self._nonfinite(epoch, None, ran - 1)
                    train_values = network.metric_results()
                    val_values = None
                    if self.validation is not None and should_eval(epoch, self.validation[3]):
                        val_values = self._validate()
                    last = (train_values, val_values)
                    it.end_epoch()
                    if bar is not None:
                        bar.finish(train_values, val_values)
                    if live:
                        if self.end is not None:
                            logs = self.make_logs(train_values) if val_values is None else \
                                self.trainer._epoch_logs(self.make_logs, *last)
                            self._hook(self.end, epoch, logs)
                        if self.dispatch is not None and not self.dispatch.per_batch:
                            self._due_from_counters()
                    else:
                        # (clock readings: EpochTimes when given, see _give)
                        times = (began, _clock()) if self.timed else None
                        if taken is not None or self.waiting and (self.waiting[-1][2] is None) != (val_values is None):
                            self.cuts.append(len(self.waiting))
                        self.waiting.append((epoch, train_values, val_values, times, taken))
                        if self.ran_until >= give_at:
                            self._give()
                            give_at = _clock() + GIVE_EVERY_NS
                    if trainer.stop_training:  # a hook's, or another thread's
                        break
        finally:
            costs.add_native("train", self.train_ns, calls=self.train_calls)
            costs.count_steps("train", self.ran)
            costs.add_steps_time(_clock() - start - self.test_wall - self.hooks_wall, "train")
            if self.test_calls:
                costs.add_native("test", self.test_ns, calls=self.test_calls)
                costs.count_steps("test", self.validated * self.val_batches)
                costs.add_steps_time(self.test_wall, "test")
            if not self.failed:
                self._give()
        return self.trainer._epoch_logs(self.make_logs, *last) if last is not None else {}

    def _live_pass(self, epoch) -> None:
        """An epoch where a hook that cannot wait is due (every epoch, for a
        callback needing every batch): as the per-epoch loop runs it, after
        every waiting hook."""
        if self.waiting:
            self._give()
        if self.begin is not None:
            self._hook(self.begin, epoch, {})
        if self.lean is None and self.bind_pass is not None and not self.dispatch.armed:
            # Kept for the fit, as the sampled epoch tables are: this loop
            # runs on the callback list it started with.
            self.lean = self.dispatch.hooks()[:2]
            self.whole_pass = self.bind_pass(*self.lean, self.trainer)
        if self.lean is not None:
            # What run_batches does for a pass of every batch's hooks (each
            # epoch here is one whole pass), without its frames and the
            # cost wrappers' (callgrind: 5.5 k fewer instructions per
            # 8-batch epoch of the tutorial model, 0.6% of it), as one
            # bound native call, its order installed without a generator
            # (11 k fewer again: a pass-through callback's excess over the
            # plain fit, ~42 k -> ~31 k).
            self.it.install_pass()
            ns = self.whole_pass()
            ran = self.network.last_run_batches
            self.train_ns += ns
            self.train_calls += ran
            self.ran += ran
        else:
            ran = run_batches(self.steps, self.dispatch, self.it.segments(), 0, self.per_pass - 1,
                              model=self.trainer)
            self.cl.costs.count_steps("train", ran)

    def _quiet_pass(self, epoch):
        """An epoch where only waiting hooks are due: native runs up to each
        batch where one is due, whose logs (and weights) are taken. Returns
        (live, taken): live when the epoch ran as the per-epoch loop runs
        it (the loss went NaN/inf, or its own weights to take would pass
        ``MAX_WAITING_BYTES``; short of that, the waiting hooks are given
        first when the copies would pass it)."""
        it, per_pass = self.it, self.per_pass
        first_step = it.step
        takes = self._takes_in(first_step + per_pass)
        copies = self._copies * self.weight_bytes  # the weights this epoch takes
        if copies and self.waiting_bytes + copies > MAX_WAITING_BYTES:
            self._give()  # (frees the copies taken so far)
            if copies > MAX_WAITING_BYTES:
                self._live_pass(epoch)  # (its end brings every counter up to date)
                return True, None
        taken: list = []
        it.install_pass()
        b = 0  # the next batch to run
        takes.append(first_step + per_pass)  # (then the epoch's last batch)
        for at in takes:
            last = at - first_step - 1
            if last < b:
                continue  # (a take at the epoch's last batch)
            ran = self._native(b, last + 1 - b)
            if b + ran <= last or self.stopped:  # a NaN/inf loss (at the run's last batch too)
                self._nonfinite(epoch, taken, b + ran - 1)
                return True, None
            b = last + 1
            due = self._due_at.get(first_step + last + 1)
            if due is not None:
                wants, entries = due
                weights = None
                if wants:  # (one copy of the block, split into the weights when given)
                    block = self.weight_block
                    weights = [w.copy() for w in self.weight_views] if block is None else block[0].copy()
                    self.waiting_bytes += self.weight_bytes
                taken.append((last, self.network.metric_results(), weights, entries))  # (logs built when given)
        return False, taken

    def _takes_in(self, end_step) -> list:
        """The steps up to ``end_step`` where waiting batch hooks are due
        (sorted); ``_due_at`` maps each to (whether some due hook takes the
        weights, the due entries in dispatch order). Advances ``wait_due``
        past ``end_step``."""
        due_at: dict = {}
        ways = self.wait_ways
        for e, step in self.wait_due.items():  # (in dispatch order)
            if step > end_step:
                continue
            period, wants = ways[e]
            while step <= end_step:
                due = due_at.get(step)
                if due is None:
                    due_at[step] = (wants, [e])
                else:
                    due_at[step] = (due[0] or wants, due[1] + [e])
                step += period
            self.wait_due[e] = step
        self.next_take = min(self.wait_due.values())
        self._due_at = due_at
        copies = 0
        for wants, _ in due_at.values():  # (a loop: no generator's frame, at every take)
            copies += wants
        self._copies = copies
        return sorted(due_at) if len(due_at) > 1 else list(due_at)

    def _native(self, j, k) -> int:
        """``k`` batches from native batch ``j`` in one call (stopping after
        a NaN/inf loss when TerminateOnNaN watches)."""
        it, network = self.it, self.network
        before = network.iterations
        row = j * it.batch_size
        # (it.batch_rows's rows, with no call at all for a whole pass)
        rows = it.n_rows if j == 0 and k == self.per_pass else min(it.n_rows, row + k * it.batch_size) - row
        t = _clock()
        try:
            ran = network.train_batches(it.dataset, row, rows, it.batch_size, self.trainer.optimizer._rates_for(before, k),
                                        stop_on_nonfinite=self.watch, bar=self.bar)
        except BaseException:
            # Ctrl-C between batches: count the batches that ran.
            it.step += int(network.iterations) - int(before)
            raise
        finally:
            self.ran_until = _clock()  # (also the loop's clock)
            self.train_ns += self.ran_until - t
            self.train_calls += 1
        it.step += ran
        self.ran += ran
        # (a NaN/inf loss at the run's last batch leaves ``ran`` whole)
        self.stopped = self.watch and network.last_run_nonfinite
        return ran

    def _nonfinite(self, epoch, taken, batch) -> None:
        """The loss went NaN/inf at ``batch`` of a quiet epoch: from here the
        epoch runs as the per-epoch loop runs it. The hooks watching for it
        get that batch (after the waiting ones, and this epoch's taken batch
        ends); the rest of the pass runs unless they stopped the fit."""
        dispatch, per_pass, trainer = self.dispatch, self.per_pass, self.trainer
        self._give()
        if self.begin is not None:
            self._hook(self.begin, epoch, {})
        dispatch.start_epoch(0, per_pass - 1)
        try:
            synced = self._given_batch_ends(taken)
        except BaseException:
            self._waiting_done(failing=True)
            raise
        self._waiting_done()
        dispatch.chunk(synced)  # what is due where
        dispatch.after(batch, batch + 1 - synced, self.steps.logs, True)
        if self.bar is not None:  # its draw after the other callbacks' hooks
            self.bar.batch_end(batch + 1, self.network.metric_results())
        if trainer.stop_training:
            dispatch.end_epoch(batch)
            return
        rest = run_batches(self.steps, dispatch, [(batch + 1, per_pass - batch - 1)], batch + 1,
                           per_pass - 1, model=trainer)
        self.cl.costs.count_steps("train", rest)

    def _validate(self):
        network = self.network
        val_data, val_batch_size, _, _ = self.validation
        t0 = _clock()
        try:
            network.reset_metrics()
            t = _clock()
            try:
                network.test_batches(val_data, 0, self.val_rows, val_batch_size)
            finally:
                self.test_ns += _clock() - t
                self.test_calls += 1
            values = network.metric_results()
            self.validated += 1
            return values
        finally:
            self.test_wall += _clock() - t0

    # -- the hooks ----------------------------------------------------------------

    def _hook(self, hook, *args) -> None:
        t0 = _clock()
        try:
            hook(*args)
        finally:
            self.hooks_wall += _clock() - t0

    def _give(self) -> None:
        """The waiting epochs' hooks, in order, with their epochs' times:
        each epoch's begin hooks, its taken batch ends, its end hooks (with
        ``runs``: a taken epoch's begin hooks and batch ends, then its end
        and the next epochs' hooks as a run, one call per callback)."""
        waiting, cuts = self.waiting, self.cuts
        if not waiting:
            return
        t0 = _clock()
        dispatch, per_pass = self.dispatch, self.per_pass
        # The epoch hooks reading the times are called here only without
        # runs (with runs, a taken epoch's end comes in its run, and the
        # begin hooks' times are not read). History reads no time.
        late = self.late if self.timed and self.runs is None else ()
        # The epochs' wall times from their clock readings: the clock's
        # distance to now, back from time.time() now.
        self._wall_at = (time.time(), _clock())
        try:
            try:
                i = self.given
                while i < len(waiting):
                    epoch, train_values, val_values, times, taken = waiting[i]
                    if taken or self.runs is None:  # its batches given one by one
                        self.given = i + 1  # (first: a hook that raises is not called again)
                        if late:
                            times = self._epoch_times(times)
                            for c in late:
                                c._late_epoch = times
                        try:
                            if self.begin is not None:
                                self.begin(epoch, {})
                            if dispatch is not None:  # its batches, for the counting callbacks
                                dispatch.start_epoch(0, per_pass - 1)
                                if taken:
                                    self._given_batch_ends(taken)
                                dispatch.end_epoch(per_pass - 1)
                            if self.runs is None and self.end is not None:
                                self.end(epoch, self.trainer._epoch_logs(self.make_logs, train_values, val_values))
                        finally:
                            for c in late:
                                c._late_epoch = None
                        if self.runs is None:
                            i += 1
                            continue
                    # A run: this epoch's end (and begin, unless its batches
                    # were given above) and the next epochs' with none taken,
                    # all validated or none (up to the next cut).
                    k = bisect.bisect_right(cuts, i)
                    j = cuts[k] if k < len(cuts) else len(waiting)
                    self.given = j
                    self._give_run(waiting[i:j], counted=bool(taken))
                    i = j
            except BaseException:
                self._waiting_done(failing=True)
                raise
            self._waiting_done()
        except KeyboardInterrupt:
            raise  # (the rest is given on the way out)
        except BaseException:
            self.failed = True
            raise
        finally:
            self._count_runs()
            if self.given == len(waiting):
                waiting.clear()
                self.cuts.clear()
                self.given = self.waiting_bytes = 0
            self.hooks_wall += _clock() - t0

    def _epoch_times(self, readings) -> EpochTimes:
        """EpochTimes of an epoch's (start, end) clock readings (ns)."""
        began, ended = readings
        wall, now = self._wall_at
        return EpochTimes(began / 1e9, ended / 1e9, wall - (now - ended) / 1e9)

    def _give_run(self, epochs, counted=False) -> None:
        """Waiting epochs given in one call to each callback
        (``Callback._late_epochs``; ``runs``), in callback order: what the
        per-epoch calls would leave, as none of these callbacks reads what
        another one writes. ``counted``: the first epoch's begin hooks and
        batches were given (its taken batch ends; doing a begin hook's work
        again is harmless for these callbacks)."""
        k = len(epochs)
        if self.dispatch is not None and k > counted:  # their batches, for the counting callbacks
            self.dispatch.skip_passes(k - counted, self.per_pass)
        numbers, trains, vals, clock, _ = zip(*epochs)
        keys = self.run_keys.get(vals[0] is None)
        if keys is None:  # (the same for every run of the fit)
            keys = self.run_keys[vals[0] is None] = tuple(self.trainer._epoch_logs(self.make_logs, trains[0], vals[0]))
        rows = trains if vals[0] is None else [t + v for t, v in zip(trains, vals)]
        if len(keys) != len(rows[0]):  # (a name twice: the logs dict keeps one value)
            rows = [list(self.trainer._epoch_logs(self.make_logs, t, v).values()) for t, v in zip(trains, vals)]
        run = LateEpochs(numbers, keys, rows, clock if self.timed else None, self._wall_at)
        spent = self.run_ns
        t = _clock()
        for r, (_, callback, _) in enumerate(self.runs):
            callback._late_epochs(run)
            now = _clock()  # (one reading between two callbacks)
            spent[r] += now - t
            t = now
        self.run_epochs += k
        self.begun_apart += counted

    def _count_runs(self) -> None:
        """The runs' calls and times, into the costs: each hook a callback
        has is counted once per epoch (but the begin hooks called apart),
        the time under the last one (its ``on_epoch_end``, if it has one)."""
        k, add = self.run_epochs, self.cl.costs.add
        if not k:
            return
        for r, (index, _, hooks) in enumerate(self.runs):
            for hook in hooks:
                last = hook is hooks[-1]
                calls = k - self.begun_apart if hook == "on_epoch_begin" else k
                add(index, hook, self.run_ns[r] if last else 0, calls=calls, sample=last)
        self.run_ns = [0] * len(self.runs)
        self.run_epochs = self.begun_apart = 0

    def _waiting_done(self, failing: bool = False) -> None:
        """After waiting batch hooks were given: what they put off is done
        (as if each had run at its batch). ``failing``: an error is on its
        way out; one from here is logged rather than put in its place."""
        for c in self.waiting_callbacks:
            if not failing:
                c._waiting_given()
                continue
            try:
                c._waiting_given()
            except Exception as e:
                logger.warning("%s: what its waiting batch hooks put off failed too: %s", type(c).__name__, e)

    def _given_batch_ends(self, taken) -> int:
        """The waiting batch hooks of one epoch, at the batches taken, with
        their logs (and weights). Returns the first batch not yet synced."""
        dispatch, wants = self.dispatch, self.wants_weights
        synced = 0
        make_logs, block = self.make_logs, self.weight_block
        for batch, results, weights, due in taken or ():
            if block is not None and weights is not None:
                views = []  # (a loop: no comprehension's frame, at every take)
                for at, size, shape in block[1]:
                    views.append(weights[at:at + size].reshape(shape))
                weights = views
            for c in wants:
                c._late_weights = weights
            try:
                dispatch.fire(batch, due, None, make_logs(results))  # (due where _takes_in said)
            finally:
                for c in wants:
                    c._late_weights = None
            synced = batch + 1
        return synced

