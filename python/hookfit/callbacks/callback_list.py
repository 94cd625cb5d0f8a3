"""``CallbackList``: Keras 2's container, with dispatch tables and costs.

Design
------
a) Order is Keras 2's: the user's callbacks, then ``History``, then
   ``ProgbarLogger``. One hook call hands the same ``logs`` dict to every
   callback; begin hooks get ``{}``.
b) For every hook (the table in ``callback.py``), a table of the bound
   methods of the callbacks that override it is built once (and again after
   ``set_params``/``append``). A hook nobody overrides is never called.
   Batch hooks of a mode are dispatched only when some callback's
   ``_implements_<mode>_batch_hooks()`` says so (Keras 2's flag); then every
   callback overriding the hook is called (the base class forwards
   ``on_train_batch_*`` to the ``on_batch_*`` aliases, so overriding an
   alias counts).
c) The loop asks ``batch_dispatcher(mode)`` for what to do around batches
   (``batch_dispatch.py``): nothing, every batch, or a schedule. The list
   owns the switch from timed to lean per-batch dispatch.
d) Costs: plain hooks are timed per call; per-batch closures time one call
   in ``SAMPLE_EVERY``. Totals per (callback, hook) are kept in the list's
   ``CallbackCosts`` (``history.callback_costs`` shows them).
e) Callbacks that must act after every other callback has seen a hook
   (BackupAndRestore) define ``_after_train_begin(callbacks)``,
   ``_after_epoch_end(epoch, callbacks)`` or ``_after_train_batch_end(batch,
   callbacks)``; these run at the end of that hook's dispatch.
f) The slow-callback warning follows Keras 2's rule exactly (armed only when
   a callback from outside hookfit is present; batch 0 gives no batch time;
   after 5 batch times, mean hook dispatch time vs mean batch time, strictly
   greater; checked once per CallbackList) and then names the callbacks
   that spent the time, from the per-callback totals.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import NamedTuple

from hookfit._native import core  # record_hook_times: csrc/ (or its twin)
from hookfit.callbacks import batch_dispatch
from hookfit.callbacks.callback import (
    ALIASES,
    BATCH_HOOKS,
    HOOK_INDEX,
    HOOK_MODES,
    HOOKS,
    MODES,
    Callback,
    EveryNBatches,
    check_schedule,
    has_epoch_hooks_of,
    is_default,
    overrides,
)
from hookfit.callbacks.callback_costs import SAMPLE_EVERY, CallbackCosts
from hookfit.callbacks.cost_details import PathNote, path_note
from hookfit.callbacks.history import History
from hookfit.callbacks.progbar_logger import ProgbarLogger

logger = logging.getLogger("hookfit")

_TIMING_WINDOW = 5  # batch times before the one check (Keras 2)
# Calls made after a whole dispatch, for callbacks that need every other
# callback to have seen the hook first (BackupAndRestore): hook -> method.
_AFTER = {
    "on_train_begin": "_after_train_begin",
    "on_epoch_end": "_after_epoch_end",
    "on_train_batch_end": "_after_train_batch_end",
}
_clock = time.perf_counter_ns
_TIME_ALL_NS = 20_000  # hooks slower than this on average get every call timed

_HOOK_NAMES = frozenset(HOOKS) | frozenset(ALIASES.values()) | frozenset(_AFTER.values())
_PREDICATES = tuple(f"_implements_{mode}_batch_hooks" for mode in MODES)


class _Profile(NamedTuple):
    """What dispatch needs to know about a callback, found once per class."""

    hooks: tuple  # indices (into HOOKS) of the hooks it overrides
    after: tuple  # (hook index, method name) of its after-dispatch calls
    flags: tuple | None  # its (train, test, predict) batch predicates, or None
    # when they depend on the instance (the predicates are overridden)


# Weak keys: classes made on the fly (tests, LambdaCallback factories) may go away.
_class_profiles: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _make_profile(callback) -> _Profile:
    hooks = tuple(h for h, hook in enumerate(HOOKS) if overrides(callback, hook))
    after = tuple(
        (HOOK_INDEX[hook], name) for hook, name in _AFTER.items() if getattr(callback, name, None)
    )
    cls = type(callback)
    flags = None
    if all(getattr(cls, p) is getattr(Callback, p) for p in _PREDICATES):
        flags = tuple(any(HOOK_MODES[h] == mode for h in hooks) for mode in MODES)
    return _Profile(hooks, after, flags)


def profile(callback) -> _Profile:
    """The callback's dispatch profile (cached per class unless the instance
    carries its own hook attributes, as LambdaCallback does)."""
    own = getattr(callback, "__dict__", None)
    if own and not _HOOK_NAMES.isdisjoint(own):
        return _make_profile(callback)
    cls = type(callback)
    found = _class_profiles.get(cls)
    if found is None:
        found = _class_profiles[cls] = _make_profile(callback)
    return found


class _Layout(NamedTuple):
    """Which callbacks (by position) serve each hook, before binding."""

    members: tuple  # per hook: the callback indices in its table
    entries: tuple  # per hook: (index, None) for the hook itself or (index, after-method name)
    used: tuple  # the hooks whose table is not empty


# Layouts by (profiles, batch flags): a fit, evaluate or predict call builds
# a list of the same classes as the call before it.
_layouts: dict = {}


def _layout(profiles: tuple, flags: tuple) -> _Layout:
    found = _layouts.get((profiles, flags))
    if found is not None:
        return found
    wanted = dict(zip(MODES, flags))
    entries: list = [[] for _ in HOOKS]
    for i, p in enumerate(profiles):
        for h in p.hooks:
            mode = HOOK_MODES[h]
            if mode is None or wanted[mode]:
                entries[h].append((i, None))
    # After-dispatch calls go last in their hook's table.
    for i, p in enumerate(profiles):
        for h, name in p.after:
            mode = HOOK_MODES[h]
            if mode is None or wanted[mode]:
                entries[h].append((i, name))
    found = _Layout(
        tuple(tuple(i for i, _ in row) for row in entries),
        tuple(tuple(row) for row in entries),
        tuple(h for h, row in enumerate(entries) if row),
    )
    if len(_layouts) >= 512:  # many distinct lists (tests): start again
        _layouts.clear()
    _layouts[(profiles, flags)] = found
    return found


def _after_dispatch(after, hook, callbacks):
    """Adapt ``after(..., callbacks)`` to the hook's signature, to run last."""
    if hook == "on_train_begin":
        return lambda logs: after(callbacks)
    return lambda index, logs: after(index, callbacks)


def _late_epochs_class(callback) -> type:
    """The class whose ``_late_epochs`` the callback has (its epoch hooks
    must be that class's own for it to stand for them)."""
    return next(k for k in type(callback).__mro__ if "_late_epochs" in vars(k))


def _is_builtin(callback) -> bool:
    return type(callback).__module__.startswith("hookfit.")


def _flatten(callbacks):
    if callbacks is None:
        return []
    if isinstance(callbacks, Callback):
        raise TypeError(
            "callbacks must be a list of Callback objects; got a single "
            f"{type(callbacks).__name__} (wrap it: callbacks=[{type(callbacks).__name__}(...)])"
        )
    if not isinstance(callbacks, (list, tuple)):
        raise TypeError(
            f"callbacks must be a list of Callback objects; got {type(callbacks).__name__}"
        )
    out = []
    for item in callbacks:
        if isinstance(item, (list, tuple)):
            out.extend(_flatten(item))
        elif isinstance(item, Callback):
            out.append(item)
        else:
            what = "a class" if isinstance(item, type) else f"a {type(item).__name__}"
            hint = f" (instantiate it: {item.__name__}())" if isinstance(item, type) else ""
            raise TypeError(
                f"every callback must be an instance of hookfit.callbacks.Callback; "
                f"got {what} {item!r}{hint}"
            )
    return out


class LeanHook:
    """One batch hook's table, for per-batch loops once no slow-callback
    check is pending.

    ``raw(batch, logs)`` calls the table untimed, ``timed(batch, logs)``
    times each callback; a loop times one dispatch in ``SAMPLE_EVERY`` (and
    every dispatch once ``slow[0]``: a hook that slow makes two clock reads
    nothing, and its total must be exact; judged without the first timed
    dispatch, which often pays a one-off set-up, such as TensorBoard opening
    its event file, and is timed anyway), then reports the untimed ones
    with ``add_untimed(n)``. ``call`` does that sampling itself (for the
    public hook methods). The core's hooked loop calls ``fns`` itself and
    times the sampled dispatches there, into ``pending`` (durations, in
    dispatch order, outliving its runs), and counts the untimed ones in
    ``counts[1]`` (``counts``: timed, untimed dispatches): it hands
    ``pending`` to ``record(durations, 0)`` every 8 timed dispatches (the
    bookkeeping ``timed`` uses too), and ``drain`` records what is still
    pending first. So a run of a few batches (an epoch) makes no Python
    call for the bookkeeping. ``drain()`` returns and clears (ns per
    callback, the untimed calls counted at its fastest timed call;
    dispatches). Each timed call also goes into ``samples`` (one
    ``Samples`` per callback), for the p50/p99 of the cost table.
    """

    __slots__ = ("fns", "raw", "timed", "call", "add_untimed", "record", "slow", "drain", "pending", "counts")

    def __init__(self, fns, samples):
        clock = _clock
        mask = SAMPLE_EVERY - 1
        fns = self.fns = tuple(fns)
        n = len(fns)
        acc = [0] * n
        least = [1 << 62] * n  # each callback's fastest timed call
        counts = self.counts = [0, 0]  # timed dispatches, untimed dispatches
        judged = [0, -1]  # ns and timed dispatches after the first (never drained)
        slow = self.slow = [False]
        pending = self.pending = []  # the core's timed durations, not yet recorded
        extends = tuple(s.data.extend for s in samples)
        if n == 1:
            raw = fns[0]
        else:

            def raw(batch, logs):
                for fn in fns:
                    fn(batch, logs)

        def record(times, untimed):
            # ``times``: n durations per timed dispatch, in order; added up
            # in the core (a Python statement per duration cost ~0.4 µs).
            core.record_hook_times(times, n, untimed, acc, least, counts, judged, slow, extends, _TIME_ALL_NS)

        def timed(batch, logs):
            taken = []
            t = clock()
            for fn in fns:
                fn(batch, logs)
                now = clock()
                taken.append(now - t)
                t = now
            record(taken, 0)

        def add_untimed(k):
            counts[1] += k

        def call(batch, logs):
            if slow[0] or (counts[0] + counts[1]) & mask == 0:
                timed(batch, logs)
            else:
                counts[1] += 1
                raw(batch, logs)

        def drain():
            if pending:
                record(pending, 0)
                del pending[:]
            # An untimed call is counted at the fastest timed one: a sample
            # that a busy machine stretched is not multiplied, so the hooks'
            # total never exceeds what they took (nor eats the step time).
            sampled, untimed = counts
            out = ([v + untimed * m if sampled else 0 for v, m in zip(acc, least)], sampled + untimed)
            acc[:] = [0] * len(acc)
            counts[:] = [0, 0]
            return out

        self.raw, self.timed, self.call, self.record = raw, timed, call, record
        self.add_untimed, self.drain = add_untimed, drain


class CallbackList:
    """Container abstracting a list of callbacks (Keras 2 API).

    Args:
        callbacks: list of ``Callback`` instances (nested lists are flattened).
        add_history: append a ``History`` if none is present.
        add_progbar: append a ``ProgbarLogger`` if none is present.
        model: the model the callbacks act on.
        **params: ``verbose``, ``epochs``, ``steps`` for ``set_params``.
    """

    def __init__(self, callbacks=None, add_history=False, add_progbar=False, model=None, **params):
        self.callbacks = _flatten(callbacks)
        self._history = next((c for c in self.callbacks if isinstance(c, History)), None)
        self._progbar = next((c for c in self.callbacks if isinstance(c, ProgbarLogger)), None)
        if add_history and self._history is None:
            self._history = History()
            self.callbacks.append(self._history)
        if add_progbar and self._progbar is None:
            self._progbar = ProgbarLogger(count_mode="steps")
            self.callbacks.append(self._progbar)
        self.model = None
        self.params = {}
        self.costs = CallbackCosts()
        if self._history is not None:
            self._history._costs = self.costs
        # Keras 2's slow-callback check state.
        self._timing = any(not _is_builtin(c) for c in self.callbacks)
        self._hook_times: dict = {}  # hook index -> dispatch times (ns)
        self._batch_times: list = []
        self._batch_start = 0
        if model is not None:
            self.set_model(model)
        if params:
            self.params = params
            for cb in self.callbacks:
                cb.set_params(params)
        self._build_tables()

    # -- set-up --------------------------------------------------------------

    def set_model(self, model):
        self.model = model
        if self._history is not None:
            model.history = self._history
        for cb in self.callbacks:
            cb.set_model(model)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)
        self._build_tables()  # ProgbarLogger's batch predicates depend on params

    def append(self, callback):
        (callback,) = _flatten([callback])
        self.callbacks.append(callback)
        if not _is_builtin(callback):
            self._timing = True
        self._build_tables()  # unlike Keras 2, the flags see the new callback

    def __iter__(self):
        return iter(self.callbacks)

    def _build_tables(self):
        callbacks = self.callbacks
        for cb in callbacks:  # a bad schedule fails here, before any hook runs
            check_schedule(getattr(cb, "batch_every", None), getattr(cb, "batch_every_seconds", None))
        self.costs.set_names(callbacks)
        profiles = tuple(profile(c) for c in callbacks)
        train = test = predict = False
        for cb, p in zip(callbacks, profiles):
            f = p.flags
            if f is not None:
                train, test, predict = train or f[0], test or f[1], predict or f[2]
            else:  # the instance says (asked only while still needed, as Keras's any())
                train = train or bool(getattr(cb, _PREDICATES[0])())
                test = test or bool(getattr(cb, _PREDICATES[1])())
                predict = predict or bool(getattr(cb, _PREDICATES[2])())
        flags = (train, test, predict)
        self._flags = dict(zip(MODES, flags))
        layout = _layout(profiles, flags)
        n = len(HOOKS)
        fns: list = [()] * n
        afters: list = [()] * n
        for h in layout.used:
            hook = HOOKS[h]
            row = []
            after_row = []
            for i, after_name in layout.entries[h]:
                if after_name is None:
                    row.append(getattr(callbacks[i], hook))
                else:
                    fn = _after_dispatch(getattr(callbacks[i], after_name), hook, callbacks)
                    row.append(fn)
                    after_row.append((i, fn))
            fns[h] = tuple(row)
            if after_row:
                afters[h] = tuple(after_row)
        self.costs.install(HOOKS, layout.members)  # folds what the old tables counted
        self._members = layout.members
        self._fns = fns
        self._afters = afters
        self._lean_cache = {}
        self._lean_pairs = {}  # mode -> _per_batch_hooks' answer once the check is over
        self._dispatchers = {}
        self._refresh_fast()

    def _refresh_fast(self):
        """Lean closures behind the public batch methods once no timing
        check is pending (None: use the general, timed path)."""
        self._fast = fast = [None] * len(HOOKS)
        if self._timing:
            return
        for mode, (hb, he) in BATCH_HOOKS.items():
            if self._flags[mode]:
                fast[hb], fast[he] = self._lean(hb), self._lean(he)

    def implements(self, hook: str) -> bool:
        """True if calling ``hook`` would call at least one callback."""
        return bool(self._fns[HOOK_INDEX[hook]])

    def implementers(self, hook: str, besides=None) -> list:
        """The callbacks that calling ``hook`` would call, in order (but
        ``besides``, whose part is done elsewhere: the bar the core draws)."""
        callbacks = self.callbacks
        return [callbacks[i] for i in self._members[HOOK_INDEX[hook]] if callbacks[i] is not besides]

    def batch_members(self, mode: str, besides=None) -> list:
        """The callbacks whose ``mode`` batch hooks the loop must call (but
        ``besides``)."""
        callbacks = self.callbacks
        return [callbacks[i] for i in self._batch_member_indices(mode) if callbacks[i] is not besides]

    def _batch_member_indices(self, mode: str) -> list:
        if not self._flags[mode]:
            return []
        hb, he = BATCH_HOOKS[mode]
        return sorted(set(self._members[hb]) | set(self._members[he]))

    @property
    def progbar_logger(self):
        """The list's ``ProgbarLogger`` (given or added), or None."""
        return self._progbar

    # -- what the loop asks for -------------------------------------------------------

    def batch_dispatcher(self, mode: str, steps_per_execution: int = 1, besides=None):
        """What the loop must do around ``mode`` batches: None (nothing: the
        whole run can be one native call), a ``PerBatch`` (hooks at every
        batch) or a ``Scheduled`` (hooks only at the batches the callbacks'
        schedules name; native runs in between). ``besides``: a callback
        left out, whose part is done elsewhere (the bar the core draws)."""
        key = (mode, steps_per_execution, id(besides))
        if key in self._dispatchers:
            found = self._dispatchers[key]
            if found is not None and not found.per_batch:
                found.reset()
            return found
        self._dispatchers[key] = found = self._make_dispatcher(mode, steps_per_execution, besides)
        return found

    def _make_dispatcher(self, mode, steps_per_execution, besides=None):
        hb, he = BATCH_HOOKS[mode]
        members = [i for i in self._batch_member_indices(mode) if self.callbacks[i] is not besides]
        if not members:
            self.costs.note_path(PathNote(mode, "native"))
            return None
        schedules = {}
        for i in members:
            cb = self.callbacks[i]
            schedule = cb._batch_schedule(mode)
            if schedule is None and steps_per_execution > 1:
                schedule = EveryNBatches(steps_per_execution)
            schedules[i] = schedule
        every = [i for i in members if schedules[i] is None]
        if every:  # someone needs every batch: Keras's way for all
            self.costs.note_path(path_note(
                mode, "per batch", self.callbacks, self.costs.names, every, schedules, steps_per_execution))
            return batch_dispatch.PerBatch(self, mode)
        self.costs.note_path(path_note(
            mode, "scheduled", self.callbacks, self.costs.names, members, schedules, steps_per_execution))
        entries = []
        afters = dict(self._afters[he])
        for i in members:
            cb = self.callbacks[i]
            entries.append(
                batch_dispatch.Entry(
                    index=i,
                    begin=getattr(cb, HOOKS[hb]) if i in self._members[hb] and _overrides(cb, hb) else None,
                    end=getattr(cb, HOOKS[he]) if _overrides(cb, he) else None,
                    after=afters.get(i),
                    schedule=schedules[i],
                )
            )
        return batch_dispatch.Scheduled(entries, mode, self.costs)

    # -- dispatch --------------------------------------------------------------

    def _lean_hook(self, h):
        """Hook ``h``'s ``LeanHook`` (cached, counted by the costs), or None
        when nobody overrides it."""
        lean = self._lean_cache.get(h)
        if lean is not None or not self._fns[h]:
            return lean
        lean = self._lean_cache[h] = LeanHook(self._fns[h], self.costs.samples_of(h))
        self.costs.add_source(h, lean.drain)
        return lean

    def sampled(self, hook: str):
        """``f(arg, logs)``: ``hook`` on every callback, each callback timed
        at one call in ``SAMPLE_EVERY`` (at every call once it is slow), for
        a loop that calls it many times in a row (the epoch hooks given
        after back-to-back epochs); None when no callback has ``hook`` (the
        loop then makes no call at all)."""
        return self._lean(HOOK_INDEX[hook])

    def epoch_runs(self, besides=None) -> list | None:
        """For the epoch hooks given after back-to-back epochs: ``[(index,
        callback, the epoch hooks it has)]`` of every callback with epoch
        hooks (but ``besides``, whose part is done elsewhere), in order, when
        each takes a run of epochs in one call (``Callback._late_epochs``);
        else None."""
        hooks = ("on_epoch_begin", "on_epoch_end")
        tables = [self._members[HOOK_INDEX[h]] for h in hooks]
        found = []
        for i in sorted(set(tables[0]) | set(tables[1])):
            callback = self.callbacks[i]
            if callback is besides:
                continue
            if callback._late_epochs is None or not has_epoch_hooks_of(callback, _late_epochs_class(callback)):
                return None
            found.append((i, callback, tuple(h for h, table in zip(hooks, tables) if i in table)))
        return found

    def _lean(self, h):
        lean = self._lean_hook(h)
        return None if lean is None else lean.call

    def _per_batch_hooks(self, mode):
        """``(begin, end, timed)`` for a per-batch loop: the timed public
        methods while the slow-callback check is armed (``timed`` True),
        else the two ``LeanHook`` (or None)."""
        if self._timing:
            # Both, even with an empty table: the begin call marks when the
            # batch starts (Keras 2 times batches between the two hooks).
            return getattr(self, f"on_{mode}_batch_begin"), getattr(self, f"on_{mode}_batch_end"), True
        pair = self._lean_pairs.get(mode)
        if pair is None:  # (asked again at every pass of the data)
            hb, he = BATCH_HOOKS[mode]
            pair = self._lean_pairs[mode] = (self._lean_hook(hb), self._lean_hook(he), False)
        return pair

    def _call(self, h, *args):
        """Call hook ``h``'s table; returns (start, end) clock readings."""
        fns = self._fns[h]
        acc = self.costs._ns[h]
        samples = self.costs.samples_of(h)
        t = start = _clock()
        k = 0
        for fn in fns:
            fn(*args)
            now = _clock()
            acc[k] += now - t
            samples[k].add(now - t)
            t = now
            k += 1
        costs = self.costs
        costs._dispatches[h] += 1
        costs._hook_ns += t - start
        return start, t

    def _call_plain(self, h, *args):
        if self._fns[h]:
            self._call(h, *args)

    def call_without(self, hook: str, skip, *args):
        """Call ``hook`` on every callback but ``skip``, whose part was done
        elsewhere (the progress bar the core drew); timed as usual."""
        h = HOOK_INDEX[hook]
        members = self._members[h]
        if all(self.callbacks[i] is not skip for i in members):
            self._call_plain(h, *args)
            return
        for i, fn in zip(members, self._fns[h]):
            if self.callbacks[i] is not skip:
                t = _clock()
                fn(*args)
                self.costs.add(i, hook, _clock() - t)

    def _batch_begin(self, mode, batch, logs):
        if not self._flags[mode]:
            return
        h, _ = BATCH_HOOKS[mode]
        fast = self._fast[h]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
            return
        start, end = self._call(h, batch, {} if logs is None else logs)
        if self._timing:
            self._hook_times.setdefault(h, []).append(end - start)
            self._batch_start = end

    def _batch_end(self, mode, batch, logs):
        if not self._flags[mode]:
            return
        _, h = BATCH_HOOKS[mode]
        fast = self._fast[h]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
            return
        if self._timing and batch >= 1:
            self._batch_times.append(_clock() - self._batch_start)
        start, end = self._call(h, batch, {} if logs is None else logs)
        if self._timing:
            self._hook_times.setdefault(h, []).append(end - start)
            if len(self._batch_times) >= _TIMING_WINDOW:
                self._check_slow(mode)

    def _check_slow(self, mode):
        """Keras 2's one-shot comparison, then disarm for this list's life."""
        batch_time = sum(self._batch_times) / len(self._batch_times) * 1e-9
        for h in BATCH_HOOKS[mode]:
            hook = HOOKS[h]
            times = self._hook_times.get(h)
            if not times:
                continue
            hook_time = sum(times) / len(times) * 1e-9
            if hook_time > 1.0 * batch_time:
                logger.warning(
                    "Callback method `%s` is slow compared to the batch time "
                    "(batch time: %.4fs vs `%s` time: %.4fs). Check your callbacks.%s "
                    "history.callback_costs has each hook's p50/p99, and its last line says "
                    "what keeps fit off the one-native-call path and how much slower each step got.",
                    hook,
                    batch_time,
                    hook,
                    hook_time,
                    self._culprits(hook),
                )
        self._timing = False
        self._hook_times = {}
        self._batch_times = []
        self._refresh_fast()

    def _culprits(self, hook):
        h = HOOK_INDEX[hook]
        members = self._members[h]
        calls = max(1, len(self._hook_times.get(h, ())))
        spent = [(self.costs.seconds(i, hook), self.costs.names[i]) for i in members]
        total = sum(s for s, _ in spent)
        if total <= 0:
            return ""
        spent.sort(key=lambda p: -p[0])
        # Batch times are microseconds here, below Keras's 4-decimal seconds,
        # so each share also carries its mean time per call.
        parts = ", ".join(
            f"{name} {100 * s / total:.1f}% ({1e6 * s / calls:.1f}us per call)"
            for s, name in spent
        )
        return f" Time in `{hook}` by callback: {parts}."

    # -- the Keras 2 hook API ------------------------------------------------------

    def on_batch_begin(self, batch, logs=None):
        self._batch_begin("train", batch, logs)

    def on_batch_end(self, batch, logs=None):
        self._batch_end("train", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        self._batch_begin("train", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        self._batch_end("train", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        self._batch_begin("test", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        self._batch_end("test", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        self._batch_begin("predict", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        self._batch_end("predict", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call_plain(_EPOCH_BEGIN, epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call_plain(_EPOCH_END, epoch, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call_plain(_TRAIN_BEGIN, {} if logs is None else logs)

    def on_train_end(self, logs=None):
        self._call_plain(_TRAIN_END, {} if logs is None else logs)

    def on_test_begin(self, logs=None):
        self._call_plain(_TEST_BEGIN, {} if logs is None else logs)

    def on_test_end(self, logs=None):
        self._call_plain(_TEST_END, {} if logs is None else logs)

    def on_predict_begin(self, logs=None):
        self._call_plain(_PREDICT_BEGIN, {} if logs is None else logs)

    def on_predict_end(self, logs=None):
        self._call_plain(_PREDICT_END, {} if logs is None else logs)

    def on_exception(self, exception, logs=None):
        """Tell the callbacks overriding ``on_exception`` that the call is
        about to raise ``exception`` (rare: no dispatch table). An error in
        one of them is logged and never replaces ``exception``."""
        for cb in self.callbacks:
            hook = getattr(cb, "on_exception", None)
            if hook is None or is_default(hook):
                continue
            try:
                hook(exception, dict(logs or {}))
            except Exception:
                logger.exception("%s.on_exception failed (the original error follows)", type(cb).__name__)


def _overrides(callback, h) -> bool:
    return overrides(callback, HOOKS[h])


_EPOCH_BEGIN, _EPOCH_END = HOOK_INDEX["on_epoch_begin"], HOOK_INDEX["on_epoch_end"]
_TRAIN_BEGIN, _TRAIN_END = HOOK_INDEX["on_train_begin"], HOOK_INDEX["on_train_end"]
_TEST_BEGIN, _TEST_END = HOOK_INDEX["on_test_begin"], HOOK_INDEX["on_test_end"]
_PREDICT_BEGIN, _PREDICT_END = HOOK_INDEX["on_predict_begin"], HOOK_INDEX["on_predict_end"]
