"""The run API both implementations share: batch counts, per-batch rates,
the NaN stop, interruption between batches, iteration bounds."""

import types

import numpy as np
import pytest

from hookfit import _core, _reference
from interrupts import ctrl_c_after

IMPLEMENTATIONS = [_core, _reference]


def _net(core, dims=(4, 3, 1), seed=0):
    net = core.Network(dims[0], list(dims[1:]), [core.ACT_RELU] * (len(dims) - 2) + [core.ACT_LINEAR],
                       [True] * (len(dims) - 1))
    net.params[:] = np.random.default_rng(seed).uniform(-0.3, 0.3, net.n_params)
    net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_RMSPROP)
    return net


def _data(core, n=100, d=4, scale=1.0, seed=1):
    rng = np.random.default_rng(seed)
    return core.Dataset(rng.random((n, d)) * scale, rng.random((n, 1)) * scale)


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_runs_return_the_batches_they_ran(core):
    net, data = _net(core), _data(core)
    assert net.train_batches(data, 0, 100, 16, 0.01) == 7
    assert net.last_run_batches == 7 and net.iterations == 7
    assert net.train_batch(data, 0, 16, 0.01) == 1
    assert net.test_batches(data, 0, 100, 30) == 4
    out = np.empty((100, 1), np.float32)
    assert net.predict_batches(data, 10, 90, 50, out) == 2
    assert net.last_run_batches == 2


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_rate_table_equals_one_call_per_batch_with_that_rate(core):
    rates = np.array([0.1, 0.01, 0.05, 0.2, 0.001, 0.03, 0.07], np.float32)
    a, b, data = _net(core), _net(core), _data(core)
    assert a.train_batches(data, 0, 100, 16, rates) == 7
    for i, s in enumerate(range(0, 100, 16)):
        b.train_batch(data, s, min(16, 100 - s), float(rates[i]))
    np.testing.assert_array_equal(a.params, b.params)
    assert a.metric_results() == b.metric_results()


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_bad_rate_tables_are_refused_before_any_step(core):
    net, data = _net(core), _data(core)
    before = net.params.copy()
    with pytest.raises(TypeError):
        net.train_batches(data, 0, 100, 16, np.full(6, 0.1, np.float32))  # 7 batches
    with pytest.raises(TypeError):
        net.train_batches(data, 0, 100, 16, np.full(7, 0.1, np.float64))
    late_nan = np.full(7, 0.1, np.float32)
    late_nan[5] = np.nan
    with pytest.raises(ValueError, match="finite"):
        net.train_batches(data, 0, 100, 16, late_nan)
    np.testing.assert_array_equal(net.params, before)
    assert net.iterations == 0


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the twin overflows on purpose
def test_a_rate_table_run_stops_at_the_batch_whose_mean_loss_overflowed(core):
    # The rates and the NaN check run inside one native call: the stop comes
    # after batch 3 (rows 48-63 overflow), each batch at its own rate, bitwise
    # as one call per batch.
    rng = np.random.default_rng(1)
    x, y = rng.random((100, 4)), rng.random((100, 1))
    x[50] = 3e38
    rates = np.array([0.1, 0.01, 0.05, 0.2, 0.001, 0.03, 0.07], np.float32)
    a, b = _net(core), _net(core)
    data = core.Dataset(x, y, check_finite=False)
    assert a.train_batches(data, 0, 100, 16, rates, stop_on_nonfinite=True) == 4
    assert a.last_run_batches == 4 and a.last_run_nonfinite and a.iterations == 4
    for i in range(4):
        b.train_batch(data, 16 * i, 16, float(rates[i]))
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the twin overflows on purpose
def test_stop_on_nonfinite_stops_after_the_batch_whose_mean_loss_overflowed(core):
    net, data = _net(core), _data(core, scale=1e19)  # squared errors overflow float32
    ran = net.train_batches(data, 0, 100, 16, 0.01, stop_on_nonfinite=True)
    assert ran == 1 and net.iterations == 1  # the batch's update was applied, as in Keras
    assert not np.isfinite(net.metric_results()[0]) and net.last_run_nonfinite
    net2 = _net(core)
    assert net2.train_batches(data, 0, 100, 16, 0.01) == 7  # without the flag, all run
    assert not net2.last_run_nonfinite
    # A run whose only batch overflows ran all it was asked: the flag tells.
    net3 = _net(core)
    assert net3.train_batches(data, 0, 16, 16, 0.01, stop_on_nonfinite=True) == 1 and net3.last_run_nonfinite
    net4 = _net(core)
    assert net4.train_batches(_data(core), 0, 16, 16, 0.01, stop_on_nonfinite=True) == 1
    assert not net4.last_run_nonfinite


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_iterations_that_would_overflow_are_refused(core):
    net, data = _net(core), _data(core)
    net.iterations = 2**63 - 3
    with pytest.raises(ValueError):
        net.train_batches(data, 0, 100, 16, 0.01)
    assert net.iterations == 2**63 - 3
    with pytest.raises((ValueError, OverflowError)):
        net.iterations = 2**63


def test_ctrl_c_interrupts_a_long_native_run_after_a_whole_batch():
    core = _core
    net = core.Network(64, [64, 1], [core.ACT_RELU, core.ACT_LINEAR], [True, True])
    net.configure(core.LOSS_MSE, [], core.OPT_SGD)
    rng = np.random.default_rng(0)
    data = core.Dataset(rng.random((4000, 64)), rng.random((4000, 1)))
    rows = 4000 * 2000  # a run far longer than the alarm below
    data.set_order(np.tile(np.arange(4000), 2000))
    with pytest.raises(KeyboardInterrupt), ctrl_c_after(0.2):
        net.train_batches(data, 0, rows, 8, 0.001)
    ran = net.last_run_batches
    assert 0 < ran < rows // 8
    assert net.iterations == ran  # whole batches only: the position stays exact


class _Stop:
    stop_training = False


class _Optimizer:
    """What train_batches_hooked reads of an optimizer: a float
    ``_learning_rate``, else ``_rate_at(iterations)`` (a schedule)."""

    def __init__(self, rate=None, schedule=None):
        self._learning_rate = rate
        self._schedule = schedule

    def _rate_at(self, iteration):
        return self._schedule(iteration)


class _Table:
    """What train_batches_hooked reads of a hook table (callback_list's
    LeanHook): its callables, its slow flag, the durations and untimed
    dispatches it holds (pending; counts: timed, untimed); and what it
    records."""

    def __init__(self, *fns, slow=False):
        self.fns, self.slow, self.records = fns, [slow], []
        self.pending, self.counts = [], [0, 0]

    def record(self, times, untimed):
        self.records.append((list(times), untimed))


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hooked_run_is_the_plain_run_with_the_hooks_between_batches(core):
    """train_batches_hooked: bitwise train_batches, each hook called at its
    batch with the running results, the sampled batches timed callback by
    callback and left in the table with the untimed count (fewer than 8
    timed dispatches: nothing recorded yet), the rate read per batch, the
    position advanced before the end hook, the network usable from a
    hook."""
    plain, hooked, data = _net(core), _net(core), _data(core)
    plain.train_batches(data, 0, 100, 16, np.array([0.01 * (1 + i) for i in range(7)], np.float32))
    calls = []
    position = types.SimpleNamespace(step=0)

    def begin(who):
        return lambda batch, logs: calls.append((who, "begin", batch, logs))

    def end(who):
        def hook(batch, logs):
            calls.append((who, "end", batch, logs, position.step, hooked.metric_results()))
            hooked.params.copy()  # the network is not busy between batches
        return hook

    begins, ends = _Table(begin("a"), begin("b")), _Table(end("a"))
    ns = hooked.train_batches_hooked(
        data, 0, 100, 16, _Optimizer(schedule=lambda it: 0.01 * (1 + it)), 20, 17, 3,
        begins, ends, ("loss", "mae"), position, _Stop(),
    )
    assert hooked.params.tobytes() == plain.params.tobytes()
    assert hooked.last_run_batches == 7 and hooked.iterations == 7 and ns >= 0
    assert [c[:3] for c in calls if c[1] == "begin"] == [(w, "begin", b) for b in range(20, 27) for w in "ab"]
    # Hook indices 20..26; (batch - 17) & 3 == 0 at 21 and 25: timed there,
    # one duration per callable; 5 batches untimed.
    for table, n in ((begins, 2), (ends, 1)):
        assert table.records == [] and len(table.pending) == 2 * n and table.counts == [0, 5]
        assert all(type(d) is int and d >= 0 for d in table.pending)
    ends_seen = [c for c in calls if c[1] == "end"]
    assert [c[4] for c in ends_seen] == list(range(1, 8))  # advanced before the end hook
    for c in ends_seen:
        assert c[3] == {"loss": c[5][0], "mae": c[5][1]}


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_slow_table_has_every_batch_timed_and_keeps_them_through_an_error(core):
    net, data = _net(core), _data(core)

    def end(batch, logs):
        if batch == 4:
            raise KeyError("from a hook")

    begins, ends = _Table(lambda batch, logs: None, slow=True), _Table(end)
    with pytest.raises(KeyError, match="from a hook"):
        net.train_batches_hooked(data, 0, 100, 16, _Optimizer(0.01), 0, 0, 7, begins, ends, ("loss", "mae"),
                                 types.SimpleNamespace(step=0), _Stop())
    # Batches 0..4 began, all timed (a slow table times both); 0..3 ended;
    # nothing untimed; what was timed stays in the tables after the error.
    assert (len(begins.pending), begins.counts, begins.records) == (5, [0, 0], [])
    assert (len(ends.pending), ends.counts, ends.records) == (4, [0, 0], [])
    assert net.last_run_batches == 5


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_table_is_handed_its_timings_every_8_timed_dispatches_across_runs(core):
    """The durations and untimed counts outlive a run: 4 runs of 8 batches,
    one timed in 4 (2 a run): the 8th timed dispatch, in the 4th run,
    hands over all 8 at once; the untimed are counted as each run ends."""
    net, data = _net(core), _data(core, n=100)
    table = _Table(lambda batch, logs: None)
    position = types.SimpleNamespace(step=0)
    for run in range(4):
        net.train_batches_hooked(data, 0, 64, 8, _Optimizer(0.01), 8 * run, 0, 3, None, table,
                                 ("loss", "mae"), position, _Stop())
        if run < 3:
            assert table.records == [] and len(table.pending) == 2 * (run + 1)
    [(times, untimed)] = table.records
    assert len(times) == 8 and untimed == 0 and table.pending == []
    assert table.counts == [0, 24] and position.step == 32


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hooked_run_stops_after_the_batch_that_asked(core):
    net, data, stop = _net(core), _data(core), _Stop()

    def end(batch, logs):
        if batch == 2:
            stop.stop_training = True

    net.train_batches_hooked(data, 0, 100, 16, _Optimizer(0.01), 0, 0, 7, None, _Table(end), ("loss", "mae"),
                             types.SimpleNamespace(step=0), stop)
    assert net.last_run_batches == 3 and net.iterations == 3


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hooked_run_refuses_a_non_finite_rate_before_that_step(core):
    from hookfit.errors import NonFiniteError

    net, data = _net(core), _data(core)
    rates = iter([0.01, float("nan")])
    with pytest.raises(NonFiniteError, match="learning rate"):
        net.train_batches_hooked(data, 0, 100, 16, _Optimizer(schedule=lambda it: next(rates)), 0, 0, 7,
                                 None, None, ("loss", "mae"), types.SimpleNamespace(step=0), _Stop())
    assert net.last_run_batches == 1 and net.iterations == 1


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hooked_run_reads_a_constant_rate_after_the_begin_hooks(core):
    """A begin hook that sets the (constant) rate changes that very step:
    bitwise the plain run with those rates per batch."""
    plain, hooked, data = _net(core), _net(core), _data(core)
    rates = np.array([0.01 * (1 + i) for i in range(7)], np.float32)
    plain.train_batches(data, 0, 100, 16, rates)
    opt = _Optimizer(0.5)

    def begin(batch, logs):
        opt._learning_rate = float(rates[batch])

    hooked.train_batches_hooked(data, 0, 100, 16, opt, 0, 0, 7, _Table(begin), None, ("loss", "mae"),
                                types.SimpleNamespace(step=0), _Stop())
    assert hooked.params.tobytes() == plain.params.tobytes()


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hooked_run_refuses_names_that_do_not_match_the_results(core):
    net, data = _net(core), _data(core)
    with pytest.raises(ValueError, match="names"):
        net.train_batches_hooked(data, 0, 100, 16, _Optimizer(0.01), 0, 0, 7, None, None, ("loss",),
                                 types.SimpleNamespace(step=0), _Stop())
    assert net.iterations == 0


@pytest.mark.parametrize("rows, batch", [(20, 16), (100, 16), (33, 32), (16, 16)])
def test_last_batch_output_after_a_run_is_its_last_batch(rows, batch):
    """After a run of several batches (the last one partial, maybe run
    alone), the compiled core's last_batch_output is the last batch's
    output, as the twin's: the workspace is read with that call's layout."""
    outs = []
    for core in IMPLEMENTATIONS:
        rng = np.random.default_rng(0)
        net = core.Network(4, [3, 2], [core.ACT_RELU, core.ACT_LINEAR], [True, True])
        net.params[:] = rng.uniform(-0.5, 0.5, net.n_params)
        net.configure(core.LOSS_MSE, [core.METRIC_MAE], core.OPT_SGD)
        data = core.Dataset(rng.random((rows, 4)), rng.random((rows, 2)))
        net.test_batches(data, 0, rows, batch)
        tested = net.last_batch_output()
        net.train_batches(data, 0, rows, batch, 0.01)
        outs.append((tested, net.last_batch_output()))
    last = rows - (rows - 1) // batch * batch
    for a, b in zip(*outs):
        assert a.shape == (last, 2)
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_a_hook_found_slow_is_timed_at_every_batch_later_in_the_same_run(core):
    # With LeanHook, 50 batches, sampling mask 3: timed dispatches at 0, 4,
    # ..., 28 are handed over at the 8th (batch 28), which judges the hook
    # slow, so every batch from 29 on is timed, within the same run.
    import time

    from hookfit.callbacks.callback_list import LeanHook
    from hookfit.callbacks.cost_details import Samples

    net, data = _net(core), _data(core, n=100)
    seen = []

    def slow(batch, logs):
        seen.append(batch)
        time.sleep(0.0005)

    samples = Samples()
    table = LeanHook([slow], [samples])
    net.train_batches_hooked(data, 0, 100, 2, _Optimizer(0.01), 0, 0, 3, None, table, ("loss", "mae"),
                             types.SimpleNamespace(step=0), _Stop())
    assert seen == list(range(50)) and table.slow[0]
    # 0, 4, ..., 28, then 29..44 handed over by eights; 45..49 pending.
    assert len(samples.data) == 8 + 16 and len(table.pending) == 5
    (ns,), dispatches = table.drain()  # (records what is pending first)
    assert len(samples.data) == 8 + 21 and table.pending == [] and table.counts == [0, 0]
    assert dispatches == 50 and ns >= 50 * 500_000


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_hooked_test_and_predict_runs_are_the_plain_runs_with_the_hooks_between_batches(core):
    """test_batches_hooked and predict_batches_hooked: the results and
    outputs of test_batches and predict_batches, each end hook given the
    running values (test) or its batch's rows of the output (predict)."""
    net, data = _net(core), _data(core)
    net.test_batches(data, 0, 100, 16)
    want_results = net.metric_results()
    want_out = np.zeros((100, 1), np.float32)
    net.predict_batches(data, 0, 100, 16, want_out)
    net.reset_metrics()
    seen = []

    def end(batch, logs):
        seen.append((batch, {k: np.array(v, copy=True) for k, v in logs.items()}, net.metric_results()))

    begins, ends = _Table(lambda batch, logs: seen.append((batch, logs))), _Table(end)
    assert net.test_batches_hooked(data, 0, 100, 16, 3, 0, 7, begins, ends, ("loss", "mae")) >= 0
    assert net.metric_results() == want_results and net.last_run_batches == 7
    assert [s[0] for s in seen] == [b for b in range(3, 10) for _ in (0, 1)]
    for batch, logs, results in seen[1::2]:
        assert {k: float(v) for k, v in logs.items()} == {"loss": results[0], "mae": results[1]}
    seen.clear()
    out = np.zeros((100, 1), np.float32)
    net.predict_batches_hooked(data, 0, 100, 16, out, 0, 0, 7, None, ends)
    assert out.tobytes() == want_out.tobytes() and net.last_run_batches == 7
    assert [s[1]["outputs"].tobytes() for s in seen] == [want_out[s:s + 16].tobytes() for s in range(0, 100, 16)]
    with pytest.raises(ValueError, match="names"):
        net.test_batches_hooked(data, 0, 100, 16, 0, 0, 7, None, None, ("loss",))
    with pytest.raises((TypeError, ValueError)):
        net.predict_batches_hooked(data, 0, 100, 16, np.zeros((100, 2), np.float32), 0, 0, 7, None, None)


@pytest.mark.parametrize("core", IMPLEMENTATIONS, ids=["compiled", "reference"])
def test_configure_refuses_a_loss_and_metrics_that_disagree_on_the_width_of_y(core):
    net = _net(core, dims=(4, 3))
    with pytest.raises(core.ShapeError, match="width of y"):
        net.configure(core.LOSS_MSE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD)
    with pytest.raises(core.ShapeError, match="width of y"):
        net.configure(core.LOSS_SCCE, [core.METRIC_MAE], core.OPT_SGD)
    net.configure(core.LOSS_SCCE, [core.METRIC_SPARSE_CATEGORICAL_ACCURACY], core.OPT_SGD)  # both one column
