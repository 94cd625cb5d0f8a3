"""``CallbackList``: Keras 2's container, with dispatch tables and costs.

Design
------
a) Order is Keras 2's: the user's callbacks, then ``History``, then
   ``ProgbarLogger``. One hook call hands the same ``logs`` dict to every
   callback; begin hooks get ``{}``.
b) For every hook, a table of the bound methods of the callbacks that
   override it is built once (and again after ``set_params``/``append``).
   A hook nobody overrides is never called. Batch hooks of a mode are
   dispatched only when some callback's ``_implements_<mode>_batch_hooks()``
   says so (Keras 2's flag); then every callback overriding the hook is
   called (the base class forwards ``on_train_batch_*`` to the
   ``on_batch_*`` aliases, so overriding an alias counts).
c) Every call is timed with ``perf_counter_ns``: one clock read per call
   plus one per dispatch (a call's end reading starts the next call). Totals
   per (callback, hook) are kept in ``CallbackCosts``; the loop adds the time
   spent in its batch loops (``history.callback_costs`` shows both).
d) Callbacks that must act after every other callback has seen a hook
   (BackupAndRestore) define ``_after_train_begin(callbacks)``,
   ``_after_epoch_end(epoch, callbacks)`` or ``_after_train_batch_end(batch,
   callbacks)``; these run at the end of that hook's dispatch.
e) The slow-callback warning follows Keras 2's rule exactly (armed only when
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

from hookfit.callbacks.callback import Callback, is_default
from hookfit.callbacks.history import History
from hookfit.callbacks.progbar_logger import ProgbarLogger

logger = logging.getLogger("hookfit")

HOOKS = (
    "on_train_begin",
    "on_train_end",
    "on_epoch_begin",
    "on_epoch_end",
    "on_train_batch_begin",
    "on_train_batch_end",
    "on_test_begin",
    "on_test_end",
    "on_test_batch_begin",
    "on_test_batch_end",
    "on_predict_begin",
    "on_predict_end",
    "on_predict_batch_begin",
    "on_predict_batch_end",
)
_INDEX = {h: i for i, h in enumerate(HOOKS)}
# Overriding an alias makes the base's on_train_batch_* hook do work.
_ALIASES = {"on_train_batch_begin": "on_batch_begin", "on_train_batch_end": "on_batch_end"}
_MODE_OF = {
    "on_train_batch_begin": "train",
    "on_train_batch_end": "train",
    "on_test_batch_begin": "test",
    "on_test_batch_end": "test",
    "on_predict_batch_begin": "predict",
    "on_predict_batch_end": "predict",
}
_MODES = tuple(_MODE_OF.get(h) for h in HOOKS)
_TRAIN_BEGIN, _TRAIN_END = _INDEX["on_train_batch_begin"], _INDEX["on_train_batch_end"]
_TEST_BEGIN, _TEST_END = _INDEX["on_test_batch_begin"], _INDEX["on_test_batch_end"]
_PREDICT_BEGIN, _PREDICT_END = _INDEX["on_predict_batch_begin"], _INDEX["on_predict_batch_end"]
_BATCH_HOOKS = {
    "train": (_TRAIN_BEGIN, _TRAIN_END),
    "test": (_TEST_BEGIN, _TEST_END),
    "predict": (_PREDICT_BEGIN, _PREDICT_END),
}
_TIMING_WINDOW = 5  # batch times before the one check (Keras 2)
# Calls made after a whole dispatch, for callbacks that need every other
# callback to have seen the hook first (BackupAndRestore): hook -> method.
_AFTER = {
    "on_train_begin": "_after_train_begin",
    "on_epoch_end": "_after_epoch_end",
    "on_train_batch_end": "_after_train_batch_end",
}

_clock = time.perf_counter_ns


def overrides(callback, hook: str) -> bool:
    """True if ``callback`` does real work in ``hook``."""
    if not is_default(getattr(callback, hook)):
        return True
    alias = _ALIASES.get(hook)
    return alias is not None and not is_default(getattr(callback, alias))


_HOOK_NAMES = frozenset(HOOKS) | frozenset(_ALIASES.values()) | frozenset(_AFTER.values())
_PREDICATES = (
    "_implements_train_batch_hooks",
    "_implements_test_batch_hooks",
    "_implements_predict_batch_hooks",
)
_MODE_NAMES = ("train", "test", "predict")


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
        (_INDEX[hook], name) for hook, name in _AFTER.items() if getattr(callback, name, None)
    )
    cls = type(callback)
    flags = None
    if all(getattr(cls, p) is getattr(Callback, p) for p in _PREDICATES):
        flags = tuple(any(_MODES[h] == mode for h in hooks) for mode in _MODE_NAMES)
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


def _after_dispatch(after, hook, callbacks):
    """Adapt ``after(..., callbacks)`` to the hook's signature, to run last."""
    if hook == "on_train_begin":
        return lambda logs: after(callbacks)
    return lambda index, logs: after(index, callbacks)


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


_NO_NS: list = []  # shared by hooks without members (never written)


class CallbackCosts:
    """Calls and total time per (callback, hook) for one CallbackList.

    The dispatch loop adds nanoseconds into one small list per hook;
    ``rows()`` folds them into the running totals and reports them.
    """

    def __init__(self):
        self.names: list[str] = []
        self._totals: dict = {}  # (callback index, hook) -> [calls, ns]
        self._members = [()] * len(HOOKS)  # callback indices in each hook's table
        self._ns = [_NO_NS] * len(HOOKS)  # per hook: ns per member since last fold
        self._dispatches = [0] * len(HOOKS)  # per hook: dispatches since last fold
        self._sources = []  # (hook, drain) of the loop's lean dispatch closures
        self.step_ns = 0  # time in the batch loops outside callbacks

    def _set_names(self, callbacks):
        seen: dict = {}
        names = []
        for cb in callbacks:
            base = type(cb).__name__
            seen[base] = seen.get(base, 0) + 1
            names.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
        self.names = names

    def _fold(self):
        if not self._sources and not any(self._dispatches):
            return
        for h, drain in self._sources:
            ns, calls = drain()
            acc = self._ns[h]
            for k, v in enumerate(ns):
                acc[k] += v
            self._dispatches[h] += calls
        for h, calls in enumerate(self._dispatches):
            if not calls:  # nothing was timed for this hook since the last fold
                continue
            ns = self._ns[h]
            for k, cb_index in enumerate(self._members[h]):
                entry = self._totals.setdefault((cb_index, HOOKS[h]), [0, 0])
                entry[0] += calls
                entry[1] += ns[k]
                ns[k] = 0
            self._dispatches[h] = 0

    def _install(self, members_per_hook):
        """New tables (after folding what was counted under the old ones)."""
        if self._sources or any(self._dispatches):
            self._fold()
        self._sources = []
        self._members = [tuple(m) if m else () for m in members_per_hook]
        self._ns = [[0] * len(m) if m else _NO_NS for m in members_per_hook]

    def total_ns(self) -> int:
        self._fold()
        return sum(ns for _, ns in self._totals.values())

    def start_steps(self, hooks_inside: bool = True):
        """Token for ``stop_steps``: the clock and, when batch hooks run
        inside the loop, the hooks' time so far (folding the counters costs
        microseconds, so a loop without hooks skips it)."""
        return _clock(), (self.total_ns() if hooks_inside else None)

    def stop_steps(self, token) -> None:
        """Add the loop's time since ``token``, minus the hooks' share, to step time."""
        start, hooks = token
        elapsed = _clock() - start
        if hooks is not None:
            elapsed -= self.total_ns() - hooks
        self.step_ns += elapsed

    @property
    def step_seconds(self) -> float:
        return self.step_ns * 1e-9

    def rows(self) -> list[dict]:
        """One dict per (callback, hook) that was called: ``callback``,
        ``hook``, ``calls``, ``seconds`` (total), most expensive first."""
        self._fold()
        rows = [
            {"callback": self.names[i], "hook": hook, "calls": calls, "seconds": ns * 1e-9}
            for (i, hook), (calls, ns) in self._totals.items()
        ]
        rows.sort(key=lambda r: (-r["seconds"], r["callback"], r["hook"]))
        return rows

    def seconds(self, callback_index: int, hook: str) -> float:
        self._fold()
        return self._totals.get((callback_index, hook), [0, 0])[1] * 1e-9


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
        self.costs._set_names(callbacks)
        profiles = [profile(c) for c in callbacks]
        flags = [False, False, False]
        for cb, p in zip(callbacks, profiles):
            for k in range(3):
                if not flags[k]:
                    flags[k] = p.flags[k] if p.flags is not None else getattr(cb, _PREDICATES[k])()
        self._flags = flags = dict(zip(_MODE_NAMES, flags))
        members: list = [None] * len(HOOKS)
        fns: list = [None] * len(HOOKS)

        def add(h, i, fn):
            if members[h] is None:
                members[h], fns[h] = [], []
            members[h].append(i)
            fns[h].append(fn)

        for i, (cb, p) in enumerate(zip(callbacks, profiles)):
            for h in p.hooks:
                mode = _MODES[h]
                if mode is None or flags[mode]:
                    add(h, i, getattr(cb, HOOKS[h]))
        # After-dispatch calls go last in their hook's table.
        for i, (cb, p) in enumerate(zip(callbacks, profiles)):
            for h, name in p.after:
                mode = _MODES[h]
                if mode is None or flags[mode]:
                    add(h, i, _after_dispatch(getattr(cb, name), HOOKS[h], callbacks))
        self.costs._install(members)  # folds what the old tables counted
        self._fns = [tuple(f) if f else () for f in fns]
        self._lean_cache = {}
        self._refresh_fast()

    def _refresh_fast(self):
        """Lean closures behind the public batch methods once no timing
        check is pending (None: use the general, timed path)."""
        self._fast = fast = [None] * len(HOOKS)
        if self._timing:
            return
        for mode, (hb, he) in _BATCH_HOOKS.items():
            if self._flags[mode]:
                fast[hb], fast[he] = self._lean(hb), self._lean(he)

    def implements(self, hook: str) -> bool:
        """True if calling ``hook`` would call at least one callback."""
        return bool(self._fns[_INDEX[hook]])

    # -- dispatch --------------------------------------------------------------

    def _call(self, h, *args):
        """Call hook ``h`` on its table; returns (start, end) clock readings."""
        fns = self._fns[h]
        acc = self.costs._ns[h]
        t = start = _clock()
        k = 0
        for fn in fns:
            fn(*args)
            now = _clock()
            acc[k] += now - t
            t = now
            k += 1
        self.costs._dispatches[h] += 1
        return start, t

    def _call_plain(self, hook, *args):
        h = _INDEX[hook]
        if self._fns[h]:
            self._call(h, *args)

    def _batch_begin(self, mode, batch, logs):
        if not self._flags[mode]:
            return
        h, _ = _BATCH_HOOKS[mode]
        start, end = self._call(h, batch, {} if logs is None else logs)
        if self._timing:
            self._hook_times.setdefault(h, []).append(end - start)
            self._batch_start = end

    def _batch_end(self, mode, batch, logs):
        if not self._flags[mode]:
            return
        _, h = _BATCH_HOOKS[mode]
        if self._timing and batch >= 1:
            self._batch_times.append(_clock() - self._batch_start)
        start, end = self._call(h, batch, {} if logs is None else logs)
        if self._timing:
            self._hook_times.setdefault(h, []).append(end - start)
            if len(self._batch_times) >= _TIMING_WINDOW:
                self._check_slow(mode)

    def batch_hooks(self, mode: str):
        """For the loop: ``(begin, end, logs_needed)``; ``begin``/``end`` are
        callables ``f(batch, logs)`` or None when nothing is to be called.

        While the slow-callback check is armed they are the timed public
        methods; otherwise lean closures over the dispatch tables.
        """
        if not self._flags[mode]:
            return None, None, False
        hb, he = _BATCH_HOOKS[mode]
        logs_needed = bool(self._fns[he])
        if self._timing:
            return (
                getattr(self, f"on_{mode}_batch_begin"),
                getattr(self, f"on_{mode}_batch_end"),
                logs_needed,
            )
        return self._lean(hb), self._lean(he), logs_needed

    def _lean(self, h):
        """A closure calling hook ``h``'s table, timing each call.

        Its counters are closure variables (the cheapest to update); the
        cost table reads and clears them when it folds.
        """
        call = self._lean_cache.get(h)
        if call is not None or not self._fns[h]:
            return call
        fns = self._fns[h]
        clock = _clock
        if len(fns) == 1:
            (fn,) = fns
            ns = calls = 0

            def call(batch, logs):
                nonlocal ns, calls
                t = clock()
                fn(batch, logs)
                ns += clock() - t
                calls += 1

            def drain():
                nonlocal ns, calls
                out = ([ns], calls)
                ns = calls = 0
                return out

        else:
            acc = [0] * len(fns)
            calls = 0

            def call(batch, logs):
                nonlocal calls
                t = clock()
                k = 0
                for fn in fns:
                    fn(batch, logs)
                    now = clock()
                    acc[k] += now - t
                    t = now
                    k += 1
                calls += 1

            def drain():
                nonlocal calls
                out = (acc[:], calls)
                acc[:] = [0] * len(acc)
                calls = 0
                return out

        self.costs._sources.append((h, drain))
        self._lean_cache[h] = call
        return call

    def _check_slow(self, mode):
        """Keras 2's one-shot comparison, then disarm for this list's life."""
        batch_time = sum(self._batch_times) / len(self._batch_times) * 1e-9
        for h in _BATCH_HOOKS[mode]:
            hook = HOOKS[h]
            times = self._hook_times.get(h)
            if not times:
                continue
            hook_time = sum(times) / len(times) * 1e-9
            if hook_time > 1.0 * batch_time:
                logger.warning(
                    "Callback method `%s` is slow compared to the batch time "
                    "(batch time: %.4fs vs `%s` time: %.4fs). Check your callbacks.%s",
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
        h = _INDEX[hook]
        members = self.costs._members[h]
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
        fast = self._fast[_TRAIN_BEGIN]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_begin("train", batch, logs)

    def on_batch_end(self, batch, logs=None):
        fast = self._fast[_TRAIN_END]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_end("train", batch, logs)

    def on_train_batch_begin(self, batch, logs=None):
        fast = self._fast[_TRAIN_BEGIN]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_begin("train", batch, logs)

    def on_train_batch_end(self, batch, logs=None):
        fast = self._fast[_TRAIN_END]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_end("train", batch, logs)

    def on_test_batch_begin(self, batch, logs=None):
        fast = self._fast[_TEST_BEGIN]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_begin("test", batch, logs)

    def on_test_batch_end(self, batch, logs=None):
        fast = self._fast[_TEST_END]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_end("test", batch, logs)

    def on_predict_batch_begin(self, batch, logs=None):
        fast = self._fast[_PREDICT_BEGIN]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_begin("predict", batch, logs)

    def on_predict_batch_end(self, batch, logs=None):
        fast = self._fast[_PREDICT_END]
        if fast is not None:
            fast(batch, {} if logs is None else logs)
        else:
            self._batch_end("predict", batch, logs)

    def on_epoch_begin(self, epoch, logs=None):
        self._call_plain("on_epoch_begin", epoch, {} if logs is None else logs)

    def on_epoch_end(self, epoch, logs=None):
        self._call_plain("on_epoch_end", epoch, {} if logs is None else logs)

    def on_train_begin(self, logs=None):
        self._call_plain("on_train_begin", {} if logs is None else logs)

    def on_train_end(self, logs=None):
        self._call_plain("on_train_end", {} if logs is None else logs)

    def on_test_begin(self, logs=None):
        self._call_plain("on_test_begin", {} if logs is None else logs)

    def on_test_end(self, logs=None):
        self._call_plain("on_test_end", {} if logs is None else logs)

    def on_predict_begin(self, logs=None):
        self._call_plain("on_predict_begin", {} if logs is None else logs)

    def on_predict_end(self, logs=None):
        self._call_plain("on_predict_end", {} if logs is None else logs)
